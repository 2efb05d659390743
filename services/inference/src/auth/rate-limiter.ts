/**
 * Per-caller request rate limit: a token bucket per caller id (an API key's name, or `oidc:<sub>`) holding
 * `perMinute` requests, refilled at `perMinute / 60` a second, so a caller may burst up to a minute's worth and then
 * keeps the average. Buckets of callers not seen for a while are dropped first when there are more than `maxCallers`.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = () => performance.now(),
    private readonly maxCallers = 10_000,
  ) {}

  /** Takes one request from `caller`'s bucket: true when allowed, else the seconds until one is. */
  take(caller: string): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    if (this.perMinute <= 0) return { allowed: true };
    const now = this.now();
    const perMs = this.perMinute / 60_000;
    const previous = this.buckets.get(caller);
    const tokens = previous ? Math.min(this.perMinute, previous.tokens + (now - previous.at) * perMs) : this.perMinute;
    // Re-inserted so the Map's order is least recently seen first.
    this.buckets.delete(caller);
    if (tokens < 1) {
      this.buckets.set(caller, { tokens, at: now });
      return { allowed: false, retryAfterSeconds: (1 - tokens) / perMs / 1000 };
    }
    this.buckets.set(caller, { tokens: tokens - 1, at: now });
    if (this.buckets.size > this.maxCallers) this.buckets.delete(this.buckets.keys().next().value as string);
    return { allowed: true };
  }
}
