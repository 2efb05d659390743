import { Gauge } from 'prom-client';
import type { Logger } from 'pino';
import type { MetricsService } from '../../metrics/metrics.service';
import type { SeriesJobQueue } from './series-job-queue';

/**
 * `lvseg_series_jobs{state}`: the series queue's jobs by state (waiting, active, delayed, completed, failed), read
 * from the queue at each scrape (Redis: one call; in-process: the job runner). Scale workers on waiting + delayed.
 */
export class QueueMetrics {
  readonly jobs: Gauge<'state' | 'mode'>;

  constructor(metrics: MetricsService, queue: SeriesJobQueue, log: Logger) {
    this.jobs = new Gauge({
      name: 'lvseg_series_jobs',
      help: 'Series jobs by state (waiting, active, delayed: retry backoff or series not complete yet, completed, failed: dead with a reason); mode label: in-process or redis',
      labelNames: ['state', 'mode'] as const,
      registers: [metrics.registry],
      async collect() {
        try {
          const { counts } = await queue.summary();
          for (const [state, n] of Object.entries(counts)) this.set({ state, mode: queue.mode }, n);
        } catch (e) {
          // A scrape while Redis is down still answers (the other metrics); the gauge keeps its last values.
          log.warn({ event: 'queue.metrics_failed', message: (e as Error).message }, `queue metrics: ${(e as Error).message}`);
        }
      },
    });
  }
}
