/**
 * The real inference app with the PACS module (createInferenceApp), listening on a given loopback port so it can be
 * stopped and started again where Orthanc's webhook points. The tfjs engine is passed explicitly: the test compares
 * the SEG masks with `segmentLv` (tfjs) on the same model.
 */
import type { NestExpressApplication } from '@nestjs/platform-express';
import { PacsConfig, loadConfig } from '@lvseg/config';
import type { ModelStore } from '@lvseg/model-store';
import { createInferenceApp } from '../../../services/inference/src/create-app';
import { TfjsEngineFactory } from '../../../services/inference/src/engine/tfjs-engine';
import type { PacsTiming } from '../../../services/inference/src/pacs/jobs/pacs-jobs.service';
import { captureLogs } from '../log-capture';

export interface RunningPacsApp {
  app: NestExpressApplication;
  url: string;
  logLines(): Array<Record<string, unknown>>;
  logText(): string;
  close(): Promise<void>;
}

export async function startPacsApp(opts: { store: ModelStore; port: number; pacs: PacsConfig; timing?: Partial<PacsTiming>; env?: Record<string, string> }): Promise<RunningPacsApp> {
  const config = loadConfig({ LVSEG_ALIAS_POLL_SECONDS: '5', LOG_LEVEL: 'info', ...(opts.env ?? {}) });
  const { logger, logLines, logText } = captureLogs(config.inference.logLevel);
  const app = await createInferenceApp({ config, store: opts.store, logger, engineFactory: new TfjsEngineFactory(), pacs: { config: opts.pacs, timing: opts.timing } });
  await app.listen(opts.port, '127.0.0.1');
  return {
    app,
    url: `http://127.0.0.1:${opts.port}`,
    logText,
    logLines,
    close: () => app.close(),
  };
}
