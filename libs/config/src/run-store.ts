import { RunStore, openRunStore } from '@lvseg/model-store';
import { LvsegConfig } from './config';

/** The training-run store beside the configured model store (`LVSEG_MODEL_STORE`): `<store>/runs/`. */
export function openConfiguredRunStore(config: LvsegConfig): RunStore {
  return openRunStore(config.modelStore, { s3: config.s3 });
}
