import { resolve } from 'node:path';
import { LvsegError, dataRoot, repoRoot } from '@lvseg/common';

/** Configuration read from the environment once at start, validated with clear messages. */
export interface LvsegConfig {
  /** `file://<path>` (default `file://./var/models`) or `s3://bucket/prefix`. */
  modelStore: string;
  /** Read-only store shipped in the repository, copied into an empty file store on first use. */
  shippedModels: string;
  s3?: { endPoint: string; port: number; useSSL: boolean; accessKey: string; secretKey: string; region: string };
  /** Root of the data sets (`../shared/data` by default). */
  dataDir: string;
  /** A model whose recorded val Dice is below this is not promoted without --force. */
  minPromoteDice: number;
}


function parseS3(env: NodeJS.ProcessEnv): LvsegConfig['s3'] {
  const endpoint = env.S3_ENDPOINT;
  if (!endpoint) return undefined;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new LvsegError('config', 'CONFIG_S3_ENDPOINT', `S3_ENDPOINT must be a URL like http://minio:9000, got "${endpoint}"`);
  }
  const accessKey = env.S3_ACCESS_KEY;
  const secretKey = env.S3_SECRET_KEY;
  if (!accessKey || !secretKey) throw new LvsegError('config', 'CONFIG_S3_CREDENTIALS', 'S3_ENDPOINT is set but S3_ACCESS_KEY or S3_SECRET_KEY is missing');
  const useSSL = url.protocol === 'https:';
  return { endPoint: url.hostname, port: url.port ? Number(url.port) : useSSL ? 443 : 80, useSSL, accessKey, secretKey, region: env.S3_REGION ?? 'us-east-1' };
}

/** Read and validate lvseg's environment variables. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): LvsegConfig {
  const modelStore = env.LVSEG_MODEL_STORE ?? `file://${resolve(repoRoot(), 'var', 'models')}`;
  if (!/^(file|s3):\/\//.test(modelStore)) {
    throw new LvsegError('config', 'CONFIG_MODEL_STORE', `LVSEG_MODEL_STORE must start with file:// or s3://, got "${modelStore}"`);
  }
  const minPromoteDice = env.LVSEG_MIN_PROMOTE_DICE === undefined ? 0.85 : Number(env.LVSEG_MIN_PROMOTE_DICE);
  if (!(minPromoteDice >= 0 && minPromoteDice <= 1)) {
    throw new LvsegError('config', 'CONFIG_MIN_DICE', `LVSEG_MIN_PROMOTE_DICE must be a number in [0, 1], got "${env.LVSEG_MIN_PROMOTE_DICE}"`);
  }
  const s3 = parseS3(env);
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
