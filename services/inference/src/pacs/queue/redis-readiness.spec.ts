import pino from 'pino';
import { loadConfig } from '@lvseg/config';
import { RunningRedis, describeWithRedis, startRedis } from '../../../../../test/support/redis';
import { freePort } from '../../../../../test/support/pacs/orthanc';
import { BullmqSeriesJobQueue } from './bullmq-series-job-queue';
import { RedisReadiness } from './redis-readiness';

/**
 * The bridge's Redis check against a real redis-server: ready while it answers, not ready with the reason once it is
 * stopped (bounded by the check's timeout, so the HTTP probe answers in time), ready again when it is back on the same
 * port; never up at all; and a wrong password, which the reason must not show.
 */
const describeRedis = describeWithRedis();
const TIMING = { readinessCacheMs: 0, readinessTimeoutMs: 1000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeRedis('RedisReadiness (real redis-server)', () => {
  const open: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of open.splice(0).reverse()) await close();
  });

  function setup(redisUrl: string, env: Record<string, string> = {}) {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) });
    const queue = new BullmqSeriesJobQueue(loadConfig({ LVSEG_REDIS_URL: redisUrl, LVSEG_JOBS_QUEUE: 'readiness-spec', ...env }).queue!, async () => 'v1', log);
    open.push(() => queue.onApplicationShutdown());
    const readiness = new RedisReadiness(queue, TIMING, log);
    /** The verdict and how long it took. */
    const check = async () => {
      const started = Date.now();
      const result = await readiness.check();
      return { result, ms: Date.now() - started };
    };
    return { readiness, check, lines };
  }

  /** The check until it gives `ok` (a reconnecting client needs a moment), at most `tries` times. */
  async function untilVerdict(check: () => Promise<{ result: { ok: boolean } }>, ok: boolean, tries = 100) {
    for (let i = 0; ; i++) {
      const { result } = await check();
      if (result.ok === ok || i >= tries) return result;
      await sleep(100);
    }
  }

  it('ready while Redis answers; not ready with the reason, within its timeout, once it stops; ready again when it is back', async () => {
    let redis: RunningRedis | undefined = await startRedis();
    open.push(async () => redis?.stop());
    const { readiness, check, lines } = setup(redis.url);
    expect(readiness.name).toBe('redis');
    expect((await check()).result).toEqual({ ok: true, checkedAt: expect.any(String) });

    const port = redis.port;
    await redis.stop();
    redis = undefined;
    const down = await check();
    expect(down.result).toEqual({ ok: false, checkedAt: expect.any(String), code: 'QUEUE_UNAVAILABLE', message: expect.stringMatching(/^Redis (is not connected|did not answer)|^the job queue is unavailable/) });
    // Bounded by the timeout (not by Redis coming back): the k8s probe (timeoutSeconds 3) gets its answer.
    expect(down.ms).toBeLessThan(TIMING.readinessTimeoutMs + 1500);
    // Once ioredis has tried to reconnect (BullMQ waits 1 s first), the reason says what it met.
    let reason = down.result as { message: string };
    for (let i = 0; i < 100 && !/ECONNREFUSED/.test(reason.message); i++) {
      await sleep(100);
      reason = (await check()).result as { message: string };
    }
    expect(reason).toEqual({ ok: false, checkedAt: expect.any(String), code: 'QUEUE_UNAVAILABLE', message: expect.stringMatching(/^Redis is not connected \((reconnecting|connecting|close)(; last error: connect ECONNREFUSED 127\.0\.0\.1:\d+)\)$/) });

    redis = await startRedis({ port });
    expect(await untilVerdict(check, true)).toEqual({ ok: true, checkedAt: expect.any(String) });
    // Changes only: ready, not ready (once per code), ready.
    expect(lines.filter((l) => /^redis\./.test(String(l.event))).map((l) => [l.event, l.code])).toEqual([
      ['redis.ready', undefined],
      ['redis.not_ready', 'QUEUE_UNAVAILABLE'],
      ['redis.ready', undefined],
    ]);
  });

  it('not ready, with the reason, when Redis has never answered since the start', async () => {
    const port = await freePort();
    const { check } = setup(`redis://127.0.0.1:${port}/0`);
    const first = await check();
    expect(first.result).toMatchObject({ ok: false, code: 'QUEUE_UNAVAILABLE', message: expect.stringMatching(/^Redis did not answer within 1000 ms \(connect/) });
    expect(first.ms).toBeLessThan(TIMING.readinessTimeoutMs + 1500);
    expect(((await check()).result as { message: string }).message).toMatch(/last error: connect ECONNREFUSED 127\.0\.0\.1:\d+/);
  });

  it('not ready with a wrong password, and the reason names no password', async () => {
    const password = 'the-right-redis-password-0123';
    const redis = await startRedis({ args: ['--requirepass', password] });
    open.push(() => redis.stop());
    const wrong = 'a-wrong-redis-password-4567';
    const { check, lines } = setup(`redis://:${wrong}@127.0.0.1:${redis.port}/0`);
    let result = (await check()).result as { message: string };
    for (let i = 0; i < 20 && !/WRONGPASS/.test(result.message); i++) result = (await check()).result as { message: string };
    expect(result).toEqual({ ok: false, checkedAt: expect.any(String), code: 'QUEUE_UNAVAILABLE', message: 'Redis did not answer within 1000 ms (connect; last error: WRONGPASS invalid username-password pair or user is disabled.)' });
    const text = JSON.stringify(result) + JSON.stringify(lines);
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(password);
    // The right one (LVSEG_REDIS_PASSWORD, outside the URL) is ready.
    const right = setup(`redis://127.0.0.1:${redis.port}/0`, { LVSEG_REDIS_PASSWORD: password });
    expect(await untilVerdict(right.check, true)).toMatchObject({ ok: true });
  });
});
