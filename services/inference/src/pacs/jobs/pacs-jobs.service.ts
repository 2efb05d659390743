import { randomUUID } from 'node:crypto';
import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { LvsegError, isLvsegError } from '@lvseg/common';
import type { PacsConfig } from '@lvseg/config';
import { APP_LOGGER } from '../../tokens';
import { ModelRegistry } from '../../models/model-registry.service';
import type { PacsClient, SeriesRef } from '../client/pacs-client';
import { PACS_CLIENT, PACS_CONFIG, PACS_STATE, PACS_TIMING } from '../pacs.tokens';
import { PacsMetrics } from '../pacs-metrics';
import { SeriesSegmentationService } from '../series/series-segmentation.service';
import type { PacsStateStore, PacsTriggerSource } from '../state/pacs-state-store';
import { Semaphore, backoffMs, isPermanent, isTransient, sleep } from '../util/retry';
import type { PacsJobResult, PacsJobState, PacsJobTrigger, PacsJobView } from './pacs-job';

/** Timing knobs of the job runner (defaults for production; tests may shorten them). */
export interface PacsTiming {
  /** First and largest wait between checks that a series is complete. */
  seriesPollMs: [number, number];
  /** A series that never becomes complete is processed anyway after this long. */
  maxSeriesWaitMs: number;
  /** Pipeline attempts within one job for transient errors, and their backoff. */
  attempts: number;
  /**
   * Pipeline attempts within one job for permanent errors (undecodable or unsupported content): a few, in case the
   * retrieve was garbled on the way; then the job fails for good with the reason and the series is not retried.
   */
  permanentAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** A failed job's series is tried again (by the change-feed follower's tick) after this long, doubling per failed run… */
  failedRetryAfterMs: number;
  /** …up to this long. */
  failedRetryMaxMs: number;
  /** Finished jobs kept (on disk, in the state folder) for GET /jobs/:id and GET /jobs?study=&series=. */
  keepFinishedJobs: number;
  /** GET /health/ready asks the PACS at most this often… */
  readinessCacheMs: number;
  /** …and waits at most this long for its answer (below the probe's timeout). */
  readinessTimeoutMs: number;
}

export const DEFAULT_PACS_TIMING: PacsTiming = {
  seriesPollMs: [500, 5000],
  maxSeriesWaitMs: 30 * 60_000,
  attempts: 5,
  permanentAttempts: 3,
  retryBaseMs: 1000,
  retryMaxMs: 30_000,
  failedRetryAfterMs: 5 * 60_000,
  failedRetryMaxMs: 60 * 60_000,
  keepFinishedJobs: 2000,
  readinessCacheMs: 5000,
  readinessTimeoutMs: 2000,
};

interface Job extends PacsJobView {
  done: Promise<void>;
}

const FINISHED: PacsJobState[] = ['done', 'skipped', 'failed'];

/**
 * Runs PACS jobs: one job per series at a time (triggers for a series already waiting or running join its job), at
 * most PACS_CONCURRENCY series in the pipeline at once. A job waits until the PACS says the series is complete
 * (a series arrives image by image), then runs the pipeline, retrying transient errors with backoff. Every series
 * is recorded as pending in the state store before its job starts and removed only when done or skipped, so a
 * restart resumes whatever was promised.
 */
