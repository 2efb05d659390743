import { resolve } from 'node:path';
import { LvsegError, dataRoot, repoRoot } from '@lvseg/common';
import { S3ConnectionOptions, s3ConnectionFromEnv } from '@lvseg/model-store';

/** Configuration read from the environment once at start, validated with clear messages (documented in README). */
export interface LvsegConfig {
  /** `file://<path>` (default `file://./var/models`) or `s3://bucket/prefix`. */
  modelStore: string;
  /** Read-only store shipped in the repository, copied into an empty file store on first use. */
  shippedModels: string;
  s3?: S3ConnectionOptions;
  /** Root of the data sets (`../shared/data` by default). */
  dataDir: string;
  /** A model whose recorded val Dice is below this is not promoted without --force. */
  minPromoteDice: number;
}


/** Read and validate lvseg's environment variables. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): LvsegConfig {
  const modelStore = env.LVSEG_MODEL_STORE ?? `file://${resolve(repoRoot(), 'var', 'models')}`;
  if (!/^(file|s3):\/\//.test(modelStore)) {
    throw new LvsegError('config', 'CONFIG_MODEL_STORE', `LVSEG_MODEL_STORE must start with file:// or s3://, got "${modelStore}"`);
  }
  const minPromoteDice = env.LVSEG_MIN_PROMOTE_DICE === undefined ? 0.8 : Number(env.LVSEG_MIN_PROMOTE_DICE);
  if (!(minPromoteDice >= 0 && minPromoteDice <= 1)) {
    throw new LvsegError('config', 'CONFIG_MIN_DICE', `LVSEG_MIN_PROMOTE_DICE must be a number in [0, 1], got "${env.LVSEG_MIN_PROMOTE_DICE}"`);
  }
  const s3 = s3ConnectionFromEnv(env);
  if (modelStore.startsWith('s3://') && !s3) {
    throw new LvsegError('config', 'CONFIG_S3_MISSING', 'LVSEG_MODEL_STORE is s3://… but S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY are not set');
  }
  return {
    modelStore,
    shippedModels: env.LVSEG_SHIPPED_MODELS ?? resolve(repoRoot(), 'models'),
    s3,
    dataDir: resolve(dataRoot(env)),
    minPromoteDice,
  };
}
