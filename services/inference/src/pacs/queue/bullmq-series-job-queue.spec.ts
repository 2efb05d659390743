import { Job, Worker } from 'bullmq';
import pino from 'pino';
import { LvsegError } from '@lvseg/common';
import { QueueConfig, loadConfig } from '@lvseg/config';
import { RunningRedis, describeWithRedis, startRedis } from '../../../../../test/support/redis';
import type { PacsSeriesStatus, SeriesRef } from '../client/pacs-client';
import type { PacsJobResult, PacsJobView } from '../jobs/pacs-job';
import { backfillSeries, waitForJobs } from './backfill';
import { BullmqSeriesJobQueue } from './bullmq-series-job-queue';
import { redisConnection } from './redis-connection';
import { SeriesJobProcessor } from './series-job-processor';
import type { SeriesJobData } from './series-job-queue';

/**
 * The Redis queue against a real redis-server, with the worker's processor over in-memory stand-ins of the PACS and
 * the pipeline (the real ones run together, in worker processes, in test/pacs-queue.e2e-spec.ts): idempotent ids,
 * retries with backoff, the dead-letter state with its reason, waiting for a series to be complete, the global rate
 * limit, and a job whose worker died going back to the queue.
 */
const describeRedis = describeWithRedis();
const log = pino({ level: 'silent' });
const ref = (n: number): SeriesRef => ({ studyInstanceUid: '1.2.3', seriesInstanceUid: `1.2.3.${n}` });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class InMemoryPacs {
  readonly status = new Map<string, PacsSeriesStatus>();
  async seriesStatus(r: SeriesRef): Promise<PacsSeriesStatus> {
    return this.status.get(r.seriesInstanceUid) ?? { exists: true, complete: true, modality: 'MR', instanceCount: 1 };
  }
}

/** The pipeline: records runs, throws the scripted errors of a series in order, or hangs (a worker that dies). */
class ScriptedPipeline {
  readonly runs: Array<{ series: string; version: string; at: number }> = [];
  readonly errors = new Map<string, unknown[]>();
  hang = new Set<string>();
  forVersion(version: string) {
    return {
      segmenter: {
        process: async (r: SeriesRef): Promise<PacsJobResult> => {
          this.runs.push({ series: r.seriesInstanceUid, version, at: Date.now() });
          if (this.hang.has(r.seriesInstanceUid)) await new Promise(() => undefined);
          await sleep(5);
          const e = this.errors.get(r.seriesInstanceUid)?.shift();
          if (e) throw e;
          return { outcome: 'segmented', modelVersion: version, images: [] };
        },
      },
      release: () => undefined,
    };
  }
}

