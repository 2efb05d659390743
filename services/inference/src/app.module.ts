import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { MulterModule } from '@nestjs/platform-express';
import { memoryStorage } from 'multer';
import type { Logger } from 'pino';
import type { InferenceConfig } from '@lvseg/config';
import type { ModelStore, RunStore } from '@lvseg/model-store';
import { AuthGuard } from './auth/auth.guard';
import { Authenticator } from './auth/authenticator';
import type { EngineChoice } from './engine/engine-selection';
import type { EngineFactory } from './engine/segmentation-engine';
import { HealthController } from './health/health.controller';
import { MetricsController } from './metrics/metrics.controller';
import { ModelsController } from './models/models.controller';
import { RegistryController } from './models/registry.controller';
import { PacsModule, PacsOptions } from './pacs/pacs.module';
import { RunsModule } from './runs/runs.module';
import { SegmentController } from './segment/segment.controller';
import { SegmentService } from './segment/segment.service';
import { SegmentSeriesController } from './segment/segment-series.controller';
import { SegmentSeriesService } from './segment/segment-series.service';
import { SegmentationModule } from './segment/segmentation.module';
import { AUTHENTICATOR, ENGINE_CHOICE } from './tokens';

/** The outside things the app is built with (each behind an interface, so tests pass real ones of their choosing). */
export interface InferenceDependencies {
  config: InferenceConfig;
  store: ModelStore;
  /** Training runs shown by the monitor (GET /runs…), normally beside the model store. */
  runStore: RunStore;
  engineFactory: EngineFactory;
  /** Which engine `engineFactory` is and why (shown by GET /health/ready). */
  engineChoice: EngineChoice;
  logger: Logger;
  /** The PACS integration (webhook, jobs, change feed), only when PACS_URL is set. */
  pacs?: PacsOptions;
}

@Module({})
export class InferenceModule {
  static register(deps: InferenceDependencies): DynamicModule {
    const { maxBodyBytes } = deps.config.inference;
    // The model registry and the segmentation pipeline (one inference queue): imported here and by the PACS module.
    const { config, store, engineFactory, logger } = deps;
    const segmentation = SegmentationModule.register({ config, store, engineFactory, logger });
    return {
      module: InferenceModule,
      imports: [
        segmentation,
        // Uploads stay in memory (a DICOM slice is small, and the limit bounds it); at most a file and a label.
        // (POST /segment/series reads its many parts with its own limits: SeriesUploadInterceptor.)
        MulterModule.register({ storage: memoryStorage(), limits: { fileSize: maxBodyBytes, fieldSize: maxBodyBytes, files: 2, fields: 4, parts: 6 } }),
        ...(deps.pacs ? [PacsModule.register(deps.pacs, segmentation)] : []),
        RunsModule.register(deps.runStore, deps.logger),
      ],
      controllers: [SegmentController, SegmentSeriesController, ModelsController, RegistryController, HealthController, MetricsController],
      providers: [
        { provide: ENGINE_CHOICE, useValue: deps.engineChoice },
        // Every route, the PACS module's included, passes AuthGuard (API keys, OIDC, scopes; see auth/).
        { provide: AUTHENTICATOR, useValue: new Authenticator(deps.config.auth) },
        { provide: APP_GUARD, useClass: AuthGuard },
        SegmentService,
        SegmentSeriesService,
      ],
    };
  }
}
