/**
 * lvseg inference service: `PORT=3000 node dist/services/inference/src/main.js` (see README for the environment).
 * Picks the tfjs backend, loads the served model from the configured store, and listens.
 */
import 'reflect-metadata';
import pino from 'pino';
import { isLvsegError } from '@lvseg/common';
import { loadConfig } from '@lvseg/config';
import { initBackend } from '@lvseg/model';
import { createInferenceApp } from './create-app';
import { assertPortFree, listenAsConfigured } from './listen';

async function main(): Promise<void> {
  // Every environment variable is read and checked here, once (libs/config/src/schema.ts); the app is given this object.
  const config = loadConfig();
  const { pacs, queue } = config;
  const logger = pino({ level: config.inference.logLevel, base: { service: 'lvseg-inference' } });
  await assertPortFree(config);
  const backend = await initBackend({ forced: config.backend });
  logger.info({ event: 'backend.ready', backend: backend.kind, simd: backend.simd, threads: backend.threads }, `tfjs backend: ${backend.reason}`);
  // With LVSEG_REDIS_URL the PACS bridge only queues series; `lvseg worker` processes segment them (docs/SCALING.md).
  const app = await createInferenceApp({ config, logger, ...(pacs ? { pacs: { config: pacs, ...(queue ? { queue } : {}) } } : {}) });
  app.enableShutdownHooks();
  await listenAsConfigured(app, config, logger);
}

main().catch((e: unknown) => {
  // Configuration errors are the operator's to fix: the message says what; no stack needed.
  if (isLvsegError(e)) console.error(`lvseg-inference: ${e.code}: ${e.message}`);
  else console.error(e);
  process.exit(1);
});
