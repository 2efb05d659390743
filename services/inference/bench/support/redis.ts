/**
 * A real redis-server (Debian's): on a free loopback port, its own temporary folder, nothing persisted elsewhere;
 * stopped (and the folder removed) by `stop()`. Used by the benchmarks and, through test/support/redis.ts (which adds
 * the skip / CI=true rule), by the tests; it lives beside the benchmarks because they run from dist/ and the build
 * leaves test/** out.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';
import { waitUntil } from './wait-until';

const REDIS_BINARIES = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'];

function redisBinary(): string | undefined {
  const found = REDIS_BINARIES.find((p) => existsSync(p));
  if (found) return found;
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : undefined;
}

/** Why redis-server cannot be started here, or undefined. */
export function redisMissingReason(): string | undefined {
  return redisBinary() ? undefined : 'redis-server is not installed (apt-get install redis-server)';
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

/** Starts redis-server and resolves once it accepts connections (within 20 s). */
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
  const logText = () => chunks.join('');
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil('redis-server to accept connections', () => /Ready to accept connections/.test(logText()), 20_000, {
      pollMs: 50,
      failed: () => (child.exitCode !== null ? `redis-server exited at start (code ${child.exitCode}): ${logText().slice(-2000)}` : undefined),
      detail: () => logText().slice(-2000),
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: `redis://127.0.0.1:${port}/0`, port, logText, stop };
}
