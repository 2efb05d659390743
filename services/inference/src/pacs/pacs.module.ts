import { DynamicModule, Module } from '@nestjs/common';
import type { PacsConfig } from '@lvseg/config';
import { OrthancClient } from './client/orthanc-client';
import type { PacsChangeFeed, PacsClient } from './client/pacs-client';
import { ChangeFeedFollower } from './follower/change-feed-follower.service';
import { PacsJobsController } from './jobs/pacs-jobs.controller';
import { DEFAULT_PACS_TIMING, PacsJobsService, PacsTiming } from './jobs/pacs-jobs.service';
import { PacsMetrics } from './pacs-metrics';
import { PACS_CHANGE_FEED, PACS_CLIENT, PACS_CONFIG, PACS_STATE, PACS_TIMING } from './pacs.tokens';
import { SeriesSegmentationService } from './series/series-segmentation.service';
import { FilePacsStateStore, PacsStateStore } from './state/pacs-state-store';
import { PacsWebhookController } from './webhook/pacs-webhook.controller';
import { PacsWebhookService } from './webhook/pacs-webhook.service';
import { READINESS_CHECK } from '../health/readiness-check';
import { PacsReadiness } from './health/pacs-readiness';

/** What the PACS integration is built with; everything but the config defaults to the real thing. */
export interface PacsOptions {
  config: PacsConfig;
  /** Defaults to Orthanc over DICOMweb + REST at `config.url`. */
  client?: PacsClient & PacsChangeFeed;
  /** Defaults to files in `config.stateDir`. */
  state?: PacsStateStore;
  timing?: Partial<PacsTiming>;
}

/**
 * The PACS integration inside the inference service: signed webhook (POST /webhooks/pacs), job status (GET /jobs/:id,
 * GET /jobs?study=&series=), readiness of the PACS (GET /health/ready),
 * the job runner, the change-feed follower, and the series → DICOM SEG + LV function SR pipeline. It uses the inference module's model
 * registry and inference queue (exported by InferenceModule), so PACS work and POST /segment share one engine lane.
 */
@Module({})
export class PacsModule {
  static register(opts: PacsOptions): DynamicModule {
    const client = opts.client ?? new OrthancClient(opts.config);
    return {
      module: PacsModule,
      controllers: [PacsWebhookController, PacsJobsController],
      providers: [
        { provide: PACS_CONFIG, useValue: opts.config },
        { provide: PACS_CLIENT, useValue: client },
        { provide: PACS_CHANGE_FEED, useValue: client },
        // Created when the module is: an unreadable state file stops the start with a clear message.
        { provide: PACS_STATE, useFactory: () => opts.state ?? new FilePacsStateStore(opts.config.stateDir) },
        { provide: PACS_TIMING, useValue: { ...DEFAULT_PACS_TIMING, ...(opts.timing ?? {}) } },
        PacsMetrics,
        SeriesSegmentationService,
        PacsJobsService,
        PacsWebhookService,
        ChangeFeedFollower,
        PacsReadiness,
        // GET /health/ready (InferenceModule's HealthController) says not ready while the PACS cannot be used.
        { provide: READINESS_CHECK, useExisting: PacsReadiness },
      ],
      exports: [READINESS_CHECK],
    };
  }
}
