import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';

/** Prometheus metrics of the PACS integration, in the app's registry (served at GET /metrics). */
@Injectable()
export class PacsMetrics {
  readonly webhooks: Counter<'outcome'>;
  readonly jobs: Counter<'outcome'>;
  readonly jobDuration: Histogram<'outcome'>;
  readonly jobFailures: Counter<'code' | 'permanent'>;
  readonly lvFunctionReports: Counter<'outcome'>;
  readonly pendingSeries: Gauge;
  readonly changeFeedErrors: Counter;
  readonly changeFeedCursor: Gauge;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.webhooks = new Counter({
      name: 'lvseg_pacs_webhooks_total',
      help: 'PACS webhook requests by outcome (accepted, joined, unsigned, bad_signature, bad_timestamp, stale, replayed, invalid)',
      labelNames: ['outcome'] as const,
      registers,
    });
    this.jobs = new Counter({ name: 'lvseg_pacs_jobs_total', help: 'PACS series jobs finished, by outcome (segmented, skipped, failed)', labelNames: ['outcome'] as const, registers });
    this.jobFailures = new Counter({
      name: 'lvseg_pacs_job_failures_total',
      help: 'PACS series jobs that failed, by error code and whether for good (permanent="true": undecodable or unsupported content, not retried) or retried later',
      labelNames: ['code', 'permanent'] as const,
      registers,
    });
    this.jobDuration = new Histogram({
      name: 'lvseg_pacs_job_duration_seconds',
      help: 'Time from a series job being created to its end (waiting for the series to be complete included)',
      labelNames: ['outcome'] as const,
      buckets: [1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600],
      registers,
    });
    this.lvFunctionReports = new Counter({
      name: 'lvseg_pacs_lv_function_reports_total',
      help: 'Segmented series by LV function report outcome (sr_stored, not_computed: e.g. a single cardiac phase)',
      labelNames: ['outcome'] as const,
      registers,
    });
    this.pendingSeries = new Gauge({ name: 'lvseg_pacs_pending_series', help: 'Series promised (webhook or change feed) and not yet done', registers });
    this.changeFeedErrors = new Counter({ name: 'lvseg_pacs_change_feed_errors_total', help: 'Failed reads of the PACS change feed (retried with backoff)', registers });
    this.changeFeedCursor = new Gauge({ name: 'lvseg_pacs_change_feed_cursor', help: 'Sequence number of the last PACS change handled', registers });
  }
}
