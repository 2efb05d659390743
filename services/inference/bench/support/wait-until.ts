export interface WaitOptions {
  /** Between two checks; default 100 ms. */
  pollMs?: number;
  /** Checked before each try: a reason to give up at once (e.g. the process exited), or undefined. */
  failed?: () => string | undefined;
  /** Appended to the time-out error (e.g. the tail of a log). */
  detail?: () => string;
}

/** Resolves once `ready()` holds; throws when `failed()` gives a reason, or after `timeoutMs`. */
export async function waitUntil(what: string, ready: () => Promise<boolean> | boolean, timeoutMs: number, opts: WaitOptions = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const failure = opts.failed?.();
    if (failure) throw new Error(failure);
    if (await ready()) return;
    if (Date.now() > deadline) {
      const detail = opts.detail?.();
      throw new Error(`timed out waiting for ${what} (${timeoutMs / 1000} s)${detail ? `: ${detail}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
  }
}
