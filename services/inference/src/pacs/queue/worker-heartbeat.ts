import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';

/**
 * A worker serves no HTTP, so its probes read two files' age (k8s/base/worker.yaml, docker-compose.yml):
 * - alive: touched while the process's event loop turns and its BullMQ worker runs. Liveness: a Redis outage must not
 *   restart workers (they reconnect by themselves), a wedged or stopped worker must be.
 * - ready: touched only while Redis also answers. Readiness/health: a worker cut off from Redis takes no jobs.
 */
export const WORKER_ALIVE_FILE = join(tmpdir(), 'lvseg-worker.alive');
export const WORKER_READY_FILE = join(tmpdir(), 'lvseg-worker.ready');
/** How often both files are considered (the probes allow a few beats' age). */
export const WORKER_HEARTBEAT_MS = 10_000;
/** A Redis that has not answered a PING within this long counts as not answering (ioredis queues commands while it reconnects). */
export const WORKER_PING_TIMEOUT_MS = 3_000;

export interface WorkerHeartbeatOptions {
  /** Whether the BullMQ worker is running (not closed, not crashed). */
  running(): boolean;
  /** PING Redis: true on PONG. May hang while disconnected: the heartbeat bounds it by `pingTimeoutMs`. */
  ping(): Promise<boolean>;
  log: Logger;
  aliveFile?: string;
  readyFile?: string;
  intervalMs?: number;
  pingTimeoutMs?: number;
}

export class WorkerHeartbeat {
  private timer?: NodeJS.Timeout;
  private readonly aliveFile: string;
  private readonly readyFile: string;
  private pinging = false;
  private redisWasDown = false;

  constructor(private readonly opts: WorkerHeartbeatOptions) {
    this.aliveFile = opts.aliveFile ?? WORKER_ALIVE_FILE;
    this.readyFile = opts.readyFile ?? WORKER_READY_FILE;
  }

  /** One beat now, then every `intervalMs` (the timer does not keep the process up). */
  async start(): Promise<void> {
    await this.beat();
    // A failed write (a full /tmp) is logged and tried again next beat: it must not end the worker as an unhandled rejection.
    this.timer = setInterval(() => void this.beat().catch((e) => this.opts.log.warn({ event: 'queue.heartbeat_failed', message: (e as Error).message }, `worker heartbeat: ${(e as Error).message}`)), this.opts.intervalMs ?? WORKER_HEARTBEAT_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Touches the alive file if the worker runs, and the ready file if Redis also answers in time; says which. */
  async beat(): Promise<{ alive: boolean; ready: boolean }> {
    if (!this.opts.running()) return { alive: false, ready: false };
    writeFileSync(this.aliveFile, new Date().toISOString());
    // A PING still pending from an earlier beat (Redis unreachable): not ready, and no second one piled on it.
    if (this.pinging) return { alive: true, ready: false };
    const ready = await this.redisAnswers();
    if (ready) writeFileSync(this.readyFile, new Date().toISOString());
    if (ready === this.redisWasDown) {
      this.redisWasDown = !ready;
      if (ready) this.opts.log.info({ event: 'queue.redis_back' }, 'worker: Redis answers again; ready');
      else this.opts.log.warn({ event: 'queue.redis_unanswered' }, `worker: Redis does not answer (PING within ${this.opts.pingTimeoutMs ?? WORKER_PING_TIMEOUT_MS} ms); not ready, still alive`);
    }
    return { alive: true, ready };
  }

  private async redisAnswers(): Promise<boolean> {
    this.pinging = true;
    let timer: NodeJS.Timeout | undefined;
    const ping = this.opts.ping().then(
      (ok) => ok,
      () => false,
    ).finally(() => (this.pinging = false));
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.opts.pingTimeoutMs ?? WORKER_PING_TIMEOUT_MS)));
    try {
      return await Promise.race([ping, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
