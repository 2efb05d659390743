import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { refineOpenApi } from './http/openapi';
import pino, { Logger } from 'pino';
import { repoRoot } from '@lvseg/common';
import type { InferenceConfig } from '@lvseg/config';
import { initBackend } from '@lvseg/model';
import { type ModelStore, type RunStore, openConfiguredStore } from '@lvseg/model-store';
import { runStoreBeside } from './runs/run-store.token';
import { InferenceModule } from './app.module';
import type { PacsOptions } from './pacs/pacs.module';
import { EngineChoice, chooseEngine } from './engine/engine-selection';
import { OnnxEngineFactory } from './engine/onnx-engine';
import type { EngineFactory } from './engine/segmentation-engine';
import { TfjsEngineFactory } from './engine/tfjs-engine';
import { HttpErrorFilter } from './http/http-error.filter';
import { PinoNestLogger } from './http/pino-nest-logger';
import { receivedAtMiddleware, requestLogging } from './http/request-logging';
import { MetricsService } from './metrics/metrics.service';
import { httpMetricsMiddleware } from './metrics/http-metrics.middleware';
import { RAW_DICOM_TYPES } from './segment/segment.controller';
import { serveWebAssets } from './web/web-assets';

export interface InferenceAppOptions {
  config: InferenceConfig;
  /** Defaults to the configured store (file:// seeded from the shipped models, or s3://). */
  store?: ModelStore;
  /** Defaults to the run store in the same location as `store` (`<store>/runs/`). */
  runStore?: RunStore;
  /** Defaults to the engine LVSEG_ENGINE picks (auto: onnxruntime unless tfjs runs on native TensorFlow); see engine-selection. */
  engineFactory?: EngineFactory;
  /** Defaults to pino on stdout at `config.inference.logLevel`. */
  logger?: Logger;
  /** Adds the PACS integration (POST /webhooks/pacs, GET /jobs/:id, change feed); main.ts passes it when PACS_URL is set. */
  pacs?: PacsOptions;
}

/**
 * Builds the initialised app (middleware, error filter, OpenAPI at /docs and /docs-json) with the served model
 * loaded when the store has one; `listen` is left to the caller.
 */
export async function createInferenceApp(opts: InferenceAppOptions): Promise<NestExpressApplication> {
  const { config } = opts;
  const logger = opts.logger ?? pino({ level: config.inference.logLevel, base: { service: 'lvseg-inference' } });
  // The engines (and the explanations, always on tfjs) need the project's backend and kernels; without this an app
  // built by a caller that forgot it would run on tfjs's stock cpu backend. Idempotent: main.ts chose it already.
  await initBackend({ forced: config.backend });
  const { factory: engineFactory, choice: engineChoice } = opts.engineFactory
    ? { factory: opts.engineFactory, choice: givenEngine(opts.engineFactory) }
    : chooseEngine(config.engine, { logger });
  logger.info({ event: 'engine.chosen', ...engineChoice }, `mask path on ${engineChoice.engine}: ${engineChoice.reason}`);
  const store = opts.store ?? openConfiguredStore(config);
  const app = await NestFactory.create<NestExpressApplication>(
    InferenceModule.register({ config, store, runStore: opts.runStore ?? runStoreBeside(store, config), engineFactory, engineChoice, logger, pacs: opts.pacs }),
    // No JSON/urlencoded parsers: /segment takes bytes, and a parser error would be one more path to guard.
    { bodyParser: false, logger: new PinoNestLogger(logger), abortOnError: false },
  );
  app.disable('x-powered-by');
  app.use(receivedAtMiddleware);
  app.use(requestLogging(logger));
  app.use(httpMetricsMiddleware(app.get(MetricsService)));
  app.useBodyParser('raw', { type: RAW_DICOM_TYPES, limit: config.inference.maxBodyBytes });
  app.useGlobalFilters(new HttpErrorFilter(logger));
  // The viewer (/), the training monitor (/monitor/) and the browser libraries they load (/vendor/...).
  serveWebAssets(app, config.inference.webDir);

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('lvseg inference')
      .setDescription('Left-ventricle segmentation of cardiac MR (DICOM in, mask, LV area, label metrics, heatmaps and Grad-CAM out). Errors are { error: { code, message } }.')
      .setVersion(packageVersion())
      // The Authorize button: an API key (LVSEG_API_KEYS) or an OIDC access token, sent as Authorization: Bearer.
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API key (LVSEG_API_KEYS) or an access token from the configured OIDC provider' })
      .build(),
  );
  SwaggerModule.setup('docs', app, refineOpenApi(document), { jsonDocumentUrl: 'docs-json' });
  await app.init();
  return app;
}

function givenEngine(factory: EngineFactory): EngineChoice {
  const engine = factory instanceof OnnxEngineFactory ? 'onnx' : factory instanceof TfjsEngineFactory ? 'tfjs' : 'custom';
  return { engine, reason: 'engine factory passed to createInferenceApp', tfjsBackend: tf.getBackend() };
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
