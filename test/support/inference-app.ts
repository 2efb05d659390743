/** Starts the real inference app (real Nest app, real store, real tfjs engine) on a free port, with its log captured. */
import type { NestExpressApplication } from '@nestjs/platform-express';
import { loadConfig, InferenceConfig } from '@lvseg/config';
import type { ModelStore } from '@lvseg/model-store';
import { createInferenceApp } from '../../services/inference/src/create-app';
import { captureLogs } from './log-capture';

export interface RunningInferenceApp {
  app: NestExpressApplication;
  url: string;
  config: InferenceConfig;
  /** Every JSON log line written so far. */
  logLines(): Array<Record<string, unknown>>;
  /** The raw log text (for "never contains" checks). */
  logText(): string;
  close(): Promise<void>;
}

export async function startInferenceApp(store: ModelStore, env: Record<string, string> = {}): Promise<RunningInferenceApp> {
  const config = loadConfig({ LVSEG_ALIAS_POLL_SECONDS: '0.2', LOG_LEVEL: 'info', ...env });
  const { logger, logLines, logText } = captureLogs(config.inference.logLevel);
  // LVSEG_ENGINE / LVSEG_ORT_THREADS / LVSEG_WEB_DIR in `env` act as they would in production (they are in `config`).
  const app = await createInferenceApp({ config, store, logger });
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return {
    app,
    url: `http://127.0.0.1:${address.port}`,
    config,
    logText,
    logLines,
    close: () => app.close(),
  };
}

/** Waits until /health/ready answers 200 (the served model is loaded): on a busy machine that can take a while. */
export async function waitUntilReady(app: RunningInferenceApp, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${app.url}/health/ready`).catch(() => undefined);
    if (res?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`the service was not ready within ${timeoutMs} ms (last status ${res?.status ?? 'none'})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