describeRedis('BullmqSeriesJobQueue + SeriesJobProcessor (real redis-server)', () => {
  let redis: RunningRedis;
  let n = 0;
  const open: Array<{ close(): Promise<void> }> = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });

  function setup(env: Record<string, string> = {}) {
    const config = loadConfig({ LVSEG_REDIS_URL: redis.url, LVSEG_JOBS_QUEUE: `spec-${++n}`, LVSEG_JOBS_BACKOFF_MS: '50', LVSEG_JOBS_ATTEMPTS: '3', LVSEG_JOBS_RATE_MAX: '1000', LVSEG_JOBS_RATE_SECONDS: '1', ...env }).queue!;
    const queue = new BullmqSeriesJobQueue(config, async () => 'v1', log);
    open.push({ close: () => queue.onApplicationShutdown() });
    const pacs = new InMemoryPacs();
    const pipeline = new ScriptedPipeline();
    const processor = new SeriesJobProcessor(pacs, async (v) => pipeline.forVersion(v), { seriesPollMs: [50, 100], maxSeriesWaitMs: 60_000, missingSeriesMs: 60_000, permanentAttempts: 2 }, log);
    const startWorker = (overrides: Partial<QueueConfig> = {}, processorOverride?: (job: Job<SeriesJobData, PacsJobResult>, token?: string) => Promise<PacsJobResult>) => {
      const c = { ...config, ...overrides };
      const worker = new Worker<SeriesJobData, PacsJobResult>(c.queueName, processorOverride ?? ((job, token) => processor.run(job, token)), {
        connection: redisConnection(c),
        limiter: { max: c.rateLimit.max, duration: c.rateLimit.durationMs },
        lockDuration: c.lockDurationMs,
        stalledInterval: c.stalledIntervalMs,
        maxStalledCount: c.maxStalledCount,
        concurrency: c.workerConcurrency,
      });
      worker.on('error', () => undefined);
      open.push({ close: () => worker.close(true) });
      return worker;
    };
    const finished = async (id: string, timeoutMs = 30_000): Promise<PacsJobView> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const j = await queue.get(id);
        if (['done', 'skipped', 'failed'].includes(j.state)) return j;
        if (Date.now() > deadline) throw new Error(`job ${id} did not finish: ${JSON.stringify(j)}`);
        await sleep(25);
      }
    };
    return { config, queue, pacs, pipeline, startWorker, finished };
  }

  it('one job per series and model version: queueing again joins it, another version is another job', async () => {
    const { queue } = setup();
    const a = await queue.submit(ref(1), { source: 'webhook', eventId: 'e1', modality: 'MR' });
    const b = await queue.submit(ref(1), { source: 'change-feed' });
    const c = await queue.enqueue(ref(1), { source: 'backfill' }, 'v2');
    expect(a).toMatchObject({ joined: false, job: { id: '1.2.3.1@v1', state: 'queued', attempts: 0, queue: { modelVersion: 'v1', progress: 0, stalls: 0 } } });
    expect(a.job.triggers).toEqual([{ source: 'webhook', eventId: 'e1', at: expect.any(String) }]);
    expect(b).toMatchObject({ joined: true, job: { id: '1.2.3.1@v1' } });
    expect(c).toMatchObject({ added: true, view: { id: '1.2.3.1@v2' } });
    expect(await queue.enqueue(ref(1), { source: 'backfill' }, 'v2', { dryRun: true })).toMatchObject({ added: false });
    expect(await queue.enqueue(ref(2), { source: 'backfill' }, 'v2', { dryRun: true })).toMatchObject({ added: true });
    expect((await queue.summary()).counts).toEqual({ waiting: 2, active: 0, delayed: 0, completed: 0, failed: 0 });
    expect((await queue.list({ series: '1.2.3.1' })).map((j) => j.id).sort()).toEqual(['1.2.3.1@v1', '1.2.3.1@v2']);
    await expect(queue.get('1.2.3.9@v1')).rejects.toMatchObject({ code: 'JOB_NOT_FOUND', kind: 'not-found' });
  });

  it('runs a job with its model version; a finished job re-queued is not run again', async () => {
    const { queue, pipeline, startWorker, finished } = setup();
    startWorker();
    await queue.submit(ref(1), { source: 'webhook' });
    const job = await finished('1.2.3.1@v1');
    expect(job).toMatchObject({ state: 'done', attempts: 1, result: { outcome: 'segmented', modelVersion: 'v1' }, queue: { progress: 100 } });
    expect((await queue.submit(ref(1), { source: 'change-feed' })).joined).toBe(true);
    await sleep(200);
    expect(pipeline.runs.map((r) => r.series)).toEqual(['1.2.3.1']);
  });

  it('retries a transient error with exponential backoff, then succeeds', async () => {
    const { queue, pipeline, startWorker, finished } = setup();
    pipeline.errors.set('1.2.3.1', [new LvsegError('unavailable', 'PACS_UNREACHABLE', 'the PACS is unreachable'), new LvsegError('unavailable', 'PACS_UNREACHABLE', 'the PACS is unreachable')]);
    startWorker();
    await queue.submit(ref(1), { source: 'webhook' });
    const job = await finished('1.2.3.1@v1');
    expect(job.state).toBe('done');
    expect(job.attempts).toBe(3);
    const gaps = pipeline.runs.slice(1).map((r, i) => r.at - pipeline.runs[i].at);
    // backoff 50 ms, then 100 ms (lower bounds: a loaded machine only makes them longer)
    expect(gaps[0]).toBeGreaterThanOrEqual(45);
    expect(gaps[1]).toBeGreaterThanOrEqual(95);
  });

  it('dead-letters a job out of attempts, and content that will not change after permanentAttempts, with the reason', async () => {
    const { queue, pipeline, startWorker, finished } = setup();
    const down = () => new LvsegError('unavailable', 'PACS_UNREACHABLE', 'the PACS is unreachable');
    pipeline.errors.set('1.2.3.1', [down(), down(), down(), down()]);
    pipeline.errors.set('1.2.3.2', [1, 2, 3].map(() => new LvsegError('unsupported', 'SERIES_UNDECODABLE', 'none of the 2 image(s) could be decoded')));
    startWorker();
    await queue.submit(ref(1), { source: 'webhook' });
    await queue.submit(ref(2), { source: 'webhook' });
    const transient = await finished('1.2.3.1@v1');
    const permanent = await finished('1.2.3.2@v1');
    expect(transient).toMatchObject({ state: 'failed', attempts: 3, error: { code: 'PACS_UNREACHABLE', message: 'the PACS is unreachable', retryable: false } });
    expect(permanent).toMatchObject({ state: 'failed', attempts: 2, error: { code: 'SERIES_UNDECODABLE', retryable: false } });
    expect(permanent.error!.message).toMatch(/could be decoded \(not retried: not retryable\)/);
    expect((await queue.summary()).counts.failed).toBe(2);

    // An operator fixes the cause and runs the dead job again (lvseg backfill --retry-failed).
    pipeline.errors.clear();
    expect(await queue.enqueue(ref(1), { source: 'backfill' }, 'v1', { retryFailed: true, dryRun: true })).toMatchObject({ added: false, retried: true });
    expect((await queue.get('1.2.3.1@v1')).state).toBe('failed');
    expect(await queue.enqueue(ref(1), { source: 'backfill' }, 'v1', { retryFailed: true })).toMatchObject({ added: false, retried: true });
    expect(await finished('1.2.3.1@v1')).toMatchObject({ state: 'done' });
  });

  it('waits (delayed, no attempt used) until the series is complete; skips a series that is not MR', async () => {
    const { queue, pacs, pipeline, startWorker, finished } = setup();
    pacs.status.set('1.2.3.1', { exists: true, complete: false, modality: 'MR', instanceCount: 3 });
    pacs.status.set('1.2.3.2', { exists: true, complete: true, modality: 'CT', instanceCount: 3 });
    startWorker();
    await queue.submit(ref(1), { source: 'webhook' });
    await queue.submit(ref(2), { source: 'change-feed' });
    expect(await finished('1.2.3.2@v1')).toMatchObject({ state: 'skipped', result: { reason: { code: 'NOT_MR' } } });
    for (let i = 0; i < 200 && (await queue.get('1.2.3.1@v1')).state !== 'waiting-for-series'; i++) await sleep(10);
    expect((await queue.get('1.2.3.1@v1')).state).toBe('waiting-for-series');
    expect(pipeline.runs).toEqual([]);
    // Looked at more often than LVSEG_JOBS_ATTEMPTS (3) allows failures: waiting uses none of them.
    for (let i = 0; i < 500 && (await queue.get('1.2.3.1@v1')).attempts < 5; i++) await sleep(10);
    pacs.status.set('1.2.3.1', { exists: true, complete: true, modality: 'MR', instanceCount: 3 });
    const job = await finished('1.2.3.1@v1');
    expect(job).toMatchObject({ state: 'done', result: { outcome: 'segmented' } });
    expect(job.attempts).toBeGreaterThan(3);
    expect(job.error).toBeUndefined();
    expect(pipeline.runs).toHaveLength(1);
  });

  it('applies the global rate limit across workers', async () => {
    const { queue, pipeline, startWorker, finished } = setup({ LVSEG_JOBS_RATE_MAX: '2', LVSEG_JOBS_RATE_SECONDS: '0.5' });
    startWorker();
    startWorker();
    for (let i = 1; i <= 6; i++) await queue.submit(ref(i), { source: 'webhook' });
    for (let i = 1; i <= 6; i++) await finished(`1.2.3.${i}@v1`);
    const at = pipeline.runs.map((r) => r.at).sort((a, b) => a - b);
    // 6 series at 2 per 500 ms: the 5th starts at least ~1 s after the 1st, whatever the machine's load.
    expect(at[4] - at[0]).toBeGreaterThanOrEqual(900);
    for (let i = 2; i < at.length; i++) expect(at[i] - at[i - 2]).toBeGreaterThanOrEqual(450);
  });

  it('a job whose worker died goes back to the queue and is finished by another worker', async () => {
    const { queue, pipeline, startWorker, finished } = setup({ LVSEG_JOBS_LOCK_SECONDS: '1', LVSEG_JOBS_STALLED_SECONDS: '0.5' });
    pipeline.hang.add('1.2.3.1');
    const first = startWorker();
    await queue.submit(ref(1), { source: 'webhook' });
    for (let i = 0; i < 500 && pipeline.runs.length === 0; i++) await sleep(10);
    expect((await queue.get('1.2.3.1@v1')).state).toBe('running');
    // Dies: no more lock renewals, the job is not finished.
    await first.close(true);
    pipeline.hang.clear();
    startWorker();
    const job = await finished('1.2.3.1@v1', 30_000);
    expect(job.state).toBe('done');
    expect(job.queue!.stalls).toBeGreaterThanOrEqual(1);
    expect(pipeline.runs.map((r) => r.series)).toEqual(['1.2.3.1', '1.2.3.1']);
  });

  it('backfill: stopped after a page, resumed by the same run queueing only what is missing, then followed to the end', async () => {
    const { queue, pipeline, startWorker } = setup();
    async function* pages() {
      yield [ref(1), ref(2)];
      yield [ref(3), ref(4)];
      yield [ref(5)];
    }
    const stop = new AbortController();
    const first = await backfillSeries(queue, pages(), { modelVersion: 'v2', signal: stop.signal, onProgress: (p) => p.found >= 2 && stop.abort() });
    expect(first).toMatchObject({ stopped: true, found: 2, queued: 2, alreadyQueued: 0 });
    const resumed = await backfillSeries(queue, pages(), { modelVersion: 'v2' });
    expect(resumed).toMatchObject({ stopped: false, found: 5, queued: 3, alreadyQueued: 2, retried: 0 });
    startWorker();
    const seen: number[] = [];
    const done = await waitForJobs(queue, resumed.jobIds, { pollMs: 20, onProgress: (p) => seen.push(p.done) });
    expect(done).toEqual({ total: 5, done: 5, skipped: 0, failed: 0, open: 0 });
    expect(seen.at(-1)).toBe(5);
    expect(pipeline.runs.map((r) => `${r.series}@${r.version}`).sort()).toEqual([1, 2, 3, 4, 5].map((n) => `1.2.3.${n}@v2`));
  });
});
