import { Worker } from 'node:worker_threads';
import { extname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { LvsegError } from '@lvseg/common';
import type { LossName } from './loss';
import type { GradientReply, GradientRequest, GradientWorkerInit } from './gradient-worker';

/** One data-parallel step's outcome: the whole batch's loss and gradients, and the predicted classes in batch order. */
export interface ParallelStep {
  loss: number;
  /** Mean over the shards weighted by their image counts: the gradient of the batch's mean loss (see `GradientWorkerPool`). */
  grads: tf.NamedTensorMap;
  predicted: Uint8Array;
}

/** The code a worker evaluates: under ts (tests, tsx) it registers tsx first so the .ts module and its aliases load. */
function workerSource(entry: string): string {
  return `${entry.endsWith('.ts') ? "require('tsx/cjs/api').register();\n" : ''}require(${JSON.stringify(entry)});`;
}

/**
 * Data-parallel training on the cores of one machine: `size` worker threads, each with a replica of the network. A
 * step sends the current weights and one shard of the batch to each worker (images split as evenly as possible), and
 * averages their gradients weighted by shard size, which is exactly the gradient of the batch's mean cross-entropy (a
 * mean over equally many pixels per image). The soft-Dice term of `ce+dice` is pooled per shard instead of over the
 * whole batch, so that loss is close to, not equal to, one replica's. The optimizer stays on the caller's model.
 */
export class GradientWorkerPool {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(r: GradientReply): void; reject(e: Error): void }>();

  private constructor(
    private readonly workers: Worker[],
    private readonly variables: tf.Variable[],
  ) {
    for (const w of workers) {
      w.on('message', (r: GradientReply) => {
        const p = this.pending.get(r.id);
        if (!p) return;
        this.pending.delete(r.id);
        p.resolve(r);
      });
      w.on('error', (e) => this.failAll(new Error(`gradient worker failed: ${e.message}`)));
      w.on('exit', (code) => this.failAll(new Error(`gradient worker exited (${code})`)));
    }
  }

  /** Starts `size` workers holding replicas of `model` (its topology; weights travel with every step). */
  static async start(model: tf.LayersModel, loss: LossName, size: number): Promise<GradientWorkerPool> {
    if (!(Number.isInteger(size) && size >= 2)) throw new LvsegError('invalid-input', 'BAD_WORKERS', `a gradient worker pool needs at least 2 workers, got ${size}`);
    const init: GradientWorkerInit = { topology: JSON.stringify(model.toJSON(null, false)), loss, backend: tf.getBackend() };
    const entry = join(__dirname, `gradient-worker${extname(__filename)}`);
    const workers = Array.from({ length: size }, () => new Worker(workerSource(entry), { eval: true, workerData: init }));
    try {
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve, reject) => {
              w.once('message', (m: { ready: boolean; error?: string }) => (m.ready ? resolve() : reject(new Error(m.error))));
              w.once('error', reject);
            }),
        ),
      );
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw new LvsegError('unavailable', 'GRADIENT_WORKERS_FAILED', `the gradient workers did not start: ${(e as Error).message}`);
    }
    const variables = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
    return new GradientWorkerPool(workers, variables);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Loss, gradients (named as the caller's variables, for `optimizer.applyGradients`) and predictions of one batch. */
  async step(xs: Float32Array, ys: Float32Array, batch: number, side: number): Promise<ParallelStep> {
    const weights = this.variables.map((v) => v.dataSync() as Float32Array);
    const per = side * side;
    const shards: Array<[number, number]> = [];
    const n = Math.min(batch, this.workers.length);
    for (let k = 0, start = 0; k < n; k++) {
      const count = Math.floor(batch / n) + (k < batch % n ? 1 : 0);
      shards.push([start, count]);
      start += count;
    }
    const replies = await Promise.all(
      shards.map(([start, count], k) => {
        const req: GradientRequest = {
          id: this.nextId++,
          weights: weights.map((w) => w.slice()),
          xs: xs.slice(start * per, (start + count) * per),
          ys: ys.slice(start * per * 2, (start + count) * per * 2),
          shape: [count, side, side, 1],
        };
        return this.call(this.workers[k], req);
      }),
    );
    let loss = 0;
    const sums = this.variables.map((v) => new Float32Array(v.size));
    const predicted = new Uint8Array(batch * per);
    replies.forEach((r, k) => {
      const [start, count] = shards[k];
      const weight = count / batch;
      loss += weight * r.loss;
      r.grads.forEach((g, i) => {
        const sum = sums[i];
        for (let j = 0; j < g.length; j++) sum[j] += weight * g[j];
      });
      predicted.set(r.predicted, start * per);
    });
    const grads: tf.NamedTensorMap = {};
    this.variables.forEach((v, i) => (grads[v.name] = tf.tensor(sums[i], v.shape)));
    return { loss, grads, predicted };
  }

  async close(): Promise<void> {
    this.failAll(new Error('gradient worker pool closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private call(worker: Worker, req: GradientRequest): Promise<Extract<GradientReply, { ok: true }>> {
    return new Promise((resolve, reject) => {
      this.pending.set(req.id, {
        resolve: (r) => (r.ok ? resolve(r) : reject(new LvsegError('unavailable', 'GRADIENT_WORKER_ERROR', `a gradient worker failed its step: ${r.error}`))),
        reject,
      });
      worker.postMessage(req, [...(req.weights ?? []).map((w) => w.buffer as ArrayBuffer), req.xs.buffer as ArrayBuffer, req.ys.buffer as ArrayBuffer]);
    });
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
