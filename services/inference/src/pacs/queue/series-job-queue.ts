import type { SeriesRef } from '../client/pacs-client';
import type { PacsJobState, PacsJobView } from '../jobs/pacs-job';
import type { PacsTriggerSource } from '../state/pacs-state-store';

/** Injection token of the SeriesJobQueue the webhook, the change-feed follower and GET /jobs use. */
export const SERIES_JOB_QUEUE = Symbol('SERIES_JOB_QUEUE');

/** How a series reached the queue (the PACS bridge's triggers, or `lvseg backfill`). */
export type SeriesJobSource = PacsTriggerSource | 'backfill';

export interface SeriesJobTrigger {
  source: SeriesJobSource;
  eventId?: string;
  /** Modality from the PACS or the webhook, when known (a non-MR series is skipped without a fetch). */
  modality?: string;
}

export interface SeriesJobSubmitted {
  job: PacsJobView;
  /** True when the series (for this model version) already had a job: nothing new was queued. */
  joined: boolean;
}

/** Jobs by state, as GET /jobs and /metrics report them. */
export interface SeriesQueueCounts {
  /** Waiting for a worker (BullMQ wait + prioritized; in-process: waiting for the series or a slot). */
  waiting: number;
  active: number;
  /** Waiting for a retry after a failed run, or for the series to be complete. */
  delayed: number;
  completed: number;
  /** Dead: out of attempts or not retryable; the reason is on the job. */
  failed: number;
}

export interface SeriesQueueSummary {
  /** `in-process`: this pod segments (no Redis); `redis`: BullMQ on Redis, workers segment. */
  mode: 'in-process' | 'redis';
  counts: SeriesQueueCounts;
  /** Redis mode: the queue's name and the global rate limit its workers apply. */
  queue?: { name: string; rateLimit: { max: number; durationMs: number }; attempts: number };
}

/**
 * Where the PACS bridge puts series to segment. Two implementations: in-process (PacsJobsService: this pod segments,
 * the single-machine default) and BullMQ on Redis (durable, one job per series and model version, any number of
 * `lvseg worker` processes segment).
 */
export interface SeriesJobQueue {
  readonly mode: SeriesQueueSummary['mode'];
  /** Queues the series (idempotent: a series already queued for the model version joins its job). */
  submit(ref: SeriesRef, trigger: SeriesJobTrigger): Promise<SeriesJobSubmitted>;
  /** True when the series needs no job (already segmented with the served model, as far as this queue knows). */
  alreadyDone(seriesInstanceUid: string): boolean;
  /** Restarts series whose retry time has come; a no-op where the queue retries by itself. */
  retryDue(): number;
  get(id: string): Promise<PacsJobView>;
  list(filter: { study?: string; series?: string; limit?: number }): Promise<PacsJobView[]>;
  summary(): Promise<SeriesQueueSummary>;
}

/** What a queued job carries (BullMQ job data): the series, the exact model version, and how it came. */
export interface SeriesJobData extends SeriesRef {
  modelVersion: string;
  source: SeriesJobSource;
  eventId?: string;
  modality?: string;
  /** ISO 8601, when first queued. */
  queuedAt: string;
}

/**
 * The job id of a series and model version: the same pair always gives the same id, so queueing it again (a second
 * webhook, the change feed, a resumed backfill) is a no-op while the job is kept. BullMQ ids must not contain ':'.
 */
export function seriesJobId(seriesInstanceUid: string, modelVersion: string): string {
  if (seriesInstanceUid.includes(':') || modelVersion.includes(':')) throw new Error('series UID and model version never contain ":"');
  return `${seriesInstanceUid}@${modelVersion}`;
}

/** Job states of the in-process runner, mapped to the queue counts. */
export function countsOfStates(states: PacsJobState[]): SeriesQueueCounts {
  const counts: SeriesQueueCounts = { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 };
  for (const s of states) {
    if (s === 'waiting-for-series' || s === 'queued') counts.waiting++;
    else if (s === 'running') counts.active++;
    else if (s === 'retrying') counts.delayed++;
    else if (s === 'done' || s === 'skipped') counts.completed++;
    else counts.failed++;
  }
  return counts;
}
