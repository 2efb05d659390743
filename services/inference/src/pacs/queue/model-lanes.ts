import type { Logger } from 'pino';
import type { SeriesSegmenter } from './series-job-processor';

/** The series pipeline of one model version, loaded in this worker. */
export interface ModelLane {
  segmenter: SeriesSegmenter;
  close(): Promise<void>;
}

interface Entry {
  lane: Promise<ModelLane>;
  users: number;
  lastUsed: number;
}

/**
 * The model versions a worker keeps loaded (at most `max`, least recently used closed first, never one in use): a
 * worker takes jobs of any version from the one queue, and the live version and a backfill's version alternate.
 */
export class ModelLanes {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly build: (modelVersion: string) => Promise<ModelLane>,
    private readonly max: number,
    private readonly log: Logger,
  ) {}

  get loaded(): string[] {
    return [...this.entries.keys()];
  }

  async acquire(modelVersion: string): Promise<{ segmenter: SeriesSegmenter; release(): void }> {
    let entry = this.entries.get(modelVersion);
    if (!entry) {
      const lane = this.build(modelVersion);
      entry = { lane, users: 0, lastUsed: Date.now() };
      this.entries.set(modelVersion, entry);
      // A version that failed to load is built again by the next job (the store or the file may be back).
      lane.catch(() => {
        if (this.entries.get(modelVersion)?.lane === lane) this.entries.delete(modelVersion);
      });
    }
    const e = entry;
    e.users++;
    let lane: ModelLane;
    try {
      lane = await e.lane;
    } catch (err) {
      e.users--;
      throw err;
    }
    void this.evict();
    let released = false;
    return {
      segmenter: lane.segmenter,
      release: () => {
        if (released) return;
        released = true;
        e.users--;
        e.lastUsed = Date.now();
        void this.evict();
      },
    };
  }

  async closeAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.allSettled(all.map(async (e) => (await e.lane).close()));
  }

  private async evict(): Promise<void> {
    while (this.entries.size > this.max) {
      const idle = [...this.entries].filter(([, e]) => e.users === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed)[0];
      if (!idle) return; // all in use: closed when released
      this.entries.delete(idle[0]);
      this.log.info({ event: 'queue.model_unloaded', modelVersion: idle[0] }, `unloading model ${idle[0]} (at most ${this.max} loaded)`);
      try {
        await (await idle[1].lane).close();
      } catch {
        // it failed to load: nothing to close
      }
    }
  }
}
