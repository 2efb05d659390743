import { existsSync } from 'node:fs';
import { ModelStore, openModelStore } from '@lvseg/model-store';
import { LvsegConfig } from './config';

/** The configured model store: `LVSEG_MODEL_STORE` (file:// seeded once from the shipped `models/`, or s3://). */
export function openConfiguredStore(config: LvsegConfig): ModelStore {
  return openModelStore(config.modelStore, { s3: config.s3, seedFrom: existsSync(config.shippedModels) ? config.shippedModels : undefined });
}
