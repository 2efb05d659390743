import { readFileSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { LvsegError, isLvsegError, repoRoot } from '@lvseg/common';
import { loadConfig } from './config';
import { ENV_SCHEMA, ENV_VARIABLE_NAMES } from './schema';

function configError(env: NodeJS.ProcessEnv): LvsegError {
  try {
    loadConfig(env);
  } catch (e) {
    expect(isLvsegError(e, 'config')).toBe(true);
    return e as LvsegError;
  }
  throw new Error('expected a config error');
}

describe('loadConfig', () => {
  it('has documented defaults', () => {
    const c = loadConfig({});
    expect(c).toEqual({
      modelStore: `file://${resolve(repoRoot(), 'var', 'models')}`,
      shippedModels: resolve(repoRoot(), 'models'),
      dataDir: resolve(repoRoot(), '..', 'shared', 'data'),
      minPromoteDice: 0.8,
      inference: {
        port: 3000,
        // No authentication configured: loopback only.
        host: '127.0.0.1',
        maxBodyBytes: 16 * 1024 * 1024,
        maxImageSide: 1024,
        queueSize: 32,
        batchWindowMs: 2,
        maxBatchSize: 8,
        aliasPollSeconds: 10,
        defaultModelRef: 'production',
        extraModels: 2,
        seriesMaxFiles: 400,
        seriesMaxBytes: 128 * 1024 * 1024,
        logLevel: 'info',
        webDir: join(repoRoot(), 'dist', 'services', 'inference', 'web'),
      },
      engine: { engine: 'auto', ortThreads: Math.min(2, availableParallelism()), onnxInt8: true },
      auth: { apiKeys: [], anonymous: true, rateLimitPerMinute: 600 },
      datasetImport: {},
    });
    // Neither S3, a forced backend, a recorded commit, the PACS nor the job queue unless set.
    expect([c.s3, c.backend, c.gitCommit, c.pacs, c.queue]).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });

  it('reads every setting of the service from the environment', () => {
    const c = loadConfig({
      PORT: '8080',
      LVSEG_MAX_BODY_MB: '0.5',
      LVSEG_MAX_IMAGE_SIDE: '512',
      LVSEG_QUEUE_SIZE: '4',
      LVSEG_BATCH_WINDOW_MS: '0',
      LVSEG_MAX_BATCH: '2',
      LVSEG_ALIAS_POLL_SECONDS: '0.5',
      LVSEG_SERVE_MODEL: 'staging',
      LVSEG_EXTRA_MODELS: '0',
      LVSEG_SERIES_MAX_FILES: '40',
      LVSEG_SERIES_MAX_MB: '2',
      LOG_LEVEL: 'warn',
      LVSEG_HOST: '127.0.0.2',
      LVSEG_WEB_DIR: '/srv/web',
      LVSEG_ENGINE: 'onnx',
      LVSEG_ORT_THREADS: '3',
      LVSEG_ONNX_INT8: 'off',
    });
    expect(c.inference).toEqual({
      port: 8080,
      host: '127.0.0.2',
      maxBodyBytes: 524288,
      maxImageSide: 512,
      queueSize: 4,
      batchWindowMs: 0,
      maxBatchSize: 2,
      aliasPollSeconds: 0.5,
      defaultModelRef: 'staging',
      extraModels: 0,
      seriesMaxFiles: 40,
      seriesMaxBytes: 2 * 1024 * 1024,
      logLevel: 'warn',
      webDir: '/srv/web',
    });
    expect(c.engine).toEqual({ engine: 'onnx', ortThreads: 3, onnxInt8: false });
    expect(loadConfig({ LVSEG_ONNX_INT8: ' on ' }).engine.onnxInt8).toBe(true);
  });

  it('reads the shared settings: store, S3, data, Dice bar, backend, commit', () => {
    const c = loadConfig({
      LVSEG_MODEL_STORE: 's3://models/lvseg',
      S3_ENDPOINT: ' http://minio:9000 ',
      S3_ACCESS_KEY: 'a',
      S3_SECRET_KEY: 'b',
      S3_REGION: 'eu-west-1',
      LVSEG_SHIPPED_MODELS: '/opt/lvseg/models',
      LVSEG_DATA_DIR: '/data',
      LVSEG_MIN_PROMOTE_DICE: '0.85',
      LVSEG_BACKEND: 'cpu',
      LVSEG_GIT_COMMIT: 'abc123',
    });
    expect(c).toMatchObject({
      modelStore: 's3://models/lvseg',
      s3: { endpoint: 'http://minio:9000', accessKey: 'a', secretKey: 'b', region: 'eu-west-1' },
      shippedModels: '/opt/lvseg/models',
      dataDir: '/data',
      minPromoteDice: 0.85,
      backend: 'cpu',
      gitCommit: 'abc123',
    });
    // A blank line in an env file means "not set": the default, not an empty value.
    expect(loadConfig({ LVSEG_MIN_PROMOTE_DICE: '', LVSEG_MODEL_STORE: ' ', PORT: '' })).toMatchObject({ minPromoteDice: 0.8, modelStore: expect.stringMatching(/^file:\/\//), inference: { port: 3000 } });
  });

  it('is frozen: read once, never changed', () => {
    const c = loadConfig({ LVSEG_API_KEYS: `ci:${'s'.repeat(20)}` });
    expect(Object.isFrozen(c) && Object.isFrozen(c.inference) && Object.isFrozen(c.auth.apiKeys) && Object.isFrozen(c.engine)).toBe(true);
    expect(() => {
      (c.inference as { port: number }).port = 1;
    }).toThrow(TypeError);
    // The key's digest (a Buffer) still compares.
    expect(c.auth.apiKeys[0].secretSha256).toBeInstanceOf(Buffer);
  });

  it.each([
    ['PORT', 'http', 'CONFIG_INFERENCE_SETTING', /^PORT must be an integer in \[0, 65535\], got "http"$/],
    ['PORT', '70000', 'CONFIG_INFERENCE_SETTING', /PORT must be an integer/],
    ['LVSEG_QUEUE_SIZE', '0', 'CONFIG_INFERENCE_SETTING', /LVSEG_QUEUE_SIZE must be an integer in \[1, /],
    ['LVSEG_MAX_BATCH', '2.5', 'CONFIG_INFERENCE_SETTING', /LVSEG_MAX_BATCH must be an integer/],
    ['LVSEG_ALIAS_POLL_SECONDS', '-1', 'CONFIG_INFERENCE_SETTING', /LVSEG_ALIAS_POLL_SECONDS must be a number/],
    ['LVSEG_MAX_BODY_MB', 'lots', 'CONFIG_INFERENCE_SETTING', /LVSEG_MAX_BODY_MB must be a number/],
    ['LVSEG_SERIES_MAX_FILES', '1', 'CONFIG_INFERENCE_SETTING', /LVSEG_SERIES_MAX_FILES must be an integer in \[2, 10000\]/],
    ['LVSEG_SERIES_MAX_FILES', '12.5', 'CONFIG_INFERENCE_SETTING', /LVSEG_SERIES_MAX_FILES must be an integer/],
    ['LVSEG_SERIES_MAX_MB', '0', 'CONFIG_INFERENCE_SETTING', /LVSEG_SERIES_MAX_MB must be a number in \[0.001, 4096\]/],
    ['LVSEG_SERVE_MODEL', '../x', 'CONFIG_INFERENCE_SETTING', /LVSEG_SERVE_MODEL must be an alias or version id/],
    ['LOG_LEVEL', 'loud', 'CONFIG_INFERENCE_SETTING', /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/],
    ['LVSEG_ENGINE', 'gpu', 'CONFIG_INFERENCE_SETTING', /LVSEG_ENGINE must be auto, onnx or tfjs, got "gpu"/],
    ['LVSEG_ORT_THREADS', '0', 'CONFIG_INFERENCE_SETTING', /LVSEG_ORT_THREADS must be an integer in \[1, 64\], got "0"/],
    ['LVSEG_ORT_THREADS', 'two', 'CONFIG_INFERENCE_SETTING', /LVSEG_ORT_THREADS must be an integer/],
    ['LVSEG_ONNX_INT8', 'true', 'CONFIG_INFERENCE_SETTING', /^LVSEG_ONNX_INT8 must be on or off, got "true"$/],
    ['LVSEG_MODEL_STORE', 'gs://bucket', 'CONFIG_MODEL_STORE', /LVSEG_MODEL_STORE must start with file:\/\/ or s3:\/\/, got "gs:\/\/bucket"/],
    ['LVSEG_MIN_PROMOTE_DICE', '1.5', 'CONFIG_MIN_DICE', /LVSEG_MIN_PROMOTE_DICE must be a number in \[0, 1\], got "1.5"/],
    ['LVSEG_BACKEND', 'gpu', 'BACKEND_UNKNOWN', /LVSEG_BACKEND must be tensorflow, wasm or cpu, got "gpu"/],
  ])('refuses %s=%s with a config error (%s) naming it', (name, value, code, message) => {
    const err = configError({ [name]: value });
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(err.details).toMatchObject({ setting: name });
  });

  it('names every variable that is wrong at once, not only the first', () => {
    const err = configError({ PORT: 'x', LVSEG_MAX_BATCH: '0', PACS_CONCURRENCY: 'many' });
    expect(err.message.split('; ')).toEqual([
      'PORT must be an integer in [0, 65535], got "x"',
      'LVSEG_MAX_BATCH must be an integer in [1, 256], got "0"',
      'PACS_CONCURRENCY must be an integer in [1, 64], got "many"',
    ]);
    expect(err.details).toMatchObject({ setting: 'PORT', settings: ['PORT', 'LVSEG_MAX_BATCH', 'PACS_CONCURRENCY'] });
  });

  it('needs the S3 connection together, and for an s3:// store', () => {
    const missing = configError({ S3_ENDPOINT: 'http://minio:9000', S3_ACCESS_KEY: 'a' });
    expect([missing.code, missing.message]).toEqual(['MODEL_STORE_S3_CONFIG', 'S3_ENDPOINT is set but S3_SECRET_KEY is not']);
    expect(configError({ S3_ENDPOINT: 'http://minio:9000' }).message).toBe('S3_ENDPOINT is set but S3_ACCESS_KEY and S3_SECRET_KEY are not');
    expect(configError({ LVSEG_MODEL_STORE: 's3://models/x' }).code).toBe('CONFIG_S3_MISSING');
    // The secret is never echoed.
    expect(configError({ S3_ENDPOINT: 'http://minio:9000', S3_SECRET_KEY: 'top-secret' }).message).not.toContain('top-secret');
  });
});

/**
 * One wrong value of every variable that can be wrong on its own or beside others, and the variables that take any
 * text (a path, a name, a secret). Every variable of the schema is in one list or the other, so a new one gets a case.
 */
const SECRET = 'w'.repeat(20);
const WRONG: Record<string, NodeJS.ProcessEnv> = {
  LVSEG_MODEL_STORE: { LVSEG_MODEL_STORE: 's3://UPPER_case/x' },
  S3_ENDPOINT: { S3_ENDPOINT: 'minio:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' },
  S3_ACCESS_KEY: { S3_ENDPOINT: 'http://minio:9000', S3_SECRET_KEY: 'b' },
  S3_SECRET_KEY: { S3_ENDPOINT: 'http://minio:9000', S3_ACCESS_KEY: 'a' },
  LVSEG_MIN_PROMOTE_DICE: { LVSEG_MIN_PROMOTE_DICE: 'high' },
  LVSEG_BACKEND: { LVSEG_BACKEND: 'gpu' },
  PACS_USERNAME: { PACS_USERNAME: 'a:b', PACS_PASSWORD: 'p' },
  PACS_PASSWORD: { PACS_USERNAME: 'u' },
  PORT: { PORT: '-1' },
  LVSEG_MAX_BODY_MB: { LVSEG_MAX_BODY_MB: '0' },
  LVSEG_MAX_IMAGE_SIDE: { LVSEG_MAX_IMAGE_SIDE: '8' },
  LVSEG_QUEUE_SIZE: { LVSEG_QUEUE_SIZE: '0' },
  LVSEG_BATCH_WINDOW_MS: { LVSEG_BATCH_WINDOW_MS: '-1' },
  LVSEG_MAX_BATCH: { LVSEG_MAX_BATCH: '0' },
  LVSEG_ALIAS_POLL_SECONDS: { LVSEG_ALIAS_POLL_SECONDS: '0' },
  LVSEG_SERVE_MODEL: { LVSEG_SERVE_MODEL: 'a b' },
  LVSEG_EXTRA_MODELS: { LVSEG_EXTRA_MODELS: '17' },
  LVSEG_SERIES_MAX_FILES: { LVSEG_SERIES_MAX_FILES: '1' },
  LVSEG_SERIES_MAX_MB: { LVSEG_SERIES_MAX_MB: 'x' },
  LVSEG_ENGINE: { LVSEG_ENGINE: 'gpu' },
  LVSEG_ORT_THREADS: { LVSEG_ORT_THREADS: '65' },
  LVSEG_ONNX_INT8: { LVSEG_ONNX_INT8: 'yes' },
  LOG_LEVEL: { LOG_LEVEL: 'verbose' },
  LVSEG_API_KEYS: { LVSEG_API_KEYS: 'no-secret-here' },
  LVSEG_OIDC_ISSUER: { LVSEG_OIDC_AUDIENCE: 'lvseg', LVSEG_OIDC_JWKS_URL: 'https://idp.example/jwks' },
  LVSEG_OIDC_AUDIENCE: { LVSEG_OIDC_ISSUER: 'https://idp.example', LVSEG_OIDC_JWKS_URL: 'https://idp.example/jwks' },
  LVSEG_OIDC_JWKS_URL: { LVSEG_OIDC_JWKS_URL: 'http://idp.example/jwks' },
  LVSEG_ALLOW_ANONYMOUS: { LVSEG_ALLOW_ANONYMOUS: 'yes' },
  LVSEG_HOST: { LVSEG_HOST: 'every interface' },
  LVSEG_RATE_LIMIT_PER_MINUTE: { LVSEG_RATE_LIMIT_PER_MINUTE: '-1' },
  PACS_URL: { PACS_URL: 'orthanc:8042', PACS_WEBHOOK_SECRET: SECRET },
  PACS_DICOMWEB_ROOT: { PACS_DICOMWEB_ROOT: 'dicom-web' },
  PACS_WEBHOOK_SECRET: { PACS_URL: 'http://orthanc:8042', PACS_WEBHOOK_SECRET: 'short' },
  PACS_CONCURRENCY: { PACS_CONCURRENCY: '0' },
  PACS_POLL_SECONDS: { PACS_POLL_SECONDS: '0' },
  LVSEG_REDIS_URL: { LVSEG_REDIS_URL: 'http://redis:6379' },
  LVSEG_JOBS_QUEUE: { LVSEG_JOBS_QUEUE: 'a:b' },
  LVSEG_JOBS_ATTEMPTS: { LVSEG_JOBS_ATTEMPTS: '0' },
  LVSEG_JOBS_BACKOFF_MS: { LVSEG_JOBS_BACKOFF_MS: '1' },
  LVSEG_JOBS_RATE_MAX: { LVSEG_JOBS_RATE_MAX: '0' },
  LVSEG_JOBS_RATE_SECONDS: { LVSEG_JOBS_RATE_SECONDS: '0' },
  LVSEG_WORKER_CONCURRENCY: { LVSEG_WORKER_CONCURRENCY: '0' },
  LVSEG_WORKER_MODELS: { LVSEG_WORKER_MODELS: '9' },
  LVSEG_JOBS_LOCK_SECONDS: { LVSEG_JOBS_LOCK_SECONDS: '0' },
  LVSEG_JOBS_STALLED_SECONDS: { LVSEG_JOBS_STALLED_SECONDS: '0' },
  LVSEG_JOBS_MAX_STALLED: { LVSEG_JOBS_MAX_STALLED: '0' },
  LVSEG_JOBS_KEEP_DAYS: { LVSEG_JOBS_KEEP_DAYS: '0' },
};
/** Paths, names and secrets: any text is a value (LVSEG_SITE_SECRET's length is checked by `lvseg dataset import`, beside --site-secret). */
const ANY_TEXT = ['LVSEG_SHIPPED_MODELS', 'S3_REGION', 'LVSEG_DATA_DIR', 'LVSEG_GIT_COMMIT', 'LVSEG_SITE_SECRET', 'LVSEG_WEB_DIR', 'LVSEG_PACS_STATE_DIR', 'LVSEG_REDIS_PASSWORD'];

describe('every variable', () => {
  it('is either checked (a case below) or takes any text', () => {
    expect([...Object.keys(WRONG), ...ANY_TEXT].sort()).toEqual([...ENV_VARIABLE_NAMES].sort());
  });

  it.each(Object.entries(WRONG))('%s: a wrong value is a config error naming it, at start', (name, env) => {
    const err = configError(env);
    expect(err.message).toContain(name);
    // The variable a deployment check or a log reader looks at first.
    expect(Object.keys(WRONG)).toContain((err.details as { setting?: string } | undefined)?.setting);
    expect(err.code).toMatch(/^[A-Z0-9_]+$/);
    // Secrets and passwords are never echoed.
    for (const secret of [SECRET, 'no-secret-here', 'short']) expect(err.message).not.toContain(secret);
  });

  it('refuses a model store or S3 endpoint the stores could not open, before any store is opened', () => {
    expect(configError({ LVSEG_MODEL_STORE: 'file://' }).message).toMatch(/^LVSEG_MODEL_STORE file:\/\/ names no directory/);
    expect(configError({ LVSEG_MODEL_STORE: 's3://models/a/../b' }).message).toMatch(/^LVSEG_MODEL_STORE s3:\/\/ prefix segment "\.\." is not a plain name/);
    expect(configError({ S3_ENDPOINT: 'http://minio:9000/bucket', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' })).toMatchObject({ code: 'MODEL_STORE_S3_CONFIG', details: { setting: 'S3_ENDPOINT' } });
    expect(configError({ S3_ENDPOINT: 'http://key:pw@minio:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' }).message).not.toContain('pw');
    expect(loadConfig({ LVSEG_MODEL_STORE: 's3://models/lvseg/v1', S3_ENDPOINT: 'https://s3.example:9000/', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' }).s3?.endpoint).toBe('https://s3.example:9000');
    expect(loadConfig({ LVSEG_HOST: '::', LVSEG_ALLOW_ANONYMOUS: 'true' }).inference.host).toBe('::');
    expect(loadConfig({ LVSEG_HOST: 'lvseg-inference.default.svc', LVSEG_ALLOW_ANONYMOUS: 'true' }).inference.host).toBe('lvseg-inference.default.svc');
  });
});

describe('the schema', () => {
  it('describes every variable (what it is, and its default where it has one)', () => {
    for (const [name, schema] of Object.entries(ENV_SCHEMA.shape)) {
      expect([name, (schema as { description?: string }).description]).toEqual([name, expect.stringMatching(/\w{3}/)]);
    }
  });

  it('is the only reader of the environment in the code libs/ and services/ run (specs, test support and benches aside)', () => {
    // dataRoot() of @lvseg/common: the data root of specs and test support, which run without a loaded configuration.
    const allowed = new Set(['libs/common/src/paths.ts']);
    const readers: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(join(repoRoot(), dir))) {
        const rel = `${dir}/${name}`;
        if (name === 'node_modules' || name.startsWith('.')) continue;
        if (statSync(join(repoRoot(), rel)).isDirectory()) {
          if (!['testing', 'test-support', 'bench', 'web'].includes(name) && rel !== 'libs/config') walk(rel);
        } else if (rel.endsWith('.ts') && !rel.endsWith('.spec.ts') && !rel.endsWith('.d.ts') && !allowed.has(rel)) {
          const text = readFileSync(join(repoRoot(), rel), 'utf8');
          if (/\bprocess\.env\b|\benv\.[A-Z][A-Z0-9_]*\b|\benv\[\s*['"`]/.test(text)) readers.push(rel);
        }
      }
    };
    walk('libs');
    walk('services');
    expect(readers).toEqual([]);
  });

  it('has each variable documented in README.md, services/inference/README.md or docs/PACS.md', () => {
    const docs = ['README.md', 'services/inference/README.md', 'docs/PACS.md'].map((f) => readFileSync(join(repoRoot(), f), 'utf8')).join('\n');
    const undocumented = ENV_VARIABLE_NAMES.filter((name) => !new RegExp(`\`${name}\``).test(docs) && !(name.startsWith('S3_') && docs.includes('`S3_*`')));
    expect(undocumented).toEqual([]);
  });
});
