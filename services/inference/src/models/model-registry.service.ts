import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { LvsegError, isLvsegError } from '@lvseg/common';
import type { InferenceConfig } from '@lvseg/config';
import { ModelCard, ModelStore, assertRef } from '@lvseg/model-store';
import { APP_LOGGER, ENGINE_FACTORY, INFERENCE_CONFIG, MODEL_STORE } from '../tokens';
import type { EngineFactory } from '../engine/segmentation-engine';
import { MetricsService } from '../metrics/metrics.service';
import { ModelHandle } from './model-handle';

/** Why a version is not served; kept so a broken version is not re-downloaded on every poll. */
export interface RefusedVersion {
  version: string;
  /** LvsegError kind of the failure ('integrity' for a sha256 mismatch), or 'unexpected'. */
  kind: string;
  code: string;
  message: string;
  at: string;
}

export interface ServingStatus {
  ready: boolean;
  defaultRef: string;
  version?: string;
  architecture?: string;
  /** What runs the served model's forward pass (SegmentationEngine.runtime). */
  runtime?: string;
  loadedAt?: string;
  lastPollAt?: string;
  lastPollError?: string;
  refused: RefusedVersion[];
}

/**
 * Owns the loaded models. Serves the default ref (`production`) from a handle swapped atomically when the alias
 * moves (polled every `aliasPollSeconds`); a version that fails its sha256 check or does not load is refused and the
 * old one keeps serving. Other refs asked for with `?model=` are loaded on demand into a small LRU.
 */
@Injectable()
export class ModelRegistry implements OnApplicationBootstrap, OnApplicationShutdown {
  private current?: ModelHandle;
  private readonly extra = new Map<string, ModelHandle>();
  private readonly loading = new Map<string, Promise<ModelHandle>>();
  private readonly refused = new Map<string, RefusedVersion>();
  private readonly resolved = new Map<string, { version: string; at: number }>();
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private pollSeq = 0;
  private appliedSeq = 0;
  private lastPollAt?: Date;
  private lastPollError?: string;
  private stopped = false;

  constructor(
    @Inject(MODEL_STORE) private readonly store: ModelStore,
    @Inject(ENGINE_FACTORY) private readonly engines: EngineFactory,
    @Inject(INFERENCE_CONFIG) private readonly config: InferenceConfig,
    @Inject(APP_LOGGER) private readonly log: Logger,
    private readonly metrics: MetricsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // A store that is down or has no alias yet does not stop the service: it stays unready and keeps polling.
    await this.poll();
    this.scheduleNextPoll();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling?.catch(() => undefined);
    await Promise.allSettled(this.loading.values());
    this.current?.retire();
    this.current = undefined;
    for (const h of this.extra.values()) h.retire();
    this.extra.clear();
  }

  /** The store this registry reads (for the models endpoints). */
  get modelStore(): ModelStore {
    return this.store;
  }

  status(): ServingStatus {
    return {
      ready: this.current !== undefined,
      defaultRef: this.config.inference.defaultModelRef,
      version: this.current?.version,
      architecture: this.current?.architecture,
      runtime: this.current?.engine.runtime,
      loadedAt: this.current?.loadedAt.toISOString(),
      lastPollAt: this.lastPollAt?.toISOString(),
      lastPollError: this.lastPollError,
      refused: [...this.refused.values()],
    };
  }

  /**
   * The model for a request, acquired (call `release()` when done). No ref, or the default ref, gives the model
   * currently served; anything else is resolved in the store: 400 for a malformed ref, 404 unknown, 503 refused.
   */
  async acquire(ref?: string): Promise<ModelHandle> {
    const defaultRef = this.config.inference.defaultModelRef;
    if (ref === undefined || ref === '' || ref === defaultRef) {
      if (!this.current) {
        throw new LvsegError('unavailable', 'MODEL_NOT_READY', `no model is loaded yet for "${defaultRef}"${this.lastPollError ? ` (${this.lastPollError})` : ''}`, { retryAfterSeconds: 5 });
      }
      return this.current.acquire();
    }
    assertRef(ref);
    const version = await this.resolveCached(ref);
    if (this.current?.version === version) return this.current.acquire();
    const cached = this.extra.get(version);
    if (cached) {
      // Refresh its LRU position.
      this.extra.delete(version);
      this.extra.set(version, cached);
      return cached.acquire();
    }
    this.throwIfRefused(version);
    if (this.config.inference.extraModels === 0) {
      throw new LvsegError('unsupported', 'MODEL_NOT_SERVED', `this service only serves "${defaultRef}" (LVSEG_EXTRA_MODELS=0)`);
    }
    let handle: ModelHandle;
    try {
      handle = await this.load(version);
    } catch (e) {
      this.throwIfRefused(version); // a permanent failure is answered as a refusal (503), not as the load error's kind
      throw e;
    }
    if (this.current?.version === version) {
      handle.retire();
      return this.current.acquire();
    }
    if (!this.extra.has(version)) {
      this.extra.set(version, handle);
      while (this.extra.size > this.config.inference.extraModels) {
        const [oldest, evicted] = this.extra.entries().next().value as [string, ModelHandle];
        this.extra.delete(oldest);
        evicted.retire();
      }
    }
    return (this.extra.get(version) ?? handle).acquire();
  }

  /** `store.resolve`, remembered for one poll interval so `?model=<alias>` does not hit the store on every request. */
  private async resolveCached(ref: string): Promise<string> {
    const hit = this.resolved.get(ref);
    const ttlMs = this.config.inference.aliasPollSeconds * 1000;
    if (hit && performance.now() - hit.at < ttlMs) return hit.version;
    const version = await this.store.resolve(ref);
    this.resolved.set(ref, { version, at: performance.now() });
    if (this.resolved.size > 256) this.resolved.delete(this.resolved.keys().next().value as string);
    return version;
  }

