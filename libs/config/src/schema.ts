/**
 * Every environment variable lvseg reads, in one zod schema: its name, type, default, range and what it means. Each
 * variable is checked on its own here; rules between variables (S3 settings together, OIDC settings together, who may
 * listen where) are applied by `loadConfig`, which is the only caller. Documented in README.md ("Configuration"),
 * services/inference/README.md and docs/PACS.md.
 */
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { defaultDataRoot, isLvsegError, repoRoot } from '@lvseg/common';
import { isLoopbackHost, readApiKeys } from './auth-config';

/** The machine code a failing variable's `LvsegError` carries, and whether its message already names the variable. */
export interface SettingIssueParams {
  code: string;
  whole?: boolean;
}

type Ctx = z.RefinementCtx;

function issue(ctx: Ctx, code: string, message: string, whole = false): typeof z.NEVER {
  const params: SettingIssueParams = { code, whole };
  ctx.addIssue({ code: z.ZodIssueCode.custom, message, params });
  return z.NEVER;
}

/** A variable's raw text: unset and blank are the same (a blank line in an env file means "not set"). */
const raw = () => z.string().optional();
const isBlank = (v: string | undefined): v is undefined => v === undefined || v.trim() === '';

/** Free text, trimmed; undefined when unset or blank. */
function text(doc: string) {
  return raw()
    .transform((v) => (isBlank(v) ? undefined : v.trim()))
    .describe(doc);
}

/** A secret or password: not trimmed (its spaces are its own), undefined when unset or empty. */
function secret(doc: string) {
  return raw()
    .transform((v) => (v === undefined || v === '' ? undefined : v))
    .describe(doc);
}

/** Text with a default (paths, URIs). */
function textOr(fallback: () => string, doc: string) {
  return raw()
    .transform((v) => (isBlank(v) ? fallback() : v.trim()))
    .describe(doc);
}

/** A number in [min, max] (an integer when asked), with a default. */
function num(code: string, fallback: number | (() => number), range: { min: number; max: number; integer?: boolean; note?: string }, doc: string) {
  return raw()
    .transform((v, ctx) => {
      if (isBlank(v)) return typeof fallback === 'function' ? fallback() : fallback;
      const n = Number(v);
      const { min, max, integer, note } = range;
      if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
        return issue(ctx, code, `must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]${note ? ` (${note})` : ''}, got ${JSON.stringify(v)}`);
      }
      return n;
    })
    .describe(doc);
}

/** One of a fixed list of words. */
function oneOf<const T extends string>(code: string, values: readonly T[], fallback: T | undefined, doc: string, listed = values.join(', ')) {
  return raw()
    .transform((v, ctx): T | undefined => {
      if (isBlank(v)) return fallback;
      const t = v.trim() as T;
      return values.includes(t) ? t : issue(ctx, code, `must be ${listed}, got ${JSON.stringify(v)}`);
    })
    .describe(doc);
}

/** true/false (or 1/0), default false. */
function flag(code: string, doc: string) {
  return raw()
    .transform((v, ctx) => {
      if (isBlank(v)) return false;
      const t = v.trim().toLowerCase();
      if (t === 'true' || t === '1') return true;
      if (t === 'false' || t === '0') return false;
      return issue(ctx, code, `must be true or false, got ${JSON.stringify(v)}`);
    })
    .describe(doc);
}

