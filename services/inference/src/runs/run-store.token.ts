import type { InferenceConfig } from '@lvseg/config';
import { ModelStore, RunStore, S3ModelStore, openConfiguredRunStore, openRunStore } from '@lvseg/model-store';

/** Injection token of the RunStore (training runs for the monitor), provided like MODEL_STORE. */
export const RUN_STORE = Symbol('RUN_STORE');

/**
 * The run store in the same location as `store` (so a test's temp store has its runs beside it), else the configured
 * one. An S3 model store lends its own connection: it may have been built without the S3_* environment.
 */
export function runStoreBeside(store: ModelStore, config: InferenceConfig): RunStore {
  if (!/^(file|s3):\/\//.test(store.uri)) return openConfiguredRunStore(config);
  return openRunStore(store.uri, { s3: store instanceof S3ModelStore ? store.connection() : config.s3 });
}
