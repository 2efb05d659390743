/**
 * A real redis-server for tests (Debian's redis-server): on a free loopback port, its own temporary folder, no
 * persistence to the repository; stopped (and the folder removed) by `stop()`.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './pacs/orthanc';

const REDIS_BINARIES = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'];

function redisBinary(): string | undefined {
  const found = REDIS_BINARIES.find((p) => existsSync(p));
  if (found) return found;
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : undefined;
}

/** Why tests needing Redis cannot run here, or undefined. */
export function redisMissingReason(): string | undefined {
  return redisBinary() ? undefined : 'redis-server is not installed (apt-get install redis-server)';
}

/**
 * The `describe` to use for a suite needing redis-server: `describe.skip` with the reason printed when it is missing,
 * and an error under CI=true (a CI run must not pass by skipping).
 */
export function describeWithRedis(extraReason?: string): jest.Describe {
  const reason = redisMissingReason() ?? extraReason;
  if (!reason) return describe;
  if (process.env.CI === 'true') throw new Error(`this test cannot run under CI=true (it must not pass by skipping): ${reason}`);
  // eslint-disable-next-line no-console
  console.warn(`skipping: ${reason}`);
  return describe.skip;
}

export interface RunningRedis {
  url: string;
  port: number;
  logText(): string;
  stop(): Promise<void>;
}

export interface RedisOptions {
  /** Default: a free one. A given port restarts "the same" Redis after `stop()` (clients reconnect to it). */
  port?: number;
  /** More redis-server arguments, e.g. ['--requirepass', '…']. */
  args?: string[];
}

export async function startRedis(opts: RedisOptions = {}): Promise<RunningRedis> {
  const binary = redisBinary();
  if (!binary) throw new Error(redisMissingReason());
  const dir = mkdtempSync(join(tmpdir(), 'lvseg-redis-'));
  const port = opts.port ?? (await freePort());
  const chunks: string[] = [];
  // BullMQ wants noeviction (a job evicted under memory pressure would be lost); AOF so a restart keeps the queue.
  const child: ChildProcess = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--maxmemory-policy', 'noeviction', '--protected-mode', 'yes', ...(opts.args ?? [])], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => chunks.push(String(d)));
  child.stderr?.on('data', (d) => chunks.push(String(d)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  while (!/Ready to accept connections/.test(chunks.join(''))) {
    if (child.exitCode !== null) throw new Error(`redis-server exited at start (code ${child.exitCode}): ${chunks.join('').slice(-2000)}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not start within 20 s: ${chunks.join('').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `redis://127.0.0.1:${port}/0`, port, logText: () => chunks.join(''), stop };
}
