import { DynamicModule, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import type { InferenceConfig } from '@lvseg/config';
import type { ModelStore } from '@lvseg/model-store';
import type { EngineFactory } from '../engine/segmentation-engine';
import { MetricsService } from '../metrics/metrics.service';
import { ModelRegistry } from '../models/model-registry.service';
import { APP_LOGGER, ENGINE_FACTORY, INFERENCE_CONFIG, MODEL_STORE } from '../tokens';
import { SegmentationPipeline } from './pipeline/segmentation-pipeline';

/** What the segmentation core is built with (the app's InferenceDependencies pass these through). */
export interface SegmentationDependencies {
  config: InferenceConfig;
  store: ModelStore;
  engineFactory: EngineFactory;
  logger: Logger;
}

/**
 * The segmentation core every entry point shares: the model registry (which version serves, loaded engines) and the
 * SegmentationPipeline with its one inference queue, with the configuration, logger and metrics they need. Not global:
 * InferenceModule registers it once and hands that same module to the PACS module (in-process or as `lvseg worker`),
 * which imports it; Nest keeps one instance of a module imported twice, so both use one pipeline and one queue.
 */
@Module({})
export class SegmentationModule {
  static register(deps: SegmentationDependencies): DynamicModule {
    return {
      module: SegmentationModule,
      providers: [
        { provide: INFERENCE_CONFIG, useValue: deps.config },
        { provide: MODEL_STORE, useValue: deps.store },
        { provide: ENGINE_FACTORY, useValue: deps.engineFactory },
        { provide: APP_LOGGER, useValue: deps.logger },
        MetricsService,
        ModelRegistry,
        SegmentationPipeline,
      ],
      exports: [INFERENCE_CONFIG, APP_LOGGER, MetricsService, ModelRegistry, SegmentationPipeline],
    };
  }
}
