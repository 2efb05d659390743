import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '@lvseg/config';
import { initBackend } from '@lvseg/model';
import { FileModelStore } from '@lvseg/model-store';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createInferenceApp } from '../create-app';
import { TfjsEngineFactory } from '../engine/tfjs-engine';
import { ModelRegistry } from '../models/model-registry.service';
import { SeriesSegmentationService } from '../pacs/series/series-segmentation.service';
import { MemoryPacsStateStore } from '../pacs/state/pacs-state-store';
import { SegmentationPipeline } from './pipeline/segmentation-pipeline';
import { SegmentSeriesService } from './segment-series.service';
import { SegmentService } from './segment.service';

/** The pipeline a service was built with (its one constructor dependency of that type). */
const pipelineOf = (service: object): unknown => Object.values(service).find((v) => v instanceof SegmentationPipeline);

/**
 * The wiring of the real app (not initialised: nothing loads, nothing contacts the PACS): SegmentationModule is not
 * global, InferenceModule and the PACS module both import it, and every entry point gets the one pipeline, with one
 * model registry and so one inference queue.
 */
describe('SegmentationModule wiring (the real app, with the PACS module)', () => {
  let root: string;
  beforeAll(async () => {
    await initBackend();
    root = mkdtempSync(join(tmpdir(), 'lvseg-segmentation-module-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const build = (role: 'bridge' | 'worker'): Promise<NestExpressApplication> =>
    createInferenceApp({
      config: loadConfig({ LVSEG_ALIAS_POLL_SECONDS: '3600' }),
      store: new FileModelStore({ root: join(root, role, 'models') }),
      engineFactory: new TfjsEngineFactory(),
      logger: pino({ level: 'silent' }),
      pacs: {
        // Never contacted: the app is not initialised.
        config: loadConfig({ PACS_URL: 'http://127.0.0.1:9', PACS_WEBHOOK_SECRET: 'a-webhook-secret-of-some-length', PACS_STATE_DIR: join(root, role, 'state') }).pacs!,
        state: new MemoryPacsStateStore(),
        role,
      },
    });

  it.each(['bridge', 'worker'] as const)('%s: POST /segment, POST /segment/series and the PACS series path share one pipeline and one registry', async (role) => {
    const app = await build(role);
    try {
      const pipelines = app.get(SegmentationPipeline, { strict: false, each: true });
      expect(pipelines).toHaveLength(1);
      expect(app.get(ModelRegistry, { strict: false, each: true })).toHaveLength(1);
      const [pipeline] = pipelines;
      expect(pipelineOf(app.get(SegmentService, { strict: false }))).toBe(pipeline);
      expect(pipelineOf(app.get(SegmentSeriesService, { strict: false }))).toBe(pipeline);
      expect(pipelineOf(app.get(SeriesSegmentationService, { strict: false }))).toBe(pipeline);
    } finally {
      await app.close();
    }
  });
});
