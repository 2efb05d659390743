import type { SeriesRef } from '../client/pacs-client';
import type { ReportedLvFunction } from '@lvseg/dicom';
import type { PacsTriggerSource } from '../state/pacs-state-store';

export type PacsJobState = 'waiting-for-series' | 'queued' | 'running' | 'retrying' | 'done' | 'skipped' | 'failed';

export interface PacsJobTrigger {
  /** 'backfill': queued by `lvseg backfill` (Redis queue only). */
  source: PacsTriggerSource | 'backfill';
  /** The webhook event id, when a webhook triggered it. */
  eventId?: string;
  at: string;
}

/** LV area of one source image (as POST /segment reports it). */
export interface PacsImageResult {
  sopInstanceUid: string;
  instanceNumber?: number;
  lvArea: { pixels: number; mm2: number | null; reason?: string };
}

/**
 * The series' LV function as lvseg's SR states it (volumes mL and EF % to 0.01; method, spacing source and notes),
 * with the SR's UIDs; or why there is none (no SR is stored then, and the job is still done), e.g. LV_SINGLE_PHASE.
 */
export type PacsLvFunctionResult =
  | ({ computed: true; sr: { seriesInstanceUid: string; sopInstanceUid: string } } & ReportedLvFunction)
  | { computed: false; reason: { code: string; message: string } };

export interface PacsJobResult {
  outcome: 'segmented' | 'skipped';
  /** Why nothing was written (outcome 'skipped'). */
  reason?: { code: string; message: string };
  modelVersion?: string;
  seg?: {
    studyInstanceUid: string;
    seriesInstanceUid: string;
    sopInstanceUid: string;
    frames: number;
    /** Only when every source shares one (a SEG has a single Frame of Reference). */
    frameOfReferenceUid?: string;
    /** Dimension Index labels: segment, position (ImagePositionPatient, or InStackPositionNumber without a shared Frame of Reference), and the cardiac phase (TemporalPositionIndex) of a cine series. */
    dimensions: string[];
    /** LossyImageCompression 01: the SEG was made from lossy compressed pixels. */
    lossyImageCompression: boolean;
  };
  images?: PacsImageResult[];
  /** EDV, ESV, SV, EF of the series (outcome 'segmented'). */
  function?: PacsLvFunctionResult;
  /** Images of the series that could not be segmented (and are not in the SEG). */
  skippedImages?: Array<{ sopInstanceUid?: string; code: string; message: string }>;
  warnings?: string[];
  /** Milliseconds per stage. */
  timings?: Record<string, number>;
}

/** What GET /jobs/:id answers. */
export interface PacsJobView {
  id: string;
  state: PacsJobState;
  series: SeriesRef;
  triggers: PacsJobTrigger[];
  createdAt: string;
  updatedAt: string;
  /** Runs of the pipeline so far (transient errors are retried with backoff). */
  attempts: number;
  error?: { code: string; message: string; retryable: boolean; nextAttemptAt?: string };
  result?: PacsJobResult;
  /** Redis queue mode only: the job's model version, progress (0–100), worker, and times its worker died under it. */
  queue?: { modelVersion: string; progress: number; worker?: string; stalls: number };
}
