/**
 * The one place stage timings are measured: every stage of a pipeline run (decode, predict, postprocess, …, and the
 * PACS path's own retrieve and store) adds its wall time here, and each entry point reads the stages its answer shows.
 */
export class StageClock {
  private readonly elapsed = new Map<string, number>();

  /** Adds `ms` to `stage` (a stage run once per image adds up over the images). */
  add(stage: string, ms: number): void {
    this.elapsed.set(stage, (this.elapsed.get(stage) ?? 0) + ms);
  }

  /** Runs `fn` and adds its wall time to `stage`, also when it throws. */
  time<T>(stage: string, fn: () => T): T {
    const start = performance.now();
    try {
      return fn();
    } finally {
      this.add(stage, performance.now() - start);
    }
  }

  /** `time` for async work: the time until the promise settles. */
  async timeAsync<T>(stage: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.add(stage, performance.now() - start);
    }
  }

  /** Milliseconds spent in `stage`, or undefined when it did not run. */
  ms(stage: string): number | undefined {
    return this.elapsed.get(stage);
  }

  /** The stages that ran, in the order they first ran. */
  get stages(): string[] {
    return [...this.elapsed.keys()];
  }
}
