import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LvsegError } from '@lvseg/common';
import { FileModelStore } from './file-model-store';
import type { ModelStore } from './model-store';
import { openRunStore } from './run-open-store';
import type { RunStore } from './run-store';
import { S3ModelStore, type S3ConnectionOptions } from './s3-model-store';

/** Where a fresh checkout keeps its models (relative to the working directory). */
export const DEFAULT_MODEL_STORE_URI = 'file://./var/models';

export interface OpenModelStoreOptions {
  /** Required for `s3://` stores (`S3_*` in @lvseg/config). */
  s3?: S3ConnectionOptions;
  /** A file store directory copied in while the opened store has no aliases yet (e.g. the repo's `models/`). */
  seedFrom?: string;
  /** Clock for version ids and history; defaults to the system clock. */
  now?: () => Date;
}

/**
 * Opens the store a URI names: `file://<path>` (relative paths from the working directory, `file:///abs` for
 * absolute ones) or `s3://<bucket>/<prefix>`. Any other scheme is a 'config' error.
 */
export function openModelStore(uri: string, opts: OpenModelStoreOptions = {}): ModelStore {
  const common = { ...(opts.now ? { now: opts.now } : {}), ...(opts.seedFrom !== undefined ? { seedFrom: opts.seedFrom } : {}) };
  if (uri.startsWith('file://')) {
    const rest = uri.slice('file://'.length);
    if (rest === '') throw new LvsegError('config', 'MODEL_STORE_URI_INVALID', `model store URI ${JSON.stringify(uri)} names no directory`);
    // `file:///abs` is a real file URL (percent-decoded); `file://./rel` is a path relative to the working directory.
    const root = rest.startsWith('/') ? fileURLToPath(uri) : rest;
    return new FileModelStore({ root, ...common });
  }
  if (uri.startsWith('s3://')) {
    const [bucket, ...prefix] = uri.slice('s3://'.length).split('/');
    if (!bucket) throw new LvsegError('config', 'MODEL_STORE_URI_INVALID', `model store URI ${JSON.stringify(uri)} names no bucket`);
    if (!opts.s3) {
      throw new LvsegError('config', 'MODEL_STORE_S3_CONFIG', `model store ${uri} needs S3 connection settings (S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY)`);
    }
    return new S3ModelStore({ ...opts.s3, bucket, prefix: prefix.join('/'), ...common });
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1];
  throw new LvsegError(
    'config',
    'MODEL_STORE_URI_UNSUPPORTED',
    `model store URI ${JSON.stringify(uri)}: ${scheme ? `scheme ${scheme}: is not supported` : 'no scheme'}; use file://<path> or s3://<bucket>/<prefix>`,
  );
}

/** The parts of lvseg's configuration (`LvsegConfig` of @lvseg/config) that say where the stores are. */
export interface StoreLocationSettings {
  /** `LVSEG_MODEL_STORE`: `file://<path>` or `s3://bucket/prefix`. */
  modelStore: string;
  /** `LVSEG_SHIPPED_MODELS`: the read-only store an empty file store is seeded from (ignored when it does not exist). */
  shippedModels: string;
  /** `S3_*`, required for `s3://` stores. */
  s3?: S3ConnectionOptions;
}

/** The configured model store: file:// (seeded once from the shipped `models/` when it exists) or s3://. */
export function openConfiguredStore(config: StoreLocationSettings): ModelStore {
  return openModelStore(config.modelStore, { s3: config.s3, seedFrom: existsSync(config.shippedModels) ? config.shippedModels : undefined });
}

/** The training-run store beside the configured model store: `<store>/runs/`. */
export function openConfiguredRunStore(config: StoreLocationSettings): RunStore {
  return openRunStore(config.modelStore, { s3: config.s3 });
}
