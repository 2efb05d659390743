import { LvsegError } from '@lvseg/common';
import { AuthSettings, loadAuthConfig } from './auth-config';
import { LvsegConfig, loadConfig } from './config';

/** Settings of the inference service (`services/inference`), on top of the shared ones. */
export interface InferenceSettings {
  /** TCP port (`PORT`, default 3000). */
  port: number;
  /**
   * Interface to listen on (`LVSEG_HOST`); undefined = every interface. With no authentication configured it is
   * 127.0.0.1 unless `LVSEG_ALLOW_ANONYMOUS=true` (see auth-config).
   */
  host?: string;
  /** Largest accepted request body in bytes (`LVSEG_MAX_BODY_MB`, default 16 MiB); larger → 413. */
  maxBodyBytes: number;
  /** Largest accepted image side in pixels (`LVSEG_MAX_IMAGE_SIDE`, default 1024); larger → 413. */
  maxImageSide: number;
  /** Requests waiting or running at once (`LVSEG_QUEUE_SIZE`, default 32); one more → 503 with Retry-After. */
  queueSize: number;
  /** How long the first request of a batch waits for others (`LVSEG_BATCH_WINDOW_MS`, default 2). */
  batchWindowMs: number;
  /** Most images in one forward pass (`LVSEG_MAX_BATCH`, default 8). */
  maxBatchSize: number;
  /** How often the served alias is re-read from the store (`LVSEG_ALIAS_POLL_SECONDS`, default 10). */
  aliasPollSeconds: number;
  /** The alias or version served when a request names none (`LVSEG_SERVE_MODEL`, default `production`). */
  defaultModelRef: string;
  /** Models other than the default kept loaded for `?model=` requests (`LVSEG_EXTRA_MODELS`, default 2). */
  extraModels: number;
  /** Most DICOMs in one POST /segment/series (`LVSEG_SERIES_MAX_FILES`, default 400); more → 413. Each file is held to `maxBodyBytes`. */
  seriesMaxFiles: number;
  /** Most bytes of all parts of one POST /segment/series together (`LVSEG_SERIES_MAX_MB`, default 128 MiB); more → 413. */
  seriesMaxBytes: number;
  /** pino level (`LOG_LEVEL`, default `info`). */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export interface InferenceConfig extends LvsegConfig {
  inference: InferenceSettings;
  /** API keys and OIDC (`LVSEG_API_KEYS`, `LVSEG_OIDC_*`). */
  auth: AuthSettings;
}

const LOG_LEVELS: ReadonlyArray<InferenceSettings['logLevel']> = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function numberSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, check: { min: number; max: number; integer?: boolean }): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < check.min || v > check.max || (check.integer && !Number.isInteger(v))) {
    throw new LvsegError(
      'config',
      'CONFIG_INFERENCE_SETTING',
      `${name} must be ${check.integer ? 'an integer' : 'a number'} in [${check.min}, ${check.max}], got ${JSON.stringify(raw)}`,
      { setting: name },
    );
  }
  return v;
}

/** Read and validate the shared settings plus the inference service's own (documented in README). */
export function loadInferenceConfig(env: NodeJS.ProcessEnv = process.env): InferenceConfig {
  const base = loadConfig(env);
  const defaultModelRef = env.LVSEG_SERVE_MODEL?.trim() || 'production';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(defaultModelRef)) {
    throw new LvsegError('config', 'CONFIG_INFERENCE_SETTING', `LVSEG_SERVE_MODEL must be an alias or version id, got ${JSON.stringify(defaultModelRef)}`);
  }
  const logLevel = (env.LOG_LEVEL?.trim() || 'info') as InferenceSettings['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new LvsegError('config', 'CONFIG_INFERENCE_SETTING', `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(env.LOG_LEVEL)}`);
  }
  const { auth, host } = loadAuthConfig(env);
  return {
    ...base,
    auth,
    inference: {
      port: numberSetting(env, 'PORT', 3000, { min: 0, max: 65535, integer: true }),
      ...(host !== undefined ? { host } : {}),
      maxBodyBytes: Math.round(numberSetting(env, 'LVSEG_MAX_BODY_MB', 16, { min: 0.001, max: 1024 }) * 1024 * 1024),
      maxImageSide: numberSetting(env, 'LVSEG_MAX_IMAGE_SIDE', 1024, { min: 16, max: 16384, integer: true }),
      queueSize: numberSetting(env, 'LVSEG_QUEUE_SIZE', 32, { min: 1, max: 100000, integer: true }),
      batchWindowMs: numberSetting(env, 'LVSEG_BATCH_WINDOW_MS', 2, { min: 0, max: 1000 }),
      maxBatchSize: numberSetting(env, 'LVSEG_MAX_BATCH', 8, { min: 1, max: 256, integer: true }),
      aliasPollSeconds: numberSetting(env, 'LVSEG_ALIAS_POLL_SECONDS', 10, { min: 0.05, max: 86400 }),
      defaultModelRef,
      extraModels: numberSetting(env, 'LVSEG_EXTRA_MODELS', 2, { min: 0, max: 16, integer: true }),
      // Two at least: a series needs an ED and an ES frame.
      seriesMaxFiles: numberSetting(env, 'LVSEG_SERIES_MAX_FILES', 400, { min: 2, max: 10000, integer: true }),
      seriesMaxBytes: Math.round(numberSetting(env, 'LVSEG_SERIES_MAX_MB', 128, { min: 0.001, max: 4096 }) * 1024 * 1024),
      logLevel,
    },
  };
}
