/**
 * The durable series job queue (BullMQ on Redis) shared by the PACS bridge, `lvseg worker` and `lvseg backfill`.
 * Off (undefined) without `LVSEG_REDIS_URL`: the inference service then segments in-process, as on one machine.
 */
export interface QueueConfig {
  /** `LVSEG_REDIS_URL`, e.g. `redis://redis:6379/0` (redis:// or rediss://; a password may be in the URL or in `LVSEG_REDIS_PASSWORD`). */
  redisUrl: string;
  /** `LVSEG_REDIS_PASSWORD`, when not in the URL. */
  redisPassword?: string;
  /** BullMQ queue name (`LVSEG_JOBS_QUEUE`, default `lvseg-series`); Redis keys are `bull:<name>:…`. */
  queueName: string;
  /** Runs of a job before it is dead (`LVSEG_JOBS_ATTEMPTS`, default 5): transient errors are retried… */
  attempts: number;
  /** …with exponential backoff starting here (`LVSEG_JOBS_BACKOFF_MS`, default 5000: 5 s, 10 s, 20 s…). */
  backoffMs: number;
  /** Global rate limit protecting the PACS: at most `max` series started per `durationMs`, across every worker (`LVSEG_JOBS_RATE_MAX` default 20, `LVSEG_JOBS_RATE_SECONDS` default 60). */
  rateLimit: { max: number; durationMs: number };
  /** Series one worker process segments at once (`LVSEG_WORKER_CONCURRENCY`, default 1: the engine uses the cores). */
  workerConcurrency: number;
  /** Model versions one worker keeps loaded (`LVSEG_WORKER_MODELS`, default 2: the live version and a backfill's). */
  workerModels: number;
  /**
   * A worker holds a job's lock this long and renews it every half (`LVSEG_JOBS_LOCK_SECONDS`, default 120): a
   * worker that dies mid-series loses its lock after this long and the job goes back to the queue.
   */
  lockDurationMs: number;
  /** How often workers look for jobs whose lock expired (`LVSEG_JOBS_STALLED_SECONDS`, default 30). */
  stalledIntervalMs: number;
  /** A job whose worker died this many times is dead (`LVSEG_JOBS_MAX_STALLED`, default 3). */
  maxStalledCount: number;
  /** Finished jobs kept in Redis (`LVSEG_JOBS_KEEP_DAYS`, default 30): their ids keep re-enqueueing idempotent. */
  keepFinishedSeconds: number;
}

/** The variables the queue settings are made of, each already checked on its own (see schema.ts). */
export interface QueueVariables {
  LVSEG_REDIS_URL?: string;
  LVSEG_REDIS_PASSWORD?: string;
  LVSEG_JOBS_QUEUE: string;
  LVSEG_JOBS_ATTEMPTS: number;
  LVSEG_JOBS_BACKOFF_MS: number;
  LVSEG_JOBS_RATE_MAX: number;
  LVSEG_JOBS_RATE_SECONDS: number;
  LVSEG_WORKER_CONCURRENCY: number;
  LVSEG_WORKER_MODELS: number;
  LVSEG_JOBS_LOCK_SECONDS: number;
  LVSEG_JOBS_STALLED_SECONDS: number;
  LVSEG_JOBS_MAX_STALLED: number;
  LVSEG_JOBS_KEEP_DAYS: number;
}

/** The queue settings; undefined when `LVSEG_REDIS_URL` is not set (in-process mode). */
export function queueSettings(e: QueueVariables): QueueConfig | undefined {
  if (!e.LVSEG_REDIS_URL) return undefined;
  return {
    redisUrl: e.LVSEG_REDIS_URL,
    ...(e.LVSEG_REDIS_PASSWORD ? { redisPassword: e.LVSEG_REDIS_PASSWORD } : {}),
    queueName: e.LVSEG_JOBS_QUEUE,
    attempts: e.LVSEG_JOBS_ATTEMPTS,
    backoffMs: e.LVSEG_JOBS_BACKOFF_MS,
    rateLimit: { max: e.LVSEG_JOBS_RATE_MAX, durationMs: e.LVSEG_JOBS_RATE_SECONDS * 1000 },
    workerConcurrency: e.LVSEG_WORKER_CONCURRENCY,
    workerModels: e.LVSEG_WORKER_MODELS,
    lockDurationMs: e.LVSEG_JOBS_LOCK_SECONDS * 1000,
    stalledIntervalMs: e.LVSEG_JOBS_STALLED_SECONDS * 1000,
    maxStalledCount: e.LVSEG_JOBS_MAX_STALLED,
    keepFinishedSeconds: e.LVSEG_JOBS_KEEP_DAYS * 86_400,
  };
}
