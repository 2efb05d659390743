import { isLvsegError } from '@lvseg/common';
import { RETRYABLE_PACS_CODES } from '../client/orthanc-client';

/** Errors worth another attempt later: the PACS or the model is (momentarily) unavailable, or the queue is full. */
export function isTransient(e: unknown): boolean {
  if (!isLvsegError(e, 'unavailable')) return false;
  return RETRYABLE_PACS_CODES.has(e.code) || e.code === 'MODEL_NOT_READY' || e.code === 'QUEUE_FULL' || e.code === 'MODEL_STORE_TIMEOUT';
}

/**
 * Errors about the content itself (an image no codec can decode, a transfer syntax lvseg does not read, a series that
 * cannot make a SEG): another attempt reads the same bytes, so they are retried only a few times (a retrieve cut or
 * garbled on the way) and then end the job as failed, with the reason.
 */
export function isPermanent(e: unknown): boolean {
  return isLvsegError(e, 'invalid-input') || isLvsegError(e, 'unsupported');
}

/** Exponential backoff with full jitter in [delay/2, delay]: attempt 1 → ~base, doubling up to `maxMs`. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Resolves after `ms`, or at once when `signal` aborts (callers check their own stop flag afterwards). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    // Waiting alone never keeps the process alive (the HTTP server does while the app runs).
    timer.unref();
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A counting semaphore: at most `size` holders at once, served in arrival order. */
export class Semaphore {
  private held = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly size: number) {}

  get inUse(): number {
    return this.held;
  }

  async acquire(): Promise<() => void> {
    if (this.held < this.size) this.held++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the releaser hands its slot over
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.held--;
    };
  }
}
