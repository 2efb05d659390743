import { resolve } from 'node:path';
import { LvsegError } from '@lvseg/common';
import type { z } from 'zod';
import { AuthSettings, authSettings } from './auth-config';
import { EngineSettings, InferenceSettings } from './inference-config';
import { PacsConfig, pacsCredentials, pacsSettings } from './pacs-config';
import { QueueConfig, queueSettings } from './queue-config';
import { ENV_SCHEMA, ParsedEnv, SettingIssueParams, TFJS_BACKENDS } from './schema';

/** How to reach an S3-compatible object store (MinIO) for `s3://` model stores (`S3_*`). */
export interface S3Settings {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region?: string;
}

/**
 * lvseg's configuration: every environment variable, validated once at start by `loadConfig` (documented in README,
 * "Configuration"). Frozen: it is read, never changed.
 */
export interface LvsegConfig {
  /** `file://<path>` (default `file://<repo>/var/models`) or `s3://bucket/prefix` (`LVSEG_MODEL_STORE`). */
  modelStore: string;
  /** Read-only store shipped in the repository, copied into an empty file store on first use (`LVSEG_SHIPPED_MODELS`). */
  shippedModels: string;
  /** Set when `S3_ENDPOINT` is (with `S3_ACCESS_KEY` and `S3_SECRET_KEY`). */
  s3?: S3Settings;
  /** Root of the data sets (`LVSEG_DATA_DIR`, default `../shared/data` beside the repository), absolute. */
  dataDir: string;
  /** A model whose recorded val Dice is below this is not promoted without --force (`LVSEG_MIN_PROMOTE_DICE`, default 0.8). */
  minPromoteDice: number;
  /** The tfjs backend to force (`LVSEG_BACKEND`); undefined = the ladder. */
  backend?: (typeof TFJS_BACKENDS)[number];
  /** The commit recorded on model cards (`LVSEG_GIT_COMMIT`); undefined = ask git. */
  gitCommit?: string;
  /** The inference service's HTTP, queue and model settings. */
  inference: InferenceSettings;
  /** The runtime of the inference service's mask path. */
  engine: EngineSettings;
  /** API keys and OIDC (`LVSEG_API_KEYS`, `LVSEG_OIDC_*`). */
  auth: AuthSettings;
  /** The PACS integration; undefined when `PACS_URL` is not set. */
  pacs?: PacsConfig;
  /** The durable series job queue (Redis); undefined when `LVSEG_REDIS_URL` is not set (series segmented in-process). */
  queue?: QueueConfig;
  /** What `lvseg dataset import` takes from the environment when no flag gives it. */
  datasetImport: {
    /** `LVSEG_SITE_SECRET` (`--site-secret` overrides; checked where it is used). */
    siteSecret?: string;
    /** `PACS_USERNAME` and `PACS_PASSWORD`, for `--from-pacs`. */
    pacsCredentials?: { username: string; password: string };
  };
}

/** The configuration the inference service is given (the whole of it). */
export type InferenceConfig = LvsegConfig;

/** One config error for every variable that failed its own check, naming each; the code is the first one's. */
function configErrorOf(error: z.ZodError): LvsegError {
  const problems = error.issues.map((i) => {
    const setting = String(i.path[0] ?? 'environment');
    const params = (i as { params?: SettingIssueParams }).params;
    return { setting, code: params?.code ?? 'CONFIG_INVALID', message: params?.whole ? i.message : `${setting} ${i.message}` };
  });
  return new LvsegError('config', problems[0].code, problems.map((p) => p.message).join('; '), { setting: problems[0].setting, settings: problems.map((p) => p.setting) });
}

function s3Settings(e: ParsedEnv): S3Settings | undefined {
  if (!e.S3_ENDPOINT) return undefined;
  const missing = (['S3_ACCESS_KEY', 'S3_SECRET_KEY'] as const).filter((k) => !e[k]);
  if (missing.length > 0) {
    throw new LvsegError('config', 'MODEL_STORE_S3_CONFIG', `S3_ENDPOINT is set but ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not`, { setting: missing[0] });
  }
  return { endpoint: e.S3_ENDPOINT, accessKey: e.S3_ACCESS_KEY!, secretKey: e.S3_SECRET_KEY!, ...(e.S3_REGION ? { region: e.S3_REGION } : {}) };
}

/** Freezes an object graph (Buffers stay as they are: a typed array cannot be frozen). */
function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || Object.isFrozen(value)) return value;
  for (const v of Object.values(value)) deepFreeze(v);
  return Object.freeze(value);
}

/**
 * Reads and validates every environment variable lvseg uses (schema.ts), once, and returns the typed, frozen
 * configuration. Throws LvsegError('config') whose message names each variable that is wrong and why (never a secret).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): LvsegConfig {
  const parsed = ENV_SCHEMA.safeParse(env);
  if (!parsed.success) throw configErrorOf(parsed.error);
  const e = parsed.data;
  const s3 = s3Settings(e);
  if (e.LVSEG_MODEL_STORE.startsWith('s3://') && !s3) {
    throw new LvsegError('config', 'CONFIG_S3_MISSING', 'LVSEG_MODEL_STORE is s3://… but S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY are not set', { setting: 'S3_ENDPOINT' });
  }
  const { auth, host } = authSettings(e);
  const pacsLogin = pacsCredentials(e);
  const queue = queueSettings(e);
  const config: LvsegConfig = {
    modelStore: e.LVSEG_MODEL_STORE,
    shippedModels: e.LVSEG_SHIPPED_MODELS,
    ...(s3 ? { s3 } : {}),
    dataDir: resolve(e.LVSEG_DATA_DIR),
    minPromoteDice: e.LVSEG_MIN_PROMOTE_DICE,
    ...(e.LVSEG_BACKEND ? { backend: e.LVSEG_BACKEND } : {}),
    ...(e.LVSEG_GIT_COMMIT ? { gitCommit: e.LVSEG_GIT_COMMIT } : {}),
    inference: {
      port: e.PORT,
      ...(host !== undefined ? { host } : {}),
      maxBodyBytes: Math.round(e.LVSEG_MAX_BODY_MB * 1024 * 1024),
      maxImageSide: e.LVSEG_MAX_IMAGE_SIDE,
      queueSize: e.LVSEG_QUEUE_SIZE,
      batchWindowMs: e.LVSEG_BATCH_WINDOW_MS,
      maxBatchSize: e.LVSEG_MAX_BATCH,
      aliasPollSeconds: e.LVSEG_ALIAS_POLL_SECONDS,
      defaultModelRef: e.LVSEG_SERVE_MODEL,
      extraModels: e.LVSEG_EXTRA_MODELS,
      seriesMaxFiles: e.LVSEG_SERIES_MAX_FILES,
      seriesMaxBytes: Math.round(e.LVSEG_SERIES_MAX_MB * 1024 * 1024),
      logLevel: e.LOG_LEVEL!,
      webDir: e.LVSEG_WEB_DIR,
    },
    engine: { engine: e.LVSEG_ENGINE!, ortThreads: e.LVSEG_ORT_THREADS, onnxInt8: e.LVSEG_ONNX_INT8 !== 'off' },
    auth,
    ...(e.PACS_URL ? { pacs: pacsSettings(e) } : {}),
    ...(queue ? { queue } : {}),
    datasetImport: { ...(e.LVSEG_SITE_SECRET ? { siteSecret: e.LVSEG_SITE_SECRET } : {}), ...(pacsLogin ? { pacsCredentials: pacsLogin } : {}) },
  };
  return deepFreeze(config);
}
