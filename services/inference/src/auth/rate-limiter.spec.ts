import { RateLimiter } from './rate-limiter';

describe('RateLimiter', () => {
  let t = 0;
  const clock = () => t;
  beforeEach(() => (t = 0));

  it('lets a caller burst up to the per-minute number, then refills at that rate, each caller on its own', () => {
    const limiter = new RateLimiter(60, clock);
    for (let i = 0; i < 60; i++) expect(limiter.take('ci')).toEqual({ allowed: true });
    const refused = limiter.take('ci');
    expect(refused.allowed).toBe(false);
    // 60 a minute = one a second: the next one in a second.
    expect((refused as { retryAfterSeconds: number }).retryAfterSeconds).toBeCloseTo(1, 6);
    expect(limiter.take('viewer')).toEqual({ allowed: true });
    t = 500;
    expect((limiter.take('ci') as { retryAfterSeconds: number }).retryAfterSeconds).toBeCloseTo(0.5, 6);
    t = 1000;
    expect(limiter.take('ci')).toEqual({ allowed: true });
    expect(limiter.take('ci').allowed).toBe(false);
    t = 1000 + 60_000 * 10;
    for (let i = 0; i < 60; i++) expect(limiter.take('ci').allowed).toBe(true);
    expect(limiter.take('ci').allowed).toBe(false);
  });

  it('does nothing when the limit is 0', () => {
    const limiter = new RateLimiter(0, clock);
    for (let i = 0; i < 1000; i++) expect(limiter.take('ci').allowed).toBe(true);
  });

  it('keeps at most maxCallers buckets, dropping the least recently seen', () => {
    const limiter = new RateLimiter(1, clock, 2);
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('b').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(false); // a seen again: now most recent
    expect(limiter.take('c').allowed).toBe(true); // drops b
    expect(limiter.take('a').allowed).toBe(false);
    expect(limiter.take('b').allowed).toBe(true); // a fresh bucket: b was dropped
  });
});
