import { isLvsegError, SeededRandom } from '@lvseg/common';
import type { GrayImage } from '@lvseg/imaging';
import { buildModel, initBackend, modelToFiles } from '@lvseg/model';
import type { ModelCard } from '@lvseg/model-store';
import * as ort from 'onnxruntime-node';
import { OnnxEngineFactory } from '../engine/onnx-engine';
import { TfjsEngineFactory } from '../engine/tfjs-engine';
import { ModelHandle } from '../models/model-handle';
import { InferenceQueue } from './inference-queue';

function noiseImage(rows: number, columns: number, seed: number): GrayImage {
  const rng = new SeededRandom(seed);
  return { rows, columns, data: Float32Array.from({ length: rows * columns }, () => rng.uniform(0, 1000)) };
}

async function realHandle(seed: number, engine: 'tfjs' | 'onnx' = 'tfjs'): Promise<ModelHandle> {
  const model = buildModel('fcn-paper', { seed });
  const files = await modelToFiles(model);
  model.dispose();
  const card = { version: `fcn-paper-seed-${seed}`, architecture: 'fcn-paper', classes: ['background', 'lv'], preprocessing: {} } as unknown as ModelCard;
  const factory = engine === 'tfjs' ? new TfjsEngineFactory() : new OnnxEngineFactory(ort, { threads: 1 });
  return new ModelHandle(card, await factory.create(card, files));
}

describe('InferenceQueue (real tfjs engines)', () => {
  let a: ModelHandle;
  let b: ModelHandle;
  beforeAll(async () => {
    await initBackend();
    a = await realHandle(1);
    b = await realHandle(2);
  });
  afterAll(() => {
    a.retire();
    b.retire();
  });

  it('batches concurrent segmentations into one forward pass with the same masks as one direct call', async () => {
    const batches: number[] = [];
    const q = new InferenceQueue({ capacity: 10, batchWindowMs: 50, maxBatchSize: 8 }, { batch: (e) => batches.push(e.size) });
    const images = [noiseImage(256, 256, 1), noiseImage(192, 160, 2), noiseImage(300, 280, 3), noiseImage(256, 256, 4)];
    const outcomes = await Promise.all(images.map((im) => q.segment(a, im)));
    expect(batches).toEqual([4]);
    expect(outcomes.map((o) => o.batchSize)).toEqual([4, 4, 4, 4]);
    const direct = await a.engine.segment(images);
    outcomes.forEach((o, k) => {
      expect(o.result.mask).toEqual(direct[k].mask);
      expect([o.result.mask.rows, o.result.mask.columns]).toEqual([images[k].rows, images[k].columns]);
      expect(o.queueMs).toBeGreaterThanOrEqual(0);
      expect(o.inferenceMs).toBeGreaterThan(0);
    });
  });

  it('caps a batch at maxBatchSize and keeps models apart', async () => {
    const batches: string[] = [];
    const q = new InferenceQueue({ capacity: 10, batchWindowMs: 30, maxBatchSize: 2 }, { batch: (e) => batches.push(`${e.version}×${e.size}`) });
    const im = noiseImage(64, 64, 5);
    await Promise.all([q.segment(a, im), q.segment(b, im), q.segment(a, im), q.segment(a, im), q.segment(b, im)]);
    expect(batches).toEqual(['fcn-paper-seed-1×2', 'fcn-paper-seed-2×2', 'fcn-paper-seed-1×1']);
  });

  it('refuses jobs beyond its capacity with a typed 503-kind error carrying Retry-After', async () => {
    let rejected = 0;
    const q = new InferenceQueue({ capacity: 3, batchWindowMs: 20, maxBatchSize: 8 }, { rejected: () => rejected++ });
    const im = noiseImage(64, 64, 6);
    const settled = await Promise.allSettled(Array.from({ length: 5 }, () => q.segment(a, im)));
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(3);
    const errors = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason);
    expect(errors).toHaveLength(2);
    for (const e of errors) {
      expect(isLvsegError(e, 'unavailable') && e.code === 'QUEUE_FULL' && e.details?.retryAfterSeconds === 1).toBe(true);
    }
    expect(rejected).toBe(2);
    expect(q.depth).toBe(0);
  });

  it('runs other work alone and in order; a failure rejects only its own job', async () => {
    const order: string[] = [];
    const q = new InferenceQueue({ capacity: 10, batchWindowMs: 0, maxBatchSize: 8 });
    const results = await Promise.allSettled([
      q.run(a, 'first', async () => order.push('first')),
      q.run(a, 'boom', async () => {
        throw new Error('boom');
      }),
      q.run(a, 'third', async () => order.push('third')),
    ]);
    expect(order).toEqual(['first', 'third']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('rejects every job of a batch whose engine call fails, then keeps serving', async () => {
    const broken = await realHandle(3);
    broken.retire(); // disposed: the engine refuses to run
    const q = new InferenceQueue({ capacity: 10, batchWindowMs: 20, maxBatchSize: 8 });
    const im = noiseImage(64, 64, 7);
    const settled = await Promise.allSettled([q.segment(broken, im), q.segment(broken, im)]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    await expect(q.segment(a, im)).resolves.toMatchObject({ batchSize: 1 });
  });

  it('refuses new work once closed', async () => {
    const q = new InferenceQueue({ capacity: 10, batchWindowMs: 0, maxBatchSize: 8 });
    q.close();
    await expect(q.segment(a, noiseImage(8, 8, 1))).rejects.toMatchObject({ kind: 'unavailable', code: 'SHUTTING_DOWN' });
  });

  it('runs one engine call at a time on tfjs, and two at once on an engine that computes off the event loop', async () => {
    const onnx = await realHandle(4, 'onnx');
    try {
      expect(a.engine.maxConcurrentCalls ?? 1).toBe(1);
      expect(onnx.engine.maxConcurrentCalls).toBe(2);
      const im = noiseImage(256, 256, 8);
      const overlapOn = async (handle: ModelHandle) => {
        const q = new InferenceQueue({ capacity: 16, batchWindowMs: 0, maxBatchSize: 1 });
        // Count the engine calls in flight around the real engine (queueMs is relative to each job's own enqueue
        // time, so comparing intervals across jobs would read a loaded machine's enqueue spread as overlap).
        const engine = handle.engine;
        const segment = engine.segment.bind(engine);
        let inFlight = 0;
        let most = 0;
        engine.segment = async (images) => {
          most = Math.max(most, ++inFlight);
          try {
            return await segment(images);
          } finally {
            inFlight--;
          }
        };
        try {
          const outcomes = await Promise.all(Array.from({ length: 6 }, () => q.segment(handle, im)));
          const direct = (await segment([im]))[0].mask;
          for (const o of outcomes) expect(o.result.mask).toEqual(direct);
        } finally {
          engine.segment = segment;
        }
        return most;
      };
      expect(await overlapOn(a)).toBe(1);
      expect(await overlapOn(onnx)).toBe(2);
    } finally {
      onnx.retire();
    }
  });
});
