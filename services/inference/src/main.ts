/**
 * lvseg inference service: `PORT=3000 node dist/services/inference/src/main.js` (see README for the environment).
 * Picks the tfjs backend, loads the served model from the configured store, and listens.
 */
import 'reflect-metadata';
import pino from 'pino';
import { isLvsegError } from '@lvseg/common';
import { loadInferenceConfig, loadPacsConfig } from '@lvseg/config';
import { initBackend } from '@lvseg/model';
import { createInferenceApp } from './create-app';
import { assertPortFree, listenAsConfigured } from './listen';

async function main(): Promise<void> {
  const config = loadInferenceConfig();
  const pacs = loadPacsConfig();
  const logger = pino({ level: config.inference.logLevel, base: { service: 'lvseg-inference' } });
  await assertPortFree(config);
  const backend = await initBackend();
  logger.info({ event: 'backend.ready', backend: backend.kind, simd: backend.simd, threads: backend.threads }, `tfjs backend: ${backend.reason}`);
  const app = await createInferenceApp({ config, logger, ...(pacs ? { pacs: { config: pacs } } : {}) });
  app.enableShutdownHooks();
  await listenAsConfigured(app, config, logger);
}

main().catch((e: unknown) => {
  // Configuration errors are the operator's to fix: the message says what; no stack needed.
  if (isLvsegError(e)) console.error(`lvseg-inference: ${e.code}: ${e.message}`);
  else console.error(e);
  process.exit(1);
});
