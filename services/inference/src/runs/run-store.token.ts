import type { InferenceConfig } from '@lvseg/config';
import { openConfiguredRunStore } from '@lvseg/config';
import { ModelStore, RunStore, openRunStore } from '@lvseg/model-store';

/** Injection token of the RunStore (training runs for the monitor), provided like MODEL_STORE. */
export const RUN_STORE = Symbol('RUN_STORE');

/** The run store in the same location as `store` (so a test's temp store has its runs beside it), else the configured one. */
export function runStoreBeside(store: ModelStore, config: InferenceConfig): RunStore {
  return /^(file|s3):\/\//.test(store.uri) ? openRunStore(store.uri, { s3: config.s3 }) : openConfiguredRunStore(config);
}
