import { existsSync, mkdtempSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import pino from 'pino';
import { RunningRedis, describeWithRedis, startRedis } from '../../../../../test/support/redis';
import { WorkerHeartbeat } from './worker-heartbeat';

/**
 * The worker's probe files against a real redis-server, pinged the way the worker pings (a BullMQ client, whose
 * ioredis connection queues commands while it reconnects): both touched while Redis answers; with Redis stopped the alive file still is
 * (no restart) and the ready file is not, within the PING timeout; both again once Redis is back on the same port;
 * neither once the worker no longer runs.
 */
const describeRedis = describeWithRedis();

describeRedis('WorkerHeartbeat (real redis-server)', () => {
  let dir: string;
  let redis: RunningRedis | undefined;
  let queue: Queue | undefined;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'lvseg-heartbeat-'))));
  afterEach(async () => {
    await queue?.close().catch(() => undefined);
    queue = undefined;
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('alive while the worker runs, ready only while Redis answers', async () => {
    redis = await startRedis();
    queue = new Queue('heartbeat-spec', { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null, retryStrategy: () => 100 } });
    const client = (await queue.client) as unknown as { ping(): Promise<string> }; // ioredis, as the worker's
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) });
    let running = true;
    const files = { aliveFile: join(dir, 'alive'), readyFile: join(dir, 'ready') };
    const heartbeat = new WorkerHeartbeat({ running: () => running, ping: async () => (await client.ping()) === 'PONG', log, pingTimeoutMs: 1000, ...files });
    const past = new Date(Date.now() - 3_600_000);
    const age = (f: string) => Date.now() - statSync(f).mtimeMs;
    const backdate = () => Object.values(files).forEach((f) => utimesSync(f, past, past));

    expect(await heartbeat.beat()).toEqual({ alive: true, ready: true });
    expect([existsSync(files.aliveFile), existsSync(files.readyFile)]).toEqual([true, true]);

    const port = redis.port;
    await redis.stop();
    backdate();
    const started = Date.now();
    expect(await heartbeat.beat()).toEqual({ alive: true, ready: false });
    expect(Date.now() - started).toBeLessThan(10_000); // the PING's 1 s timeout, not a hang (ioredis queues it)
    expect(age(files.aliveFile)).toBeLessThan(60_000);
    expect(age(files.readyFile)).toBeGreaterThan(3_000_000);
    expect(lines.filter((l) => l.event === 'queue.redis_unanswered')).toHaveLength(1);
    // A PING still pending when the next beat comes: alive, not ready, no second PING piled on.
    expect(await heartbeat.beat()).toEqual({ alive: true, ready: false });
    expect(lines.filter((l) => l.event === 'queue.redis_unanswered')).toHaveLength(1);

    redis = await startRedis({ port });
    let verdict = { alive: false, ready: false };
    for (let i = 0; i < 100 && !verdict.ready; i++) {
      verdict = await heartbeat.beat();
      if (!verdict.ready) await new Promise((r) => setTimeout(r, 100));
    }
    expect(verdict).toEqual({ alive: true, ready: true });
    expect(age(files.readyFile)).toBeLessThan(60_000);
    expect(lines.filter((l) => l.event === 'queue.redis_back')).toHaveLength(1);

    running = false;
    backdate();
    expect(await heartbeat.beat()).toEqual({ alive: false, ready: false });
    expect(age(files.aliveFile)).toBeGreaterThan(3_000_000);
    expect(age(files.readyFile)).toBeGreaterThan(3_000_000);
  });
});
