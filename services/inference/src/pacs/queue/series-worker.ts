import { hostname } from 'node:os';
import { Worker } from 'bullmq';
import pino, { Logger } from 'pino';
import { LvsegError } from '@lvseg/common';
import type { LvsegConfig, PacsConfig, QueueConfig } from '@lvseg/config';
import { initBackend } from '@lvseg/model';
import { createInferenceApp } from '../../create-app';
import { ModelRegistry } from '../../models/model-registry.service';
import { OrthancClient } from '../client/orthanc-client';
import type { PacsJobResult } from '../jobs/pacs-job';
import { SeriesSegmentationService } from '../series/series-segmentation.service';
import { MemoryPacsStateStore } from '../state/pacs-state-store';
import { sleep } from '../util/retry';
import { ModelLane, ModelLanes } from './model-lanes';
import { redisConnection } from './redis-connection';
import { DEFAULT_PROCESSOR_TIMING, SeriesJobProcessor, SeriesJobProcessorTiming } from './series-job-processor';
import type { SeriesJobData } from './series-job-queue';
import { WorkerHeartbeat } from './worker-heartbeat';


/** How long a worker waits for a model version to load before the job is retried later (MODEL_NOT_READY). */
const MODEL_LOAD_TIMEOUT_MS = 5 * 60_000;

export interface SeriesWorkerOptions {
  /** lvseg's configuration, loaded once by the caller (`loadConfig`): the queue, the PACS and the model store. */
  config: LvsegConfig;
  logger?: Logger;
  timing?: Partial<SeriesJobProcessorTiming>;
}

export interface RunningSeriesWorker {
  readonly name: string;
  /** Model versions loaded now. */
  loadedModels(): string[];
  /** Stops taking jobs, lets the running ones finish, unloads the models. */
  close(): Promise<void>;
}

/**
 * What a worker (and `lvseg backfill`) requires of the configuration: the Redis queue and the PACS. (lvseg's settings
 * ask for PACS_WEBHOOK_SECRET wherever PACS_URL is set, so workers get the bridge's secret though they receive no webhook.)
 */
export function workerSettings(config: LvsegConfig): { queue: QueueConfig; pacs: PacsConfig } {
  if (!config.queue) throw new LvsegError('config', 'CONFIG_QUEUE_SETTING', 'a worker needs the job queue: set LVSEG_REDIS_URL (e.g. redis://redis:6379/0)', { setting: 'LVSEG_REDIS_URL' });
  if (!config.pacs) throw new LvsegError('config', 'CONFIG_PACS_SETTING', 'a worker needs the PACS: set PACS_URL (and PACS_USERNAME, PACS_PASSWORD, PACS_WEBHOOK_SECRET)', { setting: 'PACS_URL' });
  return { queue: config.queue, pacs: config.pacs };
}

/**
 * `lvseg worker`: takes series jobs from the Redis queue and runs the PACS pipeline (SeriesSegmentationService) for
 * each, with the job's model version. Each version is the inference app (createInferenceApp, PACS module in the
 * worker role: no webhook, no change feed, no HTTP listener) pinned to that version id, so the pipeline is exactly the
 * one the single-pod mode runs. A worker that dies mid-series holds the job's lock no longer than
 * LVSEG_JOBS_LOCK_SECONDS; another worker's stalled-job check then puts it back in the queue.
 */
