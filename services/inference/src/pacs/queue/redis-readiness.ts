import type { Logger } from 'pino';
import { CachedReadinessCheck } from '../../health/readiness-check';
import type { PacsTiming } from '../jobs/pacs-jobs.service';
import type { BullmqSeriesJobQueue } from './bullmq-series-job-queue';

/**
 * In Redis mode the PACS bridge is ready only while Redis answers: without it a webhook would be refused (503
 * QUEUE_UNAVAILABLE) and the change feed could not queue, so the pod leaves the Service and says why in GET
 * /health/ready (code QUEUE_UNAVAILABLE, the connection state and the last connection error; never the URL, which may
 * hold the password). Asked at most every `readinessCacheMs`, each PING bounded by `readinessTimeoutMs`.
 */
export class RedisReadiness extends CachedReadinessCheck {
  constructor(queue: Pick<BullmqSeriesJobQueue, 'ping'>, timing: Pick<PacsTiming, 'readinessCacheMs' | 'readinessTimeoutMs'>, log: Logger) {
    super(
      'redis',
      () => queue.ping(timing.readinessTimeoutMs),
      {
        cacheMs: timing.readinessCacheMs,
        readyMessage: 'Redis (the job queue) answers: ready',
        unexpected: { code: 'QUEUE_CHECK_FAILED', message: 'the Redis check failed unexpectedly (logged)' },
      },
      log,
    );
  }
}