/** An http(s) URL without credentials, query or fragment (credentials in a URL end up in logs; they have their own variables). */
function checkHttpUrl(v: string, ctx: Ctx, code: string, credentialsHint: string): string | typeof z.NEVER {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return issue(ctx, code, `must be an http:// or https:// URL, got ${JSON.stringify(v)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return issue(ctx, code, `must be an http:// or https:// URL, got ${JSON.stringify(v)}`);
  if (url.username || url.password) return issue(ctx, code, `must not contain credentials; ${credentialsHint}`);
  if (url.search || url.hash) return issue(ctx, code, 'must not have a query or fragment');
  return withoutTrailingSlash(url.toString());
}

const withoutTrailingSlash = (s: string): string => s.replace(/\/+$/, '');

/** Runs a parser that throws LvsegError and reports its message (which names the variable itself) as the issue. */
function parsed<T>(parse: (v: string) => T, doc: string) {
  return raw()
    .transform((v, ctx): T | undefined => {
      if (isBlank(v)) return undefined;
      try {
        return parse(v.trim());
      } catch (e) {
        if (isLvsegError(e, 'config')) return issue(ctx, e.code, e.message, true);
        throw e;
      }
    })
    .describe(doc);
}

const CODE = {
  modelStore: 'CONFIG_MODEL_STORE',
  s3: 'MODEL_STORE_S3_CONFIG',
  minDice: 'CONFIG_MIN_DICE',
  backend: 'BACKEND_UNKNOWN',
  inference: 'CONFIG_INFERENCE_SETTING',
  auth: 'CONFIG_AUTH',
  pacs: 'CONFIG_PACS_SETTING',
  queue: 'CONFIG_QUEUE_SETTING',
} as const;

/** S3's bucket naming rules, and the plain key-prefix segments the S3 store accepts (libs/model-store, s3-objects.ts). */
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const S3_PREFIX_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** `file://<path>` or `s3://bucket/prefix`, checked here so that a bad one is refused at start, not when a store opens. */
function modelStoreUri(uri: string, ctx: Ctx): string | typeof z.NEVER {
  if (uri.startsWith('file://')) return uri.length > 'file://'.length ? uri : issue(ctx, CODE.modelStore, 'file:// names no directory (e.g. file:///srv/lvseg/models)');
  if (uri.startsWith('s3://')) {
    const [bucket, ...prefix] = uri.slice('s3://'.length).split('/');
    if (!S3_BUCKET.test(bucket) || bucket.includes('..')) {
      return issue(ctx, CODE.modelStore, `s3:// needs a bucket name of 3 to 63 lower-case letters, digits, '.' or '-', got ${JSON.stringify(bucket)}`);
    }
    const bad = prefix.filter((p) => p !== '').find((p) => !S3_PREFIX_SEGMENT.test(p) || p.includes('..'));
    return bad === undefined ? uri : issue(ctx, CODE.modelStore, `s3:// prefix segment ${JSON.stringify(bad)} is not a plain name (letters, digits, '.', '_', '-')`);
  }
  return issue(ctx, CODE.modelStore, `must start with file:// or s3://, got ${JSON.stringify(uri)}`);
}

/** http(s)://host[:port], no path: the S3 client addresses buckets by path under it. */
function s3Endpoint(v: string, ctx: Ctx): string | typeof z.NEVER {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return issue(ctx, CODE.s3, `must be an http(s)://host[:port] URL (e.g. http://minio:9000), got ${JSON.stringify(v)}`);
  }
  if (url.username || url.password) return issue(ctx, CODE.s3, 'must not contain credentials; set S3_ACCESS_KEY and S3_SECRET_KEY instead');
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    return issue(ctx, CODE.s3, `must be http(s)://host[:port] without a path (e.g. http://minio:9000), got ${JSON.stringify(v)}`);
  }
  return withoutTrailingSlash(v);
}

/** A DNS name (labels of letters, digits and '-'); IP addresses are checked with node:net. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A Redis URL (redis:// or rediss://, optional database number). Never echoed: it may hold a password. */
function redisUrl(v: string, ctx: Ctx): string | typeof z.NEVER {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return issue(ctx, CODE.queue, 'must be a redis:// or rediss:// URL (e.g. redis://redis:6379/0)');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return issue(ctx, CODE.queue, `must be a redis:// or rediss:// URL, got a ${url.protocol} URL`);
  if (!url.hostname) return issue(ctx, CODE.queue, 'must name a host');
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,2}$/.test(db)) return issue(ctx, CODE.queue, 'path must be a database number (redis://host:6379/0)');
  return url.toString();
}

/**
 * Default onnxruntime intra-op threads: 2 (1 on a 1-core machine). Measured on a 2-core machine with the forward pass in
 * a worker thread: 2 beat 1 at concurrency 1 and 8, for fcn-paper and unet-small (BENCHMARKS.md, "Inference"); only
 * when higher-priority processes already saturate both cores did 1 do better.
 */
export const DEFAULT_ORT_THREADS = Math.min(2, availableParallelism());

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const TFJS_BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export const ENGINES = ['auto', 'onnx', 'tfjs'] as const;
export const ON_OFF = ['on', 'off'] as const;

