import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { LvsegError } from '@lvseg/common';
import type { PacsConfig } from '@lvseg/config';
import { APP_LOGGER } from '../../tokens';
import type { PacsJobState } from '../jobs/pacs-job';
import { PACS_CONFIG, PACS_STATE } from '../pacs.tokens';
import { PacsMetrics } from '../pacs-metrics';
import type { PacsStateStore } from '../state/pacs-state-store';
import { SERIES_JOB_QUEUE, SeriesJobQueue } from '../queue/series-job-queue';
import { parseWebhookEvent } from './webhook-event';
import { MAX_WEBHOOK_SKEW_SECONDS, WebhookAuthError, verifyWebhook } from './webhook-signature';

export interface WebhookAccepted {
  jobId: string;
  state: PacsJobState;
  /** True when the event joined the job already open for its series. */
  joined: boolean;
}

/** Authenticates a webhook (signature, age, replay), validates its event and hands the series to the job queue (in-process or Redis). */
@Injectable()
export class PacsWebhookService {
  constructor(
    @Inject(PACS_CONFIG) private readonly config: PacsConfig,
    @Inject(PACS_STATE) private readonly state: PacsStateStore,
    @Inject(SERIES_JOB_QUEUE) private readonly jobs: SeriesJobQueue,
    private readonly metrics: PacsMetrics,
    @Inject(APP_LOGGER) private readonly log: Logger,
  ) {}

  async accept(rawBody: Buffer, headers: Record<string, string | string[] | undefined>, nowMs = Date.now()): Promise<WebhookAccepted> {
    try {
      verifyWebhook({ secret: this.config.webhookSecret, headers, rawBody, nowSeconds: nowMs / 1000 });
    } catch (e) {
      if (e instanceof WebhookAuthError) this.metrics.webhooks.inc({ outcome: e.code.replace('WEBHOOK_', '').toLowerCase() });
      throw e;
    }
    let event;
    try {
      event = parseWebhookEvent(rawBody);
    } catch (e) {
      this.metrics.webhooks.inc({ outcome: 'invalid' });
      throw e;
    }
    // Ids are remembered for as long as their signed timestamp can be accepted (skew both ways, plus a margin).
    if (!this.state.rememberEvent(event.id, nowMs + (2 * MAX_WEBHOOK_SKEW_SECONDS + 60) * 1000, nowMs)) {
      this.metrics.webhooks.inc({ outcome: 'replayed' });
      throw new LvsegError('conflict', 'WEBHOOK_REPLAYED', 'this event id was already received');
    }
    const { studyInstanceUid, seriesInstanceUid, modality, sopInstanceUid } = event.resource;
    const { job, joined } = await this.jobs.submit({ studyInstanceUid, seriesInstanceUid }, { source: 'webhook', eventId: event.id, modality });
    this.metrics.webhooks.inc({ outcome: joined ? 'joined' : 'accepted' });
    this.log.debug({ event: 'pacs.webhook', jobId: job.id, joined, ...(sopInstanceUid ? { sopInstanceUid } : {}) }, `webhook ${event.kind} → job ${job.id}`);
    return { jobId: job.id, state: job.state, joined };
  }
}
