import { fileURLToPath } from 'node:url';
import { LvsegError } from '@lvseg/common';
import { FileRunStore } from './run-file-store';
import { S3RunStore } from './run-s3-store';
import type { RunStore, RunStoreCommonOptions } from './run-store';
import type { S3ConnectionOptions } from './s3-model-store';

/**
 * Opens the run store that lives beside the model store a URI names (same forms as `openModelStore`:
 * `file://<path>`, `file:///abs`, `s3://<bucket>/<prefix>`); runs go under `runs/` in that location.
 */
export function openRunStore(modelStoreUri: string, opts: RunStoreCommonOptions & { s3?: S3ConnectionOptions } = {}): RunStore {
  const common = opts.now ? { now: opts.now } : {};
  if (modelStoreUri.startsWith('file://')) {
    const rest = modelStoreUri.slice('file://'.length);
    if (rest === '') throw new LvsegError('config', 'MODEL_STORE_URI_INVALID', `model store URI ${JSON.stringify(modelStoreUri)} names no directory`);
    return new FileRunStore({ root: rest.startsWith('/') ? fileURLToPath(modelStoreUri) : rest, ...common });
  }
  if (modelStoreUri.startsWith('s3://')) {
    const [bucket, ...prefix] = modelStoreUri.slice('s3://'.length).split('/');
    if (!bucket) throw new LvsegError('config', 'MODEL_STORE_URI_INVALID', `model store URI ${JSON.stringify(modelStoreUri)} names no bucket`);
    if (!opts.s3) throw new LvsegError('config', 'MODEL_STORE_S3_CONFIG', `run store beside ${modelStoreUri} needs S3 connection settings (S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY)`);
    return new S3RunStore({ ...opts.s3, bucket, prefix: prefix.join('/'), ...common });
  }
  throw new LvsegError('config', 'MODEL_STORE_URI_UNSUPPORTED', `model store URI ${JSON.stringify(modelStoreUri)}: use file://<path> or s3://<bucket>/<prefix>`);
}