  /**
   * Re-reads the default alias and swaps to its version when it moved. Never throws; concurrent calls share one poll.
   * A poll stuck on the store (a stalled connection) is given up after a timeout so polling goes on; if it finishes
   * later, its result is used only when no newer poll has swapped in the meantime.
   */
  poll(): Promise<void> {
    if (!this.polling) {
      const seq = ++this.pollSeq;
      this.polling = withTimeout(this.pollOnce(seq), this.storeTimeoutMs(), 'polling the model store')
        .catch((e: unknown) => {
          this.lastPollError = describe(e);
          this.log.warn({ event: 'model.poll_failed', code: codeOf(e) }, this.lastPollError);
        })
        .finally(() => {
          this.polling = undefined;
        });
    }
    return this.polling;
  }

  private async pollOnce(seq: number): Promise<void> {
    const ref = this.config.inference.defaultModelRef;
    this.lastPollAt = new Date();
    let version: string;
    const started = performance.now();
    try {
      version = await this.store.resolve(ref);
      this.log.debug({ event: 'model.poll', ref, version, ms: Math.round(performance.now() - started) }, `polled ${ref}`);
    } catch (e) {
      this.lastPollError = `resolving "${ref}" failed: ${describe(e)}`;
      this.log.warn({ event: 'model.poll_failed', ref, code: codeOf(e) }, this.lastPollError);
      return;
    }
    this.lastPollError = undefined;
    if (version === this.current?.version || this.refused.has(version) || this.stopped) return;
    const previous = this.current?.version;
    try {
      const fromExtra = this.extra.get(version);
      const next = fromExtra ?? (await this.load(version));
      if (this.stopped || seq < this.appliedSeq || next === this.current) {
        // Shut down, or overtaken by a newer poll while loading: do not swap back to an older answer.
        if (next !== this.current && !fromExtra) next.retire();
        return;
      }
      if (fromExtra) this.extra.delete(version);
      this.appliedSeq = seq;
      const old = this.current;
      this.current = next; // the swap: new requests get `next` from here on
      old?.retire(); // freed once its in-flight requests are done
      this.metrics.setServedModel(next.version, next.architecture);
      this.metrics.modelSwaps.inc({ outcome: 'loaded' });
      this.log.info({ event: 'model.swapped', ref, version, previous, architecture: next.architecture }, `serving ${ref} = ${version}${previous ? ` (was ${previous})` : ''}`);
    } catch (e) {
      if (isLvsegError(e, 'unavailable') || isLvsegError(e, 'not-found')) {
        // Not refused: the store may answer next time.
        this.lastPollError = `loading ${version} failed: ${describe(e)}`;
        this.log.warn({ event: 'model.load_failed', ref, version, code: codeOf(e) }, this.lastPollError);
        return;
      }
      this.log.error({ event: 'model.refused', ref, version, keptServing: previous ?? null, code: codeOf(e) }, `refused ${version} for ${ref}: ${describe(e)}`);
      this.metrics.modelSwaps.inc({ outcome: 'refused' });
    }
  }

  /** A store call that hangs (a stalled connection) must not stop polling for good. */
  private storeTimeoutMs(): number {
    return Math.max(30_000, this.config.inference.aliasPollSeconds * 3000);
  }

  private scheduleNextPoll(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll().finally(() => this.scheduleNextPoll());
    }, this.config.inference.aliasPollSeconds * 1000);
    this.timer.unref();
  }

  /** Loads and verifies one version (sha256 in the store, shape and warm-up in the engine); concurrent loads share. */
  private load(version: string): Promise<ModelHandle> {
    let p = this.loading.get(version);
    if (!p) {
      p = this.loadUncached(version).finally(() => this.loading.delete(version));
      this.loading.set(version, p);
    }
    return p;
  }

  private async loadUncached(version: string): Promise<ModelHandle> {
    this.throwIfRefused(version);
    const started = performance.now();
    let card: ModelCard;
    try {
      const loaded = await this.store.load(version);
      card = loaded.card;
      const engine = await this.engines.create(card, loaded.files);
      this.log.info({ event: 'model.loaded', version, architecture: card.architecture, ms: Math.round(performance.now() - started) }, `loaded model ${version}`);
      return new ModelHandle(card, engine);
    } catch (e) {
      // Stored bytes are immutable: a version that fails its check or does not load fails the same way next time.
      // A store that is down ('unavailable') or a version not yet visible ('not-found') is retried on the next poll.
      if (!isLvsegError(e, 'unavailable') && !isLvsegError(e, 'not-found')) {
        this.refused.set(version, { version, kind: isLvsegError(e) ? e.kind : 'unexpected', code: codeOf(e), message: describe(e), at: new Date().toISOString() });
      }
      throw e;
    }
  }

  private throwIfRefused(version: string): void {
    const r = this.refused.get(version);
    if (r) {
      throw new LvsegError(r.kind === 'integrity' ? 'integrity' : 'unavailable', 'MODEL_REFUSED', `model ${version} was refused at load (${r.code}): ${r.message}`, { version, cause: r.code });
    }
  }
}

/** Rejects with an 'unavailable' error when `p` takes longer than `ms` (the work itself is not cancelled). */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LvsegError('unavailable', 'MODEL_STORE_TIMEOUT', `${what} took longer than ${Math.round(ms / 1000)} s`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function codeOf(e: unknown): string {
  return isLvsegError(e) ? e.code : 'UNEXPECTED';
}

function describe(e: unknown): string {
  return String(e instanceof Error ? e.message : e).slice(0, 300);
}