export async function startSeriesWorker(opts: SeriesWorkerOptions): Promise<RunningSeriesWorker> {
  const base = opts.config;
  const { queue, pacs } = workerSettings(base);
  const log = opts.logger ?? pino({ level: base.inference.logLevel, base: { service: 'lvseg-worker' } });
  await initBackend({ forced: base.backend });

  const buildLane = async (modelVersion: string): Promise<ModelLane> => {
    const started = performance.now();
    log.info({ event: 'queue.model_loading', modelVersion }, `loading model ${modelVersion}`);
    // The app serves exactly this version (a version id, not an alias: it never moves) and no other.
    const config: LvsegConfig = { ...base, inference: { ...base.inference, defaultModelRef: modelVersion, extraModels: 0 } };
    const app = await createInferenceApp({
      config,
      logger: log.child({ modelVersion }),
      // Workers share nothing but Redis and the PACS: the PACS itself says what is done (the SEG's deterministic UIDs).
      pacs: { config: pacs, role: 'worker', state: new MemoryPacsStateStore() },
    });
    const registry = app.get(ModelRegistry);
    const deadline = Date.now() + MODEL_LOAD_TIMEOUT_MS;
    for (;;) {
      const status = registry.status();
      if (status.ready && status.version === modelVersion) break;
      const refused = status.refused.find((r) => r.version === modelVersion);
      if (refused || Date.now() > deadline) {
        await app.close();
        if (refused) throw new LvsegError('unavailable', 'MODEL_REFUSED', `model ${modelVersion} was refused at load (${refused.code}): ${refused.message}`);
        throw new LvsegError('unavailable', 'MODEL_NOT_READY', `model ${modelVersion} did not load within ${MODEL_LOAD_TIMEOUT_MS / 1000} s`);
      }
      await sleep(200);
    }
    log.info({ event: 'queue.model_loaded', modelVersion, ms: Math.round(performance.now() - started) }, `model ${modelVersion} loaded`);
    const series = app.get(SeriesSegmentationService);
    return { segmenter: { process: (ref, jobId) => series.process(ref, jobId) }, close: () => app.close() };
  };

  const lanes = new ModelLanes(buildLane, queue.workerModels, log);
  const processor = new SeriesJobProcessor(new OrthancClient(pacs), (v) => lanes.acquire(v), { ...DEFAULT_PROCESSOR_TIMING, ...(opts.timing ?? {}) }, log);
  const name = `${hostname()}:${process.pid}`;
  const worker = new Worker<SeriesJobData, PacsJobResult>(queue.queueName, (job, token) => processor.run(job, token), {
    connection: redisConnection(queue),
    name,
    concurrency: queue.workerConcurrency,
    // Global: BullMQ keeps the limiter's window in Redis, so N workers together start at most max series per duration.
    limiter: { max: queue.rateLimit.max, duration: queue.rateLimit.durationMs },
    lockDuration: queue.lockDurationMs,
    stalledInterval: queue.stalledIntervalMs,
    maxStalledCount: queue.maxStalledCount,
  });
  worker.on('error', (e) => log.warn({ event: 'queue.worker_error', message: e.message }, `worker: ${e.message}`));
  worker.on('failed', (job, e) => {
    if (!job) return;
    const dead = job.attemptsMade >= (job.opts.attempts ?? 1) || e.name === 'UnrecoverableError';
    log[dead ? 'error' : 'warn']({ event: dead ? 'queue.job_dead' : 'queue.job_retry', jobId: job.id, attempts: job.attemptsMade, reason: e.message }, `job ${job.id} ${dead ? 'failed for good' : 'failed; retried with backoff'}: ${e.message}`);
  });
  worker.on('stalled', (jobId) => log.warn({ event: 'queue.job_stalled', jobId }, `job ${jobId}: its worker stopped renewing the lock; back in the queue`));
  await worker.waitUntilReady();
  const heartbeat = new WorkerHeartbeat({
    running: () => worker.isRunning(),
    ping: async () => (await (await worker.client as unknown as { ping(): Promise<string> }).ping()) === 'PONG',
    log,
  });
  await heartbeat.start();
  log.info({ event: 'queue.worker_ready', worker: name, queue: queue.queueName, concurrency: queue.workerConcurrency, pid: process.pid }, `worker ${name} taking jobs from ${queue.queueName}`);

  return {
    name,
    loadedModels: () => lanes.loaded,
    close: async () => {
      heartbeat.stop();
      await worker.close();
      await lanes.closeAll();
    },
  };
}
