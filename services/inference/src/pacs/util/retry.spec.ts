import { LvsegError } from '@lvseg/common';
import { Semaphore, backoffMs, isTransient, sleep } from './retry';

describe('retry helpers', () => {
  it('classifies transient errors', () => {
    expect(isTransient(new LvsegError('unavailable', 'PACS_UNREACHABLE', 'x'))).toBe(true);
    expect(isTransient(new LvsegError('unavailable', 'PACS_SERVER_ERROR', 'x'))).toBe(true);
    expect(isTransient(new LvsegError('unavailable', 'MODEL_NOT_READY', 'x'))).toBe(true);
    expect(isTransient(new LvsegError('unavailable', 'QUEUE_FULL', 'x'))).toBe(true);
    // Wrong credentials do not fix themselves within a job.
    expect(isTransient(new LvsegError('unavailable', 'PACS_AUTH_FAILED', 'x'))).toBe(false);
    expect(isTransient(new LvsegError('invalid-input', 'PACS_REFUSED', 'x'))).toBe(false);
    expect(isTransient(new Error('boom'))).toBe(false);
  });

  it('backs off exponentially within [delay/2, delay], capped', () => {
    expect([1, 2, 3, 4, 10].map((a) => backoffMs(a, 100, 1000, () => 1))).toEqual([100, 200, 400, 800, 1000]);
    expect([1, 2, 3, 4, 10].map((a) => backoffMs(a, 100, 1000, () => 0))).toEqual([50, 100, 200, 400, 500]);
  });

  it('sleep ends early on abort', async () => {
    const ac = new AbortController();
    const started = performance.now();
    const p = sleep(10_000, ac.signal);
    ac.abort();
    await p;
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('the semaphore admits at most `size` holders, in arrival order', async () => {
    const sem = new Semaphore(2);
    const order: string[] = [];
    let running = 0;
    let maxRunning = 0;
    await Promise.all(
      ['a', 'b', 'c', 'd', 'e'].map(async (name) => {
        const release = await sem.acquire();
        order.push(name);
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(5);
        running--;
        release();
        release(); // a second release is a no-op
      }),
    );
    expect(maxRunning).toBe(2);
    expect(order).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(sem.inUse).toBe(0);
  });
});
