import type { Logger } from 'pino';
import { isLvsegError } from '@lvseg/common';

/**
 * Something besides the model that the service needs to do its work (the PACS of the PACS bridge, the Redis of its
 * job queue): a module provides its checks under READINESS_CHECKS and GET /health/ready answers 503, with the reason
 * of every failing check, while one fails.
 */
export interface ReadinessCheck {
  /** What is checked, e.g. "pacs" or "redis" (the key of its verdict in the ready answer and in the 503 body). */
  readonly name: string;
  /** ok, or the failure as an error code and a message that names no secret and no patient. */
  check(): Promise<ReadinessResult>;
}

export type ReadinessResult = { ok: true; checkedAt: string } | { ok: false; checkedAt: string; code: string; message: string };

/** Injection token of the ReadinessCheck[] GET /health/ready runs (all of them, concurrently). */
export const READINESS_CHECKS = Symbol('READINESS_CHECKS');

export interface CachedReadinessOptions {
  /** A verdict is reused this long (probes come every few seconds; the thing checked need not be asked each time). */
  cacheMs: number;
  /** Logged when the check passes after failing (or at its first pass). */
  readyMessage: string;
  /** The verdict when the probe throws something other than an LvsegError (the error itself is logged, not shown). */
  unexpected: { code: string; message: string };
}

/**
 * A ReadinessCheck around a probe that throws an LvsegError (code and message shown) when the thing is unusable.
 * One probe at a time (concurrent calls share it), its verdict cached `cacheMs`; changes of verdict are logged as
 * `<name>.ready` / `<name>.not_ready`, not every probe. The probe bounds its own time, so the HTTP probe answers
 * within its timeout.
 */
export class CachedReadinessCheck implements ReadinessCheck {
  private last?: { at: number; result: ReadinessResult };
  private inFlight?: Promise<ReadinessResult>;

  constructor(
    readonly name: string,
    private readonly probe: () => Promise<void>,
    private readonly opts: CachedReadinessOptions,
    private readonly log: Logger,
  ) {}

  check(): Promise<ReadinessResult> {
    if (this.last && Date.now() - this.last.at < this.opts.cacheMs) return Promise.resolve(this.last.result);
    this.inFlight ??= this.run().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async run(): Promise<ReadinessResult> {
    const checkedAt = new Date().toISOString();
    let result: ReadinessResult;
    try {
      await this.probe();
      result = { ok: true, checkedAt };
    } catch (e) {
      result = isLvsegError(e) ? { ok: false, checkedAt, code: e.code, message: e.message } : { ok: false, checkedAt, ...this.opts.unexpected };
      if (!isLvsegError(e)) this.log.error({ event: `${this.name}.readiness_check_failed`, err: e }, `the ${this.name} readiness check failed unexpectedly`);
    }
    const before = this.last?.result;
    if (!before || before.ok !== result.ok || (!before.ok && !result.ok && before.code !== result.code)) {
      if (result.ok) this.log.info({ event: `${this.name}.ready` }, this.opts.readyMessage);
      else this.log.warn({ event: `${this.name}.not_ready`, code: result.code }, `not ready: ${result.message}`);
    }
    this.last = { at: Date.now(), result };
    return result;
  }
}
