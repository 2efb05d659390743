import type { EventEmitter } from 'node:events';
import type { OnApplicationShutdown } from '@nestjs/common';
import { Job, JobState, Queue } from 'bullmq';
import type { Logger } from 'pino';
import { LvsegError } from '@lvseg/common';
import type { QueueConfig } from '@lvseg/config';
import type { SeriesRef } from '../client/pacs-client';
import type { PacsJobResult, PacsJobState, PacsJobView } from '../jobs/pacs-job';
import { redisConnection } from './redis-connection';
import { SeriesJobData, SeriesJobQueue, SeriesJobSubmitted, SeriesJobTrigger, SeriesQueueSummary, seriesJobId } from './series-job-queue';

/** How long a call to Redis may take before the caller gets 503 QUEUE_UNAVAILABLE (the PACS's webhook is retried, the change feed re-read). */
const REDIS_CALL_TIMEOUT_MS = 5000;
/** Jobs looked at per state when GET /jobs filters by study or series (BullMQ has no index by series). */
const LIST_SCAN = 2000;

async function withTimeout<T>(what: string, p: Promise<T>, timeoutMs = REDIS_CALL_TIMEOUT_MS, cause?: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new LvsegError('unavailable', 'QUEUE_UNAVAILABLE', `Redis did not answer within ${timeoutMs} ms (${what}${cause ? `; last error: ${cause}` : ''})`)), timeoutMs);
      }),
    ]);
  } catch (e) {
    if (e instanceof LvsegError) throw e;
    throw new LvsegError('unavailable', 'QUEUE_UNAVAILABLE', `the job queue is unavailable (${what}): ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

/** The job options every series job gets: retries with exponential backoff, finished jobs kept (their ids keep re-queueing idempotent). */
export function seriesJobOptions(config: QueueConfig, jobId: string) {
  return {
    jobId,
    attempts: config.attempts,
    backoff: { type: 'exponential' as const, delay: config.backoffMs },
    removeOnComplete: { age: config.keepFinishedSeconds },
    // Dead jobs (the dead-letter state) are kept as long, with their reason: an operator retries them (BullMQ job.retry()).
    removeOnFail: { age: config.keepFinishedSeconds },
  };
}

/** `CODE: message` (how workers write a failed reason) → code and message. */
export function parseFailedReason(reason: string | undefined): { code: string; message: string } {
  const m = /^([A-Z][A-Z0-9_]+): ([\s\S]*)$/.exec(reason ?? '');
  if (m) return { code: m[1], message: m[2] };
  // BullMQ's own reasons, e.g. a worker that died too often under the job.
  if (/stalled more than allowable limit/.test(reason ?? '')) return { code: 'JOB_STALLED', message: reason! };
  return { code: 'UNEXPECTED', message: reason || 'unknown failure' };
}

/** A BullMQ job as GET /jobs/:id shows a PACS job (the in-process view, plus `queue`). */
export function viewOfQueuedJob(job: Job<SeriesJobData, PacsJobResult>, state: JobState | 'unknown', attemptsAllowed: number): PacsJobView {
  const data = job.data;
  let viewState: PacsJobState;
  if (state === 'active') viewState = 'running';
  else if (state === 'delayed') viewState = job.attemptsMade > 0 ? 'retrying' : 'waiting-for-series';
  else if (state === 'completed') viewState = job.returnvalue?.outcome === 'segmented' ? 'done' : 'skipped';
  else if (state === 'failed') viewState = 'failed';
  else viewState = 'queued';
  const updated = Math.max(job.timestamp, job.processedOn ?? 0, job.finishedOn ?? 0);
  const view: PacsJobView = {
    id: String(job.id),
    state: viewState,
    series: { studyInstanceUid: data.studyInstanceUid, seriesInstanceUid: data.seriesInstanceUid },
    triggers: [{ source: data.source, ...(data.eventId ? { eventId: data.eventId } : {}), at: data.queuedAt }],
    createdAt: new Date(job.timestamp).toISOString(),
    updatedAt: new Date(updated).toISOString(),
    attempts: job.attemptsStarted ?? job.attemptsMade,
    queue: { modelVersion: data.modelVersion, progress: typeof job.progress === 'number' ? job.progress : 0, ...(job.processedBy ? { worker: job.processedBy } : {}), stalls: job.stalledCounter ?? 0 },
  };
  if (job.failedReason && (viewState === 'failed' || viewState === 'retrying' || viewState === 'queued')) {
    const retryable = viewState !== 'failed';
    view.error = { ...parseFailedReason(job.failedReason), retryable, ...(viewState === 'retrying' && job.delay ? { nextAttemptAt: new Date(job.timestamp + job.delay).toISOString() } : {}) };
    if (viewState === 'failed' && job.attemptsMade < attemptsAllowed) view.error.message = `${view.error.message} (not retried: not retryable)`;
  }
  if (state === 'completed' && job.returnvalue) view.result = job.returnvalue;
  return view;
}

/**
 * The series queue on Redis (BullMQ): one job per series and model version, id `<SeriesInstanceUID>@<version>`, so a
 * second webhook, the change feed and a resumed backfill all land on the same job. Retries with exponential
 * backoff, dead jobs kept with their reason, progress per job. The bridge only queues; `lvseg worker` processes
 * segment (and apply the global rate limit). `currentVersion` says which model version the live flow segments with.
 */
export class BullmqSeriesJobQueue implements SeriesJobQueue, OnApplicationShutdown {
  readonly mode = 'redis' as const;
  readonly queue: Queue<SeriesJobData, PacsJobResult>;
  /** The last connection error (e.g. `connect ECONNREFUSED 10.0.0.7:6379`; ioredis names no password): the readiness reason. */
  private lastRedisError?: string;

  constructor(
    private readonly config: QueueConfig,
    private readonly currentVersion: () => Promise<string>,
    private readonly log: Logger,
  ) {
    this.queue = new Queue<SeriesJobData, PacsJobResult>(config.queueName, { connection: redisConnection(config) });
    // Without a listener ioredis errors would be unhandled; the callers get QUEUE_UNAVAILABLE from withTimeout.
    this.queue.on('error', (e) => {
      this.lastRedisError = e.message;
      this.log.warn({ event: 'queue.redis_error', message: e.message }, `job queue: ${e.message}`);
    });
  }

  /**
   * Resolves when Redis answers PING within `timeoutMs`; else QUEUE_UNAVAILABLE with the reason (not connected, and
   * the last connection error; or no answer in time). The bridge's readiness check in Redis mode (RedisReadiness).
   */
  async ping(timeoutMs: number): Promise<void> {
    const started = Date.now();
    const client = await withTimeout('connect', this.queue.client, timeoutMs, this.lastRedisError);
    // Not connected: say so at once rather than queue a PING for the reconnection (ioredis's offline queue).
    if (client.status !== 'ready') throw new LvsegError('unavailable', 'QUEUE_UNAVAILABLE', `Redis is not connected (${client.status}${this.lastRedisError ? `; last error: ${this.lastRedisError}` : ''})`);
    // An ioredis client (redisConnection), behind BullMQ's adapter interface, which forwards PING.
    const pong = await withTimeout('PING', (client as unknown as { ping(): Promise<string> }).ping(), Math.max(1, timeoutMs - (Date.now() - started)), this.lastRedisError);
    if (pong !== 'PONG') throw new LvsegError('unavailable', 'QUEUE_UNAVAILABLE', `Redis answered PING with ${JSON.stringify(String(pong).slice(0, 40))}`);
  }

  async onApplicationShutdown(): Promise<void> {
    const connection = (this.queue as unknown as { connection: EventEmitter }).connection;
    await this.queue.close();
    // A connection that never became ready (Redis down, a wrong password) rejects its start once the socket ends,
    // after close() removed every listener: BullMQ then emits an 'error' nobody hears, an unhandled rejection at exit.
    connection.on('error', () => undefined);
  }

  /** Queues the series for `modelVersion` (default: the version the live flow serves). */
  async submit(ref: SeriesRef, trigger: SeriesJobTrigger, modelVersion?: string): Promise<SeriesJobSubmitted> {
    const version = modelVersion ?? (await this.currentVersion());
    const r = await this.enqueue(ref, trigger, version);
    return { job: r.view, joined: !r.added };
  }

  /**
   * Queues one series for one version; `added` false when its job already existed (kept finished jobs included).
   * `retryFailed`: a dead job of the pair runs again (its reason is replaced by the new run's outcome).
   */
  async enqueue(ref: SeriesRef, trigger: SeriesJobTrigger, modelVersion: string, opts: { dryRun?: boolean; retryFailed?: boolean } = {}): Promise<{ added: boolean; retried?: boolean; view: PacsJobView }> {
    const id = seriesJobId(ref.seriesInstanceUid, modelVersion);
    const existing = await this.fetch(id);
    if (existing && existing.state === 'failed' && opts.retryFailed) {
      if (!opts.dryRun) await withTimeout('retry a job', existing.job.retry('failed'));
      return { added: false, retried: true, view: viewOfQueuedJob(existing.job, opts.dryRun ? 'failed' : 'waiting', this.config.attempts) };
    }
    if (existing) return { added: false, view: viewOfQueuedJob(existing.job, existing.state, this.config.attempts) };
    const data: SeriesJobData = {
      studyInstanceUid: ref.studyInstanceUid,
      seriesInstanceUid: ref.seriesInstanceUid,
      modelVersion,
      source: trigger.source,
      ...(trigger.eventId ? { eventId: trigger.eventId } : {}),
      ...(trigger.modality ? { modality: trigger.modality } : {}),
      queuedAt: new Date().toISOString(),
    };
    if (opts.dryRun) return { added: true, view: viewOfQueuedJob({ id, data, timestamp: Date.now(), attemptsMade: 0, progress: 0 } as unknown as Job<SeriesJobData, PacsJobResult>, 'waiting', this.config.attempts) };
    const job = await withTimeout('queue a job', this.queue.add('segment-series', data, seriesJobOptions(this.config, id)));
    this.log.debug({ event: 'queue.job_added', jobId: id, source: trigger.source }, `queued ${id}`);
    return { added: true, view: viewOfQueuedJob(job, 'waiting', this.config.attempts) };
  }

  alreadyDone(): boolean {
    // The job id is the dedupe: queueing a series already done for the version is a no-op.
    return false;
  }

  retryDue(): number {
    return 0; // BullMQ retries by itself (backoff), and workers recover stalled jobs.
  }

  async get(id: string): Promise<PacsJobView> {
    const found = await this.fetch(id);
    if (!found) throw new LvsegError('not-found', 'JOB_NOT_FOUND', `no such job (finished jobs are kept ${Math.round(this.config.keepFinishedSeconds / 86_400)} days)`);
    return viewOfQueuedJob(found.job, found.state, this.config.attempts);
  }

  /** A job and its state, consistent: the state is read first, and a job that finished in between says so itself. */
  private async fetch(id: string): Promise<{ job: Job<SeriesJobData, PacsJobResult>; state: JobState | 'unknown' } | undefined> {
    let state = await withTimeout('job state', this.queue.getJobState(id));
    const job = await withTimeout('get a job', this.queue.getJob(id));
    if (!job) return undefined;
    if (job.finishedOn && state !== 'completed' && state !== 'failed') state = job.returnvalue == null && job.failedReason ? 'failed' : 'completed';
    return { job, state };
  }

  async list(filter: { study?: string; series?: string; limit?: number }): Promise<PacsJobView[]> {
    const limit = filter.limit ?? 100;
    const filtered = filter.study !== undefined || filter.series !== undefined;
    const out: Array<{ job: Job<SeriesJobData, PacsJobResult>; state: JobState }> = [];
    for (const state of ['active', 'waiting', 'prioritized', 'delayed', 'failed', 'completed'] as JobState[]) {
      const jobs = await withTimeout('list jobs', this.queue.getJobs([state], 0, (filtered ? LIST_SCAN : limit) - 1));
      for (const job of jobs) {
        if (!job) continue;
        if (filter.study !== undefined && job.data.studyInstanceUid !== filter.study) continue;
        if (filter.series !== undefined && job.data.seriesInstanceUid !== filter.series) continue;
        out.push({ job, state });
      }
    }
    out.sort((a, b) => b.job.timestamp - a.job.timestamp);
    return out.slice(0, limit).map(({ job, state }) => viewOfQueuedJob(job, state, this.config.attempts));
  }

  async summary(): Promise<SeriesQueueSummary> {
    const c = await withTimeout('count jobs', this.queue.getJobCounts('waiting', 'prioritized', 'paused', 'active', 'delayed', 'completed', 'failed'));
    return {
      mode: this.mode,
      counts: { waiting: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.paused ?? 0), active: c.active ?? 0, delayed: c.delayed ?? 0, completed: c.completed ?? 0, failed: c.failed ?? 0 },
      queue: { name: this.config.queueName, rateLimit: this.config.rateLimit, attempts: this.config.attempts },
    };
  }
}
