import { LvsegError } from '@lvseg/common';
import type { GrayImage } from '@lvseg/imaging';
import type { ImageSegmentation } from '../engine/segmentation-engine';
import type { ModelHandle } from '../models/model-handle';

export interface InferenceQueueOptions {
  /** Jobs waiting or running at once; one more is refused with 503 + Retry-After. */
  capacity: number;
  /** How long the oldest waiting segmentation waits for others to share its forward pass. */
  batchWindowMs: number;
  maxBatchSize: number;
}

/** Hooks for metrics; all optional. */
export interface InferenceQueueObserver {
  depth?(n: number): void;
  rejected?(): void;
  batch?(e: { kind: 'segment' | 'task'; label: string; size: number; ms: number; version: string }): void;
}

export interface SegmentOutcome {
  result: ImageSegmentation;
  /** Waiting time before the forward pass started. */
  queueMs: number;
  /** Time of the whole batched engine call this image was part of. */
  inferenceMs: number;
  batchSize: number;
}

export interface TaskOutcome<T> {
  value: T;
  queueMs: number;
  runMs: number;
}

interface SegmentJob {
  kind: 'segment';
  handle: ModelHandle;
  image: GrayImage;
  enqueuedAt: number;
  resolve(v: SegmentOutcome): void;
  reject(e: unknown): void;
}

interface TaskJob {
  kind: 'task';
  label: string;
  handle: ModelHandle;
  run(): Promise<unknown>;
  enqueuedAt: number;
  resolve(v: TaskOutcome<unknown>): void;
  reject(e: unknown): void;
}

type Job = SegmentJob | TaskJob;

/**
 * The lane to the engines. Bounded (backpressure instead of unbounded latency) and batching: segmentations
 * for the same model that arrive within `batchWindowMs` of the oldest waiting one share one forward pass. Other
 * work (heatmaps, Grad-CAM) runs alone, in arrival order. One engine call at a time, unless every engine involved
 * says more help (`maxConcurrentCalls`: an engine computing off the event loop, e.g. onnxruntime in a worker, gains
 * from preparing the next batch while it runs this one); on the event loop a second call would only split the cores.
 */
export class InferenceQueue {
  private readonly waiting: Job[] = [];
  private runningJobs = 0;
  /** Concurrency limit of each engine call in flight. */
  private readonly running = new Set<{ limit: number }>();
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly options: InferenceQueueOptions,
    private readonly observer: InferenceQueueObserver = {},
  ) {}

  /** Jobs waiting or running. */
  get depth(): number {
    return this.waiting.length + this.runningJobs;
  }

  /** Segments one image with the handle's engine, batched with concurrent requests for the same model. */
  segment(handle: ModelHandle, image: GrayImage): Promise<SegmentOutcome> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'segment', handle, image, enqueuedAt: performance.now(), resolve, reject }));
  }

  /** Runs other engine work (e.g. heatmaps) in turn. */
  run<T>(handle: ModelHandle, label: string, fn: () => Promise<T>): Promise<TaskOutcome<T>> {
    return new Promise((resolve, reject) =>
      this.enqueue({ kind: 'task', label, handle, run: fn, enqueuedAt: performance.now(), resolve: resolve as (v: TaskOutcome<unknown>) => void, reject }),
    );
  }

  /** Refuses new jobs; waiting ones still run. */
  close(): void {
    this.closed = true;
  }

  private enqueue(job: Job): void {
    if (this.closed) {
      job.reject(new LvsegError('unavailable', 'SHUTTING_DOWN', 'the service is shutting down', { retryAfterSeconds: 1 }));
      return;
    }
    if (this.depth >= this.options.capacity) {
      this.observer.rejected?.();
      job.reject(
        new LvsegError('unavailable', 'QUEUE_FULL', `the inference queue is full (${this.options.capacity} requests); retry shortly`, { retryAfterSeconds: 1 }),
      );
      return;
    }
    this.waiting.push(job);
    this.observer.depth?.(this.depth);
    this.schedule();
  }

  /** Whether the head job may start now, given the calls in flight. */
  private canStart(): boolean {
    if (this.waiting.length === 0) return false;
    if (this.running.size === 0) return true;
    let limit = limitOf(this.waiting[0]);
    for (const r of this.running) limit = Math.min(limit, r.limit);
    return this.running.size < limit;
  }

  private schedule(): void {
    if (this.scheduled || !this.canStart()) return;
    const head = this.waiting[0];
    let delay = 0;
    if (head.kind === 'segment' && this.sameModelWaiting(head.handle) < this.options.maxBatchSize) {
      delay = Math.max(0, head.enqueuedAt + this.options.batchWindowMs - performance.now());
    }
    this.scheduled = true;
    const go = () => {
      this.scheduled = false;
      void this.runNext();
    };
    // setImmediate even without a window: lets the event loop read the sockets of requests already arriving.
    if (delay > 0) setTimeout(go, delay);
    else setImmediate(go);
  }

  private sameModelWaiting(handle: ModelHandle): number {
    let n = 0;
    for (const j of this.waiting) if (j.kind === 'segment' && j.handle === handle) n++;
    return n;
  }

  private async runNext(): Promise<void> {
    if (!this.canStart()) return;
    const head = this.waiting[0];
    const call = { limit: limitOf(head) };
    this.running.add(call);
    try {
      if (head.kind === 'segment') await this.runSegmentBatch(head.handle);
      else await this.runTask(head);
    } finally {
      this.running.delete(call);
      this.observer.depth?.(this.depth);
      this.schedule();
    }
  }

  private async runSegmentBatch(handle: ModelHandle): Promise<void> {
    const batch: SegmentJob[] = [];
    for (let i = 0; i < this.waiting.length && batch.length < this.options.maxBatchSize; ) {
      const j = this.waiting[i];
      if (j.kind === 'segment' && j.handle === handle) {
        batch.push(j);
        this.waiting.splice(i, 1);
      } else i++;
    }
    this.runningJobs += batch.length;
    // Another lane may take what is still waiting while this batch runs.
    this.schedule();
    const started = performance.now();
    try {
      const results = await handle.engine.segment(batch.map((j) => j.image));
      const ms = performance.now() - started;
      this.observer.batch?.({ kind: 'segment', label: 'segment', size: batch.length, ms, version: handle.version });
      batch.forEach((j, k) => j.resolve({ result: results[k], queueMs: started - j.enqueuedAt, inferenceMs: ms, batchSize: batch.length }));
    } catch (e) {
      for (const j of batch) j.reject(e);
    } finally {
      this.runningJobs -= batch.length;
    }
  }

  private async runTask(job: TaskJob): Promise<void> {
    this.waiting.shift();
    this.runningJobs += 1;
    this.schedule();
    const started = performance.now();
    try {
      const value = await job.run();
      const ms = performance.now() - started;
      this.observer.batch?.({ kind: 'task', label: job.label, size: 1, ms, version: job.handle.version });
      job.resolve({ value, queueMs: started - job.enqueuedAt, runMs: ms });
    } catch (e) {
      job.reject(e);
    } finally {
      this.runningJobs -= 1;
    }
  }
}

function limitOf(job: Job): number {
  return Math.max(1, job.handle.engine.maxConcurrentCalls ?? 1);
}
