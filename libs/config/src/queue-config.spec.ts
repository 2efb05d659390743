import { isLvsegError } from '@lvseg/common';
import { loadConfig } from './config';

const queueOf = (env: NodeJS.ProcessEnv) => loadConfig(env).queue;

describe('loadConfig: the job queue settings', () => {
  it('is off (undefined) without LVSEG_REDIS_URL: the in-process mode', () => {
    expect(queueOf({})).toBeUndefined();
    expect(queueOf({ LVSEG_REDIS_URL: ' ' })).toBeUndefined();
  });

  it('has documented defaults', () => {
    expect(queueOf({ LVSEG_REDIS_URL: 'redis://redis:6379/0' })).toEqual({
      redisUrl: 'redis://redis:6379/0',
      queueName: 'lvseg-series',
      attempts: 5,
      backoffMs: 5000,
      rateLimit: { max: 20, durationMs: 60_000 },
      workerConcurrency: 1,
      workerModels: 2,
      lockDurationMs: 120_000,
      stalledIntervalMs: 30_000,
      maxStalledCount: 3,
      keepFinishedSeconds: 30 * 86_400,
    });
  });

  it('reads every setting', () => {
    expect(
      queueOf({
        LVSEG_REDIS_URL: 'rediss://cache.example.org:6380',
        LVSEG_REDIS_PASSWORD: 'pw',
        LVSEG_JOBS_QUEUE: 'lvseg-backfill',
        LVSEG_JOBS_ATTEMPTS: '3',
        LVSEG_JOBS_BACKOFF_MS: '200',
        LVSEG_JOBS_RATE_MAX: '5',
        LVSEG_JOBS_RATE_SECONDS: '0.5',
        LVSEG_WORKER_CONCURRENCY: '2',
        LVSEG_WORKER_MODELS: '1',
        LVSEG_JOBS_LOCK_SECONDS: '4',
        LVSEG_JOBS_STALLED_SECONDS: '1',
        LVSEG_JOBS_MAX_STALLED: '5',
        LVSEG_JOBS_KEEP_DAYS: '1',
      }),
    ).toEqual({
      redisUrl: 'rediss://cache.example.org:6380',
      redisPassword: 'pw',
      queueName: 'lvseg-backfill',
      attempts: 3,
      backoffMs: 200,
      rateLimit: { max: 5, durationMs: 500 },
      workerConcurrency: 2,
      workerModels: 1,
      lockDurationMs: 4000,
      stalledIntervalMs: 1000,
      maxStalledCount: 5,
      keepFinishedSeconds: 86_400,
    });
  });

  it.each([
    [{ LVSEG_REDIS_URL: 'http://redis:6379' }, /redis:\/\/ or rediss:\/\/ URL, got a http: URL/],
    [{ LVSEG_REDIS_URL: 'not a url' }, /must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ LVSEG_REDIS_URL: 'redis://redis:6379/cache' }, /path must be a database number/],
    [{ LVSEG_JOBS_QUEUE: 'a:b' }, /LVSEG_JOBS_QUEUE must be letters/],
    [{ LVSEG_JOBS_ATTEMPTS: '0' }, /LVSEG_JOBS_ATTEMPTS must be an integer in \[1, 100\]/],
    [{ LVSEG_JOBS_RATE_MAX: '2.5' }, /LVSEG_JOBS_RATE_MAX must be an integer/],
    [{ LVSEG_JOBS_LOCK_SECONDS: 'long' }, /LVSEG_JOBS_LOCK_SECONDS must be a number/],
    [{ LVSEG_WORKER_CONCURRENCY: '65' }, /LVSEG_WORKER_CONCURRENCY must be an integer in \[1, 64\]/],
  ])('refuses %j with a clear message', (override, message) => {
    let error: unknown;
    try {
      queueOf({ LVSEG_REDIS_URL: 'redis://127.0.0.1:6379', ...override } as NodeJS.ProcessEnv);
    } catch (e) {
      error = e;
    }
    expect(isLvsegError(error, 'config')).toBe(true);
    expect((error as Error).message).toMatch(message);
  });

  it('never echoes a password given in the URL', () => {
    let error: unknown;
    try {
      queueOf({ LVSEG_REDIS_URL: 'redis://:s3cret-pass@redis:6379/abc' });
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).not.toContain('s3cret-pass');
  });
});