@Injectable()
export class PacsJobsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly jobs = new Map<string, Job>();
  private readonly activeBySeries = new Map<string, Job>();
  private readonly slots: Semaphore;
  private readonly stop = new AbortController();

  constructor(
    @Inject(PACS_CONFIG) config: PacsConfig,
    @Inject(PACS_CLIENT) private readonly pacs: PacsClient,
    @Inject(PACS_STATE) private readonly state: PacsStateStore,
    @Inject(PACS_TIMING) private readonly timing: PacsTiming,
    private readonly pipeline: SeriesSegmentationService,
    private readonly registry: ModelRegistry,
    private readonly metrics: PacsMetrics,
    @Inject(APP_LOGGER) private readonly log: Logger,
  ) {
    this.slots = new Semaphore(config.concurrency);
    // Job records survive restarts. One that was not finished when the process ended (a kill, a crash) ended there:
    // its series is still pending and gets a new job.
    const records = this.state.jobRecords().sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    for (const record of records) {
      const job: Job = { ...record, done: Promise.resolve() };
      if (!FINISHED.includes(job.state)) {
        job.error = { code: 'INTERRUPTED', message: 'the service stopped while this job ran; its series is resumed by a new job', retryable: true };
        job.state = 'failed';
        this.state.saveJobRecord(this.view(job));
      }
      this.jobs.set(job.id, job);
    }
  }

  onApplicationBootstrap(): void {
    const pending = this.state.pending();
    if (pending.length > 0) this.log.info({ event: 'pacs.resume', series: pending.length }, `resuming ${pending.length} pending series`);
    this.resubmitDue('resume');
  }

  async onApplicationShutdown(): Promise<void> {
    this.stop.abort();
    // Running pipelines end quickly once the inference queue closes; their series stay pending for the next start.
    await Promise.race([Promise.allSettled([...this.activeBySeries.values()].map((j) => j.done)), sleep(10_000)]);
  }

  get stopping(): boolean {
    return this.stop.signal.aborted;
  }

  /** Starts (or joins) the job of a series; the series is durably pending from here on. */
  submit(ref: SeriesRef, trigger: { source: PacsTriggerSource; eventId?: string; modality?: string }): { job: PacsJobView; joined: boolean } {
    const at = new Date().toISOString();
    const t: PacsJobTrigger = { source: trigger.source, ...(trigger.eventId ? { eventId: trigger.eventId } : {}), at };
    const active = this.activeBySeries.get(ref.seriesInstanceUid);
    if (active) {
      if (active.triggers.length < 50) active.triggers.push(t);
      active.updatedAt = at;
      this.save(active);
      return { job: this.view(active), joined: true };
    }
    this.state.addPending({ ...ref, source: trigger.source, since: at, failures: 0 });
    const job: Job = { id: randomUUID(), state: 'waiting-for-series', series: { ...ref }, triggers: [t], createdAt: at, updatedAt: at, attempts: 0, done: Promise.resolve() };
    this.jobs.set(job.id, job);
    this.activeBySeries.set(ref.seriesInstanceUid, job);
    this.save(job);
    job.done = this.run(job, trigger.modality);
    this.forgetOldJobs();
    this.metrics.pendingSeries.set(this.state.pending().length);
    return { job: this.view(job), joined: false };
  }

  /** True when the series already has its SEG for the served model version (no job needed). */
  isProcessed(seriesInstanceUid: string): boolean {
    const version = this.registry.status().version;
    return version !== undefined && this.state.isProcessed(seriesInstanceUid, version);
  }

  /** Starts jobs for pending series that have none and whose retry time has come (after a restart or a failure). */
  resubmitDue(source: PacsTriggerSource = 'retry'): number {
    if (this.stopping) return 0;
    const now = Date.now();
    let n = 0;
    for (const p of this.state.pending()) {
      if (this.activeBySeries.has(p.seriesInstanceUid)) continue;
      if (p.retryAfter && Date.parse(p.retryAfter) > now) continue;
      this.submit(p, { source });
      n++;
    }
    return n;
  }

  get(id: string): PacsJobView {
    const job = this.jobs.get(id);
    if (!job) throw new LvsegError('not-found', 'JOB_NOT_FOUND', `no such job (the newest ${this.timing.keepFinishedJobs} finished jobs are kept)`);
    return this.view(job);
  }

  /** Jobs of a study and/or series, newest first (every kept job when neither is given), at most `limit`. */
  list(filter: { study?: string; series?: string; limit?: number }): PacsJobView[] {
    const out: PacsJobView[] = [];
    const all = [...this.jobs.values()];
    for (let i = all.length - 1; i >= 0 && out.length < (filter.limit ?? 100); i--) {
      const job = all[i];
      if (filter.study !== undefined && job.series.studyInstanceUid !== filter.study) continue;
      if (filter.series !== undefined && job.series.seriesInstanceUid !== filter.series) continue;
      out.push(this.view(job));
    }
    return out;
  }

  private view(job: Job): PacsJobView {
    const { done: _done, ...view } = job;
    return JSON.parse(JSON.stringify(view)) as PacsJobView;
  }

  private set(job: Job, state: PacsJobState): void {
    job.state = state;
    job.updatedAt = new Date().toISOString();
    this.save(job);
  }

  /** Writes the job's record (at each change of state, trigger or result: a few writes per job). */
  private save(job: Job): void {
    try {
      this.state.saveJobRecord(this.view(job));
    } catch (e) {
      // A full or read-only disk must not stop the work itself (it is tracked by state.json); the record lags.
      this.log.warn({ event: 'pacs.job_record_write_failed', jobId: job.id, err: e }, `could not write the record of job ${job.id}`);
    }
  }

  private async run(job: Job, modalityHint?: string): Promise<void> {
    const started = performance.now();
    const ref = job.series;
    try {
      const early = await this.waitForSeries(job, modalityHint);
      if (early) return this.finish(job, early, started);
      if (this.stopping) return this.leave(job, 'SHUTTING_DOWN', 'the service stopped before the series was processed');

      this.set(job, 'queued');
      const release = await this.slots.acquire();
      try {
        await this.waitForModel();
        for (;;) {
          if (this.stopping) return this.leave(job, 'SHUTTING_DOWN', 'the service stopped before the series was processed');
          job.attempts++;
          this.set(job, 'running');
          try {
            const result = await this.pipeline.process(ref, job.id);
            return this.finish(job, result, started);
          } catch (e) {
            const cap = isTransient(e) ? this.timing.attempts : isPermanent(e) ? this.timing.permanentAttempts : 0;
            if (job.attempts >= cap || this.stopping) throw e;
            const delay = backoffMs(job.attempts, this.timing.retryBaseMs, this.timing.retryMaxMs);
            job.error = { code: (e as LvsegError).code, message: (e as LvsegError).message, retryable: true, nextAttemptAt: new Date(Date.now() + delay).toISOString() };
            this.set(job, 'retrying');
            this.log.warn({ event: 'pacs.job_retry', jobId: job.id, attempt: job.attempts, code: job.error.code, delayMs: delay }, `job ${job.id}: ${job.error.message}; retrying`);
            // Hold the slot while waiting: the PACS or the model is the bottleneck, more parallel work would not help.
            await sleep(delay, this.stop.signal);
          }
        }
      } finally {
        release();
      }
    } catch (e) {
      this.fail(job, e, started);
    } finally {
      this.activeBySeries.delete(ref.seriesInstanceUid);
      this.metrics.pendingSeries.set(this.state.pending().length);
    }
  }

  /**
   * Waits until the PACS says the series is complete. Returns a result when there is nothing to do: the series was
   * already segmented with the served model, or it is not MR (known from the PACS or the webhook before any fetch).
   */
  private async waitForSeries(job: Job, modalityHint?: string): Promise<PacsJobResult | undefined> {
    const notMr = (modality: string): PacsJobResult => ({ outcome: 'skipped', reason: { code: 'NOT_MR', message: `the series modality is ${modality}, not MR: lvseg segments cardiac MR only` } });
    if (modalityHint && modalityHint !== 'MR') return notMr(modalityHint);
    if (this.isProcessed(job.series.seriesInstanceUid)) {
      const version = this.registry.status().version;
      return { outcome: 'skipped', modelVersion: version, reason: { code: 'ALREADY_SEGMENTED', message: `lvseg already wrote a SEG for this series with model ${version}` } };
    }
    const began = Date.now();
    const [firstPoll, maxPoll] = this.timing.seriesPollMs;
    let delay = firstPoll;
    let transientErrors = 0;
    while (!this.stopping) {
      try {
        const status = await this.pacs.seriesStatus(job.series);
        transientErrors = 0;
        if (status.modality && status.modality !== 'MR') return notMr(status.modality);
        if (status.exists && status.complete) return undefined;
        if (!status.exists && Date.now() - began > 60_000) {
          return { outcome: 'skipped', reason: { code: 'SERIES_NOT_FOUND', message: 'the PACS does not hold the series (deleted?)' } };
        }
      } catch (e) {
        if (!isTransient(e) || ++transientErrors >= this.timing.attempts * 4) throw e;
        job.error = { code: (e as LvsegError).code, message: (e as LvsegError).message, retryable: true };
      }
      if (Date.now() - began > this.timing.maxSeriesWaitMs) {
        this.log.warn({ event: 'pacs.series_never_stable', jobId: job.id }, `job ${job.id}: the series did not become complete; processing it as it is`);
        return undefined;
      }
      await sleep(delay, this.stop.signal);
      delay = Math.min(maxPoll, delay * 2);
    }
    return undefined;
  }

  private async waitForModel(): Promise<void> {
    // The model loads at start; do not burn attempts on MODEL_NOT_READY meanwhile.
    for (let waited = 0; !this.registry.status().ready && !this.stopping && waited < 120_000; waited += 250) await sleep(250, this.stop.signal);
  }

  private finish(job: Job, result: PacsJobResult, started: number): void {
    job.result = result;
    delete job.error;
    this.set(job, result.outcome === 'segmented' ? 'done' : 'skipped');
    this.state.removePending(job.series.seriesInstanceUid);
    const seconds = (performance.now() - started) / 1000;
    this.metrics.jobs.inc({ outcome: result.outcome });
    this.metrics.jobDuration.observe({ outcome: result.outcome }, seconds);
    this.log.info(
      {
        event: 'pacs.job_finished',
        jobId: job.id,
        state: job.state,
        ...(result.reason ? { reason: result.reason.code } : {}),
        images: result.images?.length ?? 0,
        ...(result.function ? { lvFunction: result.function.computed ? 'sr_stored' : result.function.reason.code } : {}),
        ms: Math.round(seconds * 1000),
      },
      `job ${job.id} ${job.state}${result.reason ? ` (${result.reason.code})` : ''}`,
    );
  }

  /** The service is stopping: the series stays pending and is resumed at the next start. */
  private leave(job: Job, code: string, message: string): void {
    job.error = { code, message, retryable: true };
    this.set(job, 'failed');
  }

  private fail(job: Job, e: unknown, started: number): void {
    const known = isLvsegError(e);
    const code = known ? e.code : 'UNEXPECTED';
    const message = known ? e.message : 'unexpected error (logged)';
    // Content the pipeline cannot read will not change (it was tried permanentAttempts times): forget the series; the
    // job says why. Anything else (PACS down for long, wrong credentials, a bug fixed by a restart) is retried later,
    // each failed run waiting twice as long as the one before.
    const permanent = isPermanent(e);
    let nextAttemptAt: string | undefined;
    if (permanent) this.state.removePending(job.series.seriesInstanceUid);
    else if (!this.stopping) {
      const failures = (this.state.pending().find((x) => x.seriesInstanceUid === job.series.seriesInstanceUid)?.failures ?? 0) + 1;
      const wait = Math.min(this.timing.failedRetryMaxMs, this.timing.failedRetryAfterMs * 2 ** (failures - 1));
      nextAttemptAt = new Date(Date.now() + wait).toISOString();
      this.state.updatePending(job.series.seriesInstanceUid, { failures, retryAfter: nextAttemptAt });
    }
    job.error = { code, message, retryable: !permanent, ...(nextAttemptAt ? { nextAttemptAt } : {}) };
    this.set(job, 'failed');
    this.metrics.jobs.inc({ outcome: 'failed' });
    if (!this.stopping) this.metrics.jobFailures.inc({ code, permanent: String(permanent) });
    this.metrics.jobDuration.observe({ outcome: 'failed' }, (performance.now() - started) / 1000);
    const line = { event: 'pacs.job_failed', jobId: job.id, code, permanent, attempts: job.attempts, retryAt: nextAttemptAt ?? null, ...(known ? {} : { err: e }) };
    if (this.stopping) this.log.warn(line, `job ${job.id} interrupted by shutdown (${code}); resumed at next start`);
    else this.log.error(line, `job ${job.id} failed${permanent ? ' for good (not retried)' : ''}: ${message}`);
  }

  private forgetOldJobs(): void {
    if (this.jobs.size <= this.timing.keepFinishedJobs) return;
    for (const [id, job] of this.jobs) {
      if (this.jobs.size <= this.timing.keepFinishedJobs) break;
      if (!FINISHED.includes(job.state)) continue;
      this.jobs.delete(id);
      this.state.deleteJobRecord(id);
    }
  }
}
