import { DynamicModule, Module, Provider } from '@nestjs/common';
import type { Logger } from 'pino';
import type { PacsConfig, QueueConfig } from '@lvseg/config';
import { LvsegError } from '@lvseg/common';
import { OrthancClient } from './client/orthanc-client';
import type { PacsChangeFeed, PacsClient } from './client/pacs-client';
import { ChangeFeedFollower } from './follower/change-feed-follower.service';
import { PacsJobsController } from './jobs/pacs-jobs.controller';
import { DEFAULT_PACS_TIMING, PacsJobsService, PacsTiming } from './jobs/pacs-jobs.service';
import { PacsMetrics } from './pacs-metrics';
import { PACS_CHANGE_FEED, PACS_CLIENT, PACS_CONFIG, PACS_STATE, PACS_TIMING } from './pacs.tokens';
import { BullmqSeriesJobQueue } from './queue/bullmq-series-job-queue';
import { InProcessSeriesJobQueue } from './queue/in-process-series-job-queue';
import { QueueMetrics } from './queue/queue-metrics';
import { RedisReadiness } from './queue/redis-readiness';
import { SERIES_JOB_QUEUE, SeriesJobQueue } from './queue/series-job-queue';
import { SeriesSegmentationService } from './series/series-segmentation.service';
import { FilePacsStateStore, PacsStateStore } from './state/pacs-state-store';
import { PacsWebhookController } from './webhook/pacs-webhook.controller';
import { PacsWebhookService } from './webhook/pacs-webhook.service';
import { READINESS_CHECKS, ReadinessCheck } from '../health/readiness-check';
import { MetricsService } from '../metrics/metrics.service';
import { ModelRegistry } from '../models/model-registry.service';
import { APP_LOGGER } from '../tokens';
import { PacsReadiness } from './health/pacs-readiness';
import { sleep } from './util/retry';

/** What the PACS integration is built with; everything but the config defaults to the real thing. */
export interface PacsOptions {
  config: PacsConfig;
  /** Defaults to Orthanc over DICOMweb + REST at `config.url`. */
  client?: PacsClient & PacsChangeFeed;
  /** Defaults to files in `config.stateDir`. */
  state?: PacsStateStore;
  timing?: Partial<PacsTiming>;
  /**
   * The Redis job queue (LVSEG_REDIS_URL). With it the bridge only queues series (webhook, change feed) and `lvseg
   * worker` processes segment; without it this pod segments in-process (the single-machine default).
   */
  queue?: QueueConfig;
  /** `bridge` (default): webhook, change feed, GET /jobs. `worker`: the series pipeline only, for `lvseg worker`. */
  role?: 'bridge' | 'worker';
}

/** How long queueing waits for the served model's version (loaded at start) before answering 503 MODEL_NOT_READY. */
const MODEL_VERSION_WAIT_MS = 10_000;

/**
 * The PACS integration inside the inference service: signed webhook (POST /webhooks/pacs), job status (GET /jobs/:id,
 * GET /jobs?study=&series=), readiness of the PACS and, in Redis mode, of Redis (GET /health/ready),
 * the job queue, the change-feed follower, and the series → DICOM SEG + LV function SR pipeline. It imports the
 * app's `segmentation` module (SegmentationModule: model registry, SegmentationPipeline and its inference queue), so
 * PACS work and POST /segment run through one pipeline on one engine lane.
 */
@Module({})
export class PacsModule {
  static register(opts: PacsOptions, segmentation: DynamicModule): DynamicModule {
    const client = opts.client ?? new OrthancClient(opts.config);
    const common: Provider[] = [
      { provide: PACS_CONFIG, useValue: opts.config },
      { provide: PACS_CLIENT, useValue: client },
      { provide: PACS_CHANGE_FEED, useValue: client },
      { provide: PACS_TIMING, useValue: { ...DEFAULT_PACS_TIMING, ...(opts.timing ?? {}) } },
      PacsMetrics,
      PacsReadiness,
    ];
    // GET /health/ready (InferenceModule's HealthController) says not ready while the PACS, or in Redis mode the job
    // queue's Redis, cannot be used; each failing check gives its reason.
    const readinessChecks = (...checks: ReadinessCheck[]): ReadinessCheck[] => checks;
    if (opts.role === 'worker') {
      // lvseg worker: the pipeline alone; the queue, webhook and change feed are the bridge's.
      return {
        module: PacsModule,
        imports: [segmentation],
        providers: [
          ...common,
          { provide: READINESS_CHECKS, inject: [PacsReadiness], useFactory: readinessChecks },
          { provide: PACS_STATE, useFactory: () => opts.state ?? new FilePacsStateStore(opts.config.stateDir) },
          SeriesSegmentationService,
        ],
        exports: [READINESS_CHECKS, SeriesSegmentationService],
      };
    }
    const queueProviders: Provider[] = opts.queue
      ? [
          {
            provide: SERIES_JOB_QUEUE,
            inject: [ModelRegistry, APP_LOGGER],
            useFactory: (registry: ModelRegistry, log: Logger) => new BullmqSeriesJobQueue(opts.queue!, () => servedVersion(registry), log),
          },
          {
            provide: READINESS_CHECKS,
            inject: [PacsReadiness, SERIES_JOB_QUEUE, PACS_TIMING, APP_LOGGER],
            useFactory: (pacs: PacsReadiness, queue: BullmqSeriesJobQueue, timing: PacsTiming, log: Logger) => readinessChecks(pacs, new RedisReadiness(queue, timing, log)),
          },
        ]
      : [
          PacsJobsService,
          SeriesSegmentationService,
          { provide: SERIES_JOB_QUEUE, inject: [PacsJobsService], useFactory: (jobs: PacsJobsService) => new InProcessSeriesJobQueue(jobs) },
          { provide: READINESS_CHECKS, inject: [PacsReadiness], useFactory: readinessChecks },
        ];
    return {
      module: PacsModule,
      imports: [segmentation],
      controllers: [PacsWebhookController, PacsJobsController],
      providers: [
        ...common,
        // Created when the module is: an unreadable state file stops the start with a clear message.
        { provide: PACS_STATE, useFactory: () => opts.state ?? new FilePacsStateStore(opts.config.stateDir) },
        ...queueProviders,
        { provide: QueueMetrics, inject: [MetricsService, SERIES_JOB_QUEUE, APP_LOGGER], useFactory: (m: MetricsService, q: SeriesJobQueue, log: Logger) => new QueueMetrics(m, q, log) },
        PacsWebhookService,
        ChangeFeedFollower,
      ],
      exports: [READINESS_CHECKS],
    };
  }
}

/** The model version the live flow queues series for: the one this service serves (its alias followed). */
async function servedVersion(registry: ModelRegistry): Promise<string> {
  for (let waited = 0; ; waited += 200) {
    const version = registry.status().version;
    if (version) return version;
    if (waited >= MODEL_VERSION_WAIT_MS) throw new LvsegError('unavailable', 'MODEL_NOT_READY', 'the served model is not loaded yet: its version names the job');
    await sleep(200);
  }
}
