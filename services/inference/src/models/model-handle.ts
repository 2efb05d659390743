import type { ModelCard } from '@lvseg/model-store';
import type { SegmentationEngine } from '../engine/segmentation-engine';

/**
 * A loaded model version shared by requests. Requests `acquire` it for their whole lifetime; a handle that is
 * retired (replaced by a newer version, or evicted) frees its engine only once the last request has released it.
 */
export class ModelHandle {
  private inFlight = 0;
  private retired = false;
  private disposed = false;
  readonly loadedAt = new Date();

  constructor(
    readonly card: ModelCard,
    readonly engine: SegmentationEngine,
  ) {}

  get version(): string {
    return this.card.version;
  }

  get architecture(): string {
    return this.card.architecture;
  }

  get activeRequests(): number {
    return this.inFlight;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Marks one more request using this model; pair with `release`. */
  acquire(): this {
    if (this.disposed) throw new Error(`model ${this.version} acquired after dispose`);
    this.inFlight++;
    return this;
  }

  release(): void {
    this.inFlight--;
    this.disposeIfIdle();
  }

  /** No new requests will get this handle; free it as soon as none uses it. */
  retire(): void {
    this.retired = true;
    this.disposeIfIdle();
  }

  private disposeIfIdle(): void {
    if (this.retired && this.inFlight <= 0 && !this.disposed) {
      this.disposed = true;
      this.engine.dispose();
    }
  }
}