/** The environment, variable by variable. Unknown variables are ignored. */
export const ENV_SCHEMA = z.object({
  // Shared: the trainer CLI, the inference service and the PACS bridge.
  LVSEG_MODEL_STORE: raw()
    .transform((v, ctx) => (isBlank(v) ? `file://${resolve(repoRoot(), 'var', 'models')}` : modelStoreUri(v.trim(), ctx)))
    .describe('the model store: file://<path> (default file://<repo>/var/models) or s3://bucket/prefix'),
  LVSEG_SHIPPED_MODELS: textOr(() => resolve(repoRoot(), 'models'), 'read-only store committed to the repo (default <repo>/models); an empty file store is seeded from it'),
  S3_ENDPOINT: raw()
    .transform((v, ctx) => (isBlank(v) ? undefined : s3Endpoint(v.trim(), ctx)))
    .describe('MinIO/S3 base URL for s3:// stores, e.g. http://minio:9000 (with S3_ACCESS_KEY and S3_SECRET_KEY)'),
  S3_ACCESS_KEY: secret('S3 access key'),
  S3_SECRET_KEY: secret('S3 secret key'),
  S3_REGION: text('S3 region (optional)'),
  LVSEG_DATA_DIR: textOr(defaultDataRoot, 'root of the data sets (default <repo>/../shared/data)'),
  LVSEG_MIN_PROMOTE_DICE: num(CODE.minDice, 0.8, { min: 0, max: 1 }, 'Dice bar for promoting a version to an alias (default 0.8)'),
  LVSEG_BACKEND: oneOf(CODE.backend, TFJS_BACKENDS, undefined, 'force a tfjs backend (default: the ladder tfjs-node-gpu, tfjs-node, wasm, cpu)', 'tensorflow, wasm or cpu'),
  LVSEG_GIT_COMMIT: text('the commit the code was built from, recorded on model cards (images set it; default: asked from git)'),
  LVSEG_SITE_SECRET: secret('lvseg dataset import: key of the case pseudonyms (at least 16 characters; --site-secret overrides)'),
  PACS_USERNAME: secret('HTTP Basic user name for the PACS (with PACS_PASSWORD)'),
  PACS_PASSWORD: secret('HTTP Basic password for the PACS (with PACS_USERNAME)'),

  // The inference service.
  PORT: num(CODE.inference, 3000, { min: 0, max: 65535, integer: true }, 'listening port (default 3000)'),
  LVSEG_MAX_BODY_MB: num(CODE.inference, 16, { min: 0.001, max: 1024 }, 'request body limit in MiB (default 16; 413 above)'),
  LVSEG_MAX_IMAGE_SIDE: num(CODE.inference, 1024, { min: 16, max: 16384, integer: true }, 'largest image side accepted (default 1024; 413 above)'),
  LVSEG_QUEUE_SIZE: num(CODE.inference, 32, { min: 1, max: 100000, integer: true }, 'requests waiting or running (default 32); beyond: 503 with Retry-After'),
  LVSEG_BATCH_WINDOW_MS: num(CODE.inference, 2, { min: 0, max: 1000 }, 'how long the oldest waiting request waits for others to share its forward pass (default 2)'),
  LVSEG_MAX_BATCH: num(CODE.inference, 8, { min: 1, max: 256, integer: true }, 'images per forward pass (default 8)'),
  LVSEG_ALIAS_POLL_SECONDS: num(CODE.inference, 10, { min: 0.05, max: 86400 }, 'how often the served alias is re-read (default 10)'),
  LVSEG_SERVE_MODEL: raw()
    .transform((v, ctx) => {
      const ref = isBlank(v) ? 'production' : v.trim();
      return /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(ref) ? ref : issue(ctx, CODE.inference, `must be an alias or version id, got ${JSON.stringify(ref)}`);
    })
    .describe('alias (or version) served when a request names none (default production)'),
  LVSEG_EXTRA_MODELS: num(CODE.inference, 2, { min: 0, max: 16, integer: true }, 'other versions kept loaded for ?model= (default 2)'),
  // Two at least: a series needs an ED and an ES frame.
  LVSEG_SERIES_MAX_FILES: num(CODE.inference, 400, { min: 2, max: 10000, integer: true }, 'most DICOMs in one POST /segment/series (default 400; 413 above)'),
  LVSEG_SERIES_MAX_MB: num(CODE.inference, 128, { min: 0.001, max: 4096 }, 'most MiB of all parts of one POST /segment/series (default 128; 413 above)'),
  LVSEG_ENGINE: oneOf(CODE.inference, ENGINES, 'auto', 'runtime of the mask path: auto (default), onnx or tfjs', 'auto, onnx or tfjs'),
  LVSEG_ORT_THREADS: num(CODE.inference, DEFAULT_ORT_THREADS, { min: 1, max: 64, integer: true }, 'intra-op threads of each onnxruntime session (default 2, 1 on one core)'),
  LVSEG_ONNX_INT8: oneOf(CODE.inference, ON_OFF, 'on', 'onnx engine: serve a version carrying int8-calibration.json as INT8 graphs (on, default) or in float (off)', 'on or off'),
  LVSEG_WEB_DIR: textOr(() => join(repoRoot(), 'dist', 'services', 'inference', 'web'), 'folder of the built browser pages (default <repo>/dist/services/inference/web)'),
  LOG_LEVEL: oneOf(CODE.inference, LOG_LEVELS, 'info', 'pino level (default info)', `one of ${LOG_LEVELS.join(', ')}`),

  // Authentication of the inference service.
  LVSEG_API_KEYS: parsed(readApiKeys, 'API keys (name:secret[:scope+scope], comma-separated), or the path of a file holding them'),
  LVSEG_OIDC_ISSUER: text('expected iss of bearer JWTs (with LVSEG_OIDC_AUDIENCE and LVSEG_OIDC_JWKS_URL)'),
  LVSEG_OIDC_AUDIENCE: raw()
    .transform((v) => (v ?? '').split(',').map((a) => a.trim()).filter((a) => a !== ''))
    .describe('accepted aud values, comma-separated'),
  LVSEG_OIDC_JWKS_URL: raw()
    .transform((v, ctx) => {
      if (isBlank(v)) return undefined;
      let url: URL;
      try {
        url = new URL(v.trim());
      } catch {
        return issue(ctx, CODE.auth, `must be a URL, got ${JSON.stringify(v.trim())}`);
      }
      // Keys fetched over plain http could be swapped by anyone on the path; only loopback (tests, a local sidecar) may.
      if (!(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname)))) {
        return issue(ctx, CODE.auth, `must be https:// (http:// only to a loopback address), got ${url.protocol}//${url.host}`);
      }
      return url.toString();
    })
    .describe("the identity provider's JSON Web Key Set (https; http only to a loopback address)"),
  LVSEG_ALLOW_ANONYMOUS: flag(CODE.auth, 'without keys or OIDC, listen beyond loopback anyway (default false)'),
  LVSEG_HOST: raw()
    .transform((v, ctx) => {
      if (isBlank(v)) return undefined;
      const host = v.trim();
      return isIP(host) !== 0 || HOST_NAME.test(host) ? host : issue(ctx, CODE.auth, `must be an IP address or a host name, got ${JSON.stringify(host)}`);
    })
    .describe('interface to listen on (default: every interface with authentication configured, else 127.0.0.1)'),
  LVSEG_RATE_LIMIT_PER_MINUTE: num(CODE.auth, 600, { min: 0, max: 1_000_000, integer: true, note: '0 = no limit' }, 'requests a minute per API key or OIDC subject (default 600; 0 = no limit)'),

  // The PACS integration (off unless PACS_URL is set).
  PACS_URL: raw()
    .transform((v, ctx) => (isBlank(v) ? undefined : checkHttpUrl(v.trim(), ctx, CODE.pacs, 'set PACS_USERNAME and PACS_PASSWORD instead')))
    .describe('Orthanc REST base URL; setting it turns the PACS integration on'),
  PACS_DICOMWEB_ROOT: raw()
    .transform((v, ctx) => {
      const root = isBlank(v) ? '/dicom-web' : v.trim();
      if (/^https?:\/\//i.test(root)) return checkHttpUrl(root, ctx, CODE.pacs, 'set PACS_USERNAME and PACS_PASSWORD instead');
      if (root.startsWith('/') && !/[?#\s]/.test(root)) return withoutTrailingSlash(root);
      return issue(ctx, CODE.pacs, `must be a path starting with "/" (relative to PACS_URL) or an http(s) URL, got ${JSON.stringify(root)}`);
    })
    .describe('DICOMweb root: a path under PACS_URL (default /dicom-web) or a full http(s) URL'),
  PACS_WEBHOOK_SECRET: secret('HMAC key of the PACS webhook (at least 16 characters; required with PACS_URL)'),
  PACS_CONCURRENCY: num(CODE.pacs, 2, { min: 1, max: 64, integer: true }, 'series processed at once (default 2)'),
  PACS_POLL_SECONDS: num(CODE.pacs, 10, { min: 0.05, max: 3600 }, 'change-feed interval (default 10)'),
  LVSEG_PACS_STATE_DIR: raw()
    .transform((v) => {
      const dir = isBlank(v) ? 'var/pacs' : v.trim();
      return isAbsolute(dir) ? dir : resolve(repoRoot(), dir);
    })
    .describe('cursor, pending and processed series (default var/pacs, relative to the repository)'),

  // The durable series job queue (BullMQ on Redis) of the PACS bridge, `lvseg worker` and `lvseg backfill`; off unless
  // LVSEG_REDIS_URL is set.
  LVSEG_REDIS_URL: raw()
    .transform((v, ctx) => (isBlank(v) ? undefined : redisUrl(v.trim(), ctx)))
    .describe('the job queue\'s Redis (redis:// or rediss://, e.g. redis://redis:6379/0); unset: series are segmented in-process'),
  LVSEG_REDIS_PASSWORD: secret('Redis password, when not in LVSEG_REDIS_URL'),
  LVSEG_JOBS_QUEUE: raw()
    .transform((v, ctx) => {
      const name = isBlank(v) ? 'lvseg-series' : v.trim();
      // BullMQ joins key parts with ':'; keep names to what reads well as a Redis key and a KEDA listName.
      return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name) ? name : issue(ctx, CODE.queue, `must be letters, digits, '.', '_' or '-' (at most 64), got ${JSON.stringify(name)}`);
    })
    .describe('BullMQ queue name (default lvseg-series)'),
  LVSEG_JOBS_ATTEMPTS: num(CODE.queue, 5, { min: 1, max: 100, integer: true }, 'runs of a job before it is dead (default 5)'),
  LVSEG_JOBS_BACKOFF_MS: num(CODE.queue, 5000, { min: 10, max: 3_600_000, integer: true }, 'first retry delay, doubling (default 5000)'),
  LVSEG_JOBS_RATE_MAX: num(CODE.queue, 20, { min: 1, max: 100_000, integer: true }, 'series started per LVSEG_JOBS_RATE_SECONDS across every worker (default 20)'),
  LVSEG_JOBS_RATE_SECONDS: num(CODE.queue, 60, { min: 0.01, max: 86_400 }, 'window of the rate limit (default 60)'),
  LVSEG_WORKER_CONCURRENCY: num(CODE.queue, 1, { min: 1, max: 64, integer: true }, 'series one worker segments at once (default 1)'),
  LVSEG_WORKER_MODELS: num(CODE.queue, 2, { min: 1, max: 8, integer: true }, 'model versions one worker keeps loaded (default 2)'),
  LVSEG_JOBS_LOCK_SECONDS: num(CODE.queue, 120, { min: 1, max: 3600 }, "how long a worker holds a job's lock (default 120)"),
  LVSEG_JOBS_STALLED_SECONDS: num(CODE.queue, 30, { min: 0.5, max: 3600 }, 'how often workers look for jobs whose lock expired (default 30)'),
  LVSEG_JOBS_MAX_STALLED: num(CODE.queue, 3, { min: 1, max: 100, integer: true }, 'a job whose worker died this many times is dead (default 3)'),
  LVSEG_JOBS_KEEP_DAYS: num(CODE.queue, 30, { min: 0.001, max: 3650 }, 'days finished jobs are kept in Redis (default 30)'),
});

/** The environment after each variable's own check: typed, defaults filled in. */
export type ParsedEnv = z.output<typeof ENV_SCHEMA>;

/** The names of every variable the schema reads (for documentation checks and the deployment cross-check). */
export const ENV_VARIABLE_NAMES: readonly string[] = Object.keys(ENV_SCHEMA.shape);
