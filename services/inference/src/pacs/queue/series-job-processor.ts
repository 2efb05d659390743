import { DelayedError, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import { isLvsegError } from '@lvseg/common';
import type { PacsClient, SeriesRef } from '../client/pacs-client';
import type { PacsJobResult } from '../jobs/pacs-job';
import { isPermanent } from '../util/retry';
import type { SeriesJobData } from './series-job-queue';

/** What a worker needs of a queued job (a BullMQ Job has all of it). */
export interface QueuedSeriesJob {
  id?: string;
  data: SeriesJobData;
  /** When it was queued (ms since epoch). */
  timestamp: number;
  /** Failed runs so far. */
  attemptsMade: number;
  updateProgress(progress: number): Promise<void>;
  moveToDelayed(timestamp: number, token?: string): Promise<void>;
}

/** The series pipeline for one model version (SeriesSegmentationService of an app pinned to that version). */
export interface SeriesSegmenter {
  process(ref: SeriesRef, jobId: string): Promise<PacsJobResult>;
}

export interface SeriesJobProcessorTiming {
  /** First and largest wait before looking again at a series that is not complete yet. */
  seriesPollMs: [number, number];
  /** A series that never becomes complete is segmented as it is after this long. */
  maxSeriesWaitMs: number;
  /** A series the PACS does not hold (deleted?) is skipped after this long. */
  missingSeriesMs: number;
  /** Runs for undecodable or unsupported content (in case the retrieve was garbled), then the job is dead with the reason. */
  permanentAttempts: number;
}

export const DEFAULT_PROCESSOR_TIMING: SeriesJobProcessorTiming = { seriesPollMs: [2000, 30_000], maxSeriesWaitMs: 30 * 60_000, missingSeriesMs: 60_000, permanentAttempts: 3 };

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * One queued series in a worker: is it MR and complete (else skip, or wait in BullMQ's delayed set without holding
 * the worker), then the pipeline of its model version. Errors are thrown as `CODE: message` so the dead job says why;
 * undecodable content fails for good after `permanentAttempts` runs, everything else is retried by BullMQ with backoff.
 * No two SEGs: the SEG's UIDs derive from the series and the version, and the pipeline skips a series whose SEG and SR
 * the PACS already holds, so a job run twice (its worker died after storing) stores nothing new.
 */
export class SeriesJobProcessor {
  constructor(
    private readonly pacs: Pick<PacsClient, 'seriesStatus'>,
    private readonly segmenterFor: (modelVersion: string) => Promise<{ segmenter: SeriesSegmenter; release(): void }>,
    private readonly timing: SeriesJobProcessorTiming,
    private readonly log: Logger,
  ) {}

  async run(job: QueuedSeriesJob, token?: string): Promise<PacsJobResult> {
    const started = performance.now();
    const cpuStarted = cpuMs();
    const data = job.data;
    const jobId = String(job.id);
    const ref: SeriesRef = { studyInstanceUid: data.studyInstanceUid, seriesInstanceUid: data.seriesInstanceUid };
    const notMr = (modality: string): PacsJobResult => ({ outcome: 'skipped', modelVersion: data.modelVersion, reason: { code: 'NOT_MR', message: `the series modality is ${modality}, not MR: lvseg segments cardiac MR only` } });
    this.log.info({ event: 'queue.job_active', jobId, pid: process.pid, attempt: job.attemptsMade + 1 }, `job ${jobId} started`);
    try {
      if (data.modality && data.modality !== 'MR') return this.finished(jobId, notMr(data.modality), started, cpuStarted);
      const status = await this.pacs.seriesStatus(ref);
      if (status.modality && status.modality !== 'MR') return this.finished(jobId, notMr(status.modality), started, cpuStarted);
      const age = Date.now() - job.timestamp;
      if (!status.exists) {
        if (age > this.timing.missingSeriesMs) return this.finished(jobId, { outcome: 'skipped', modelVersion: data.modelVersion, reason: { code: 'SERIES_NOT_FOUND', message: 'the PACS does not hold the series (deleted?)' } }, started, cpuStarted);
        return await this.later(job, token, age);
      }
      if (!status.complete) {
        if (age < this.timing.maxSeriesWaitMs) return await this.later(job, token, age);
        this.log.warn({ event: 'pacs.series_never_stable', jobId }, `job ${jobId}: the series did not become complete; processing it as it is`);
      }
      await job.updateProgress(10);
      const lane = await this.segmenterFor(data.modelVersion);
      try {
        await job.updateProgress(30);
        this.log.info({ event: 'queue.job_segmenting', jobId, pid: process.pid, modelVersion: data.modelVersion }, `job ${jobId}: retrieving and segmenting the series`);
        const result = await lane.segmenter.process(ref, jobId);
        if (result.modelVersion !== undefined && result.modelVersion !== data.modelVersion) {
          // Cannot happen with lanes pinned to a version id; never report another version's SEG as this job's.
          throw new Error(`MODEL_VERSION_MISMATCH: the pipeline ran model ${result.modelVersion}, the job is for ${data.modelVersion}`);
        }
        await job.updateProgress(100);
        return this.finished(jobId, result, started, cpuStarted);
      } finally {
        lane.release();
      }
    } catch (e) {
      throw this.failure(e, job);
    }
  }

  /** Not complete yet: back to BullMQ's delayed set (no attempt used, no worker held), looked at again later. */
  private async later(job: QueuedSeriesJob, token: string | undefined, ageMs: number): Promise<never> {
    const [first, max] = this.timing.seriesPollMs;
    const wait = Math.min(max, Math.max(first, Math.round(ageMs / 4)));
    await job.moveToDelayed(Date.now() + wait, token);
    throw new DelayedError();
  }

  private finished(jobId: string, result: PacsJobResult, started: number, cpuStarted: number): PacsJobResult {
    const ms = Math.round(performance.now() - started);
    const cpu = Math.round(cpuMs() - cpuStarted);
    this.log.info(
      { event: 'queue.job_finished', jobId, pid: process.pid, outcome: result.outcome, ...(result.reason ? { reason: result.reason.code } : {}), images: result.images?.length ?? 0, ms, cpuMs: cpu },
      `job ${jobId} ${result.outcome}${result.reason ? ` (${result.reason.code})` : ''} in ${ms} ms`,
    );
    return result;
  }

  /** The error BullMQ records: `CODE: message` (no patient attribute: lvseg's messages name none), final for content that will not change. */
  private failure(e: unknown, job: QueuedSeriesJob): Error {
    if (e instanceof DelayedError || e instanceof UnrecoverableError) return e;
    const jobId = String(job.id);
    if (isLvsegError(e)) {
      const final = isPermanent(e) && job.attemptsMade + 1 >= this.timing.permanentAttempts;
      this.log.warn({ event: 'queue.job_error', jobId, code: e.code, attempt: job.attemptsMade + 1, final }, `job ${jobId}: ${e.code}: ${e.message}`);
      return final ? new UnrecoverableError(`${e.code}: ${e.message}`) : new Error(`${e.code}: ${e.message}`);
    }
    const message = e instanceof Error && /^[A-Z][A-Z0-9_]+: /.test(e.message) ? e.message : 'UNEXPECTED: unexpected error (logged)';
    this.log.error({ event: 'queue.job_error', jobId, attempt: job.attemptsMade + 1, err: e }, `job ${jobId}: ${message}`);
    return new Error(message);
  }
}
