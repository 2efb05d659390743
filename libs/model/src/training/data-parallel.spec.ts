import * as tf from '@tensorflow/tfjs';
import { NO_AUGMENTATION } from '@lvseg/imaging';
import { initBackend } from '../backend';
import { buildModel } from '../architectures';
import { syntheticSet } from '../testing/synthetic';
import { GradientWorkerPool } from './data-parallel';
import { segmentationLoss } from './loss';
import { trainConfigFor, trainModel } from './index';

/** A batch of `n` side² inputs with a disc of LV in each, as one-hot targets. */
function batch(n: number, side: number): { xs: Float32Array; ys: Float32Array } {
  const xs = new Float32Array(n * side * side);
  const ys = new Float32Array(n * side * side * 2);
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < side * side; i++) {
      const [r, c] = [Math.floor(i / side), i % side];
      const lv = Math.hypot(r - side / 2 - k, c - side / 2 + k) < side / 5 ? 1 : 0;
      xs[k * side * side + i] = 0.2 + 0.6 * lv + 0.1 * Math.sin(r * 0.7 + c * 0.3 + k);
      ys[(k * side * side + i) * 2 + lv] = 1;
    }
  }
  return { xs, ys };
}

describe('GradientWorkerPool (data-parallel training on worker threads)', () => {
  beforeAll(async () => {
    await initBackend();
  });

  it('gives the gradient of the whole batch\'s mean cross-entropy (uneven shards 2 + 1), ce+dice-image exactly too, and ce+dice close to it', async () => {
    const side = 32;
    const model = buildModel('unet-tiny', { seed: 5, size: null });
    const variables = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
    const { xs, ys } = batch(3, side);
    for (const lossName of ['ce', 'ce+dice-image', 'ce+dice'] as const) {
      // The reference: one replica, the whole batch.
      const ref = tf.tidy(() => {
        const x = tf.tensor4d(xs, [3, side, side, 1]);
        const y = tf.tensor4d(ys, [3, side, side, 2]);
        const { value, grads } = tf.variableGrads(() => segmentationLoss(model.apply(x) as tf.Tensor4D, y, lossName), variables);
        return { loss: value.dataSync()[0], grads: variables.map((v) => grads[v.name].dataSync().slice()) };
      });
      const pool = await GradientWorkerPool.start(model, lossName, 2);
      try {
        const got = await pool.step(xs.slice(), ys.slice(), 3, side);
        let maxDiff = 0;
        let maxAbs = 0;
        variables.forEach((v, i) => {
          const g = got.grads[v.name].dataSync();
          for (let j = 0; j < g.length; j++) {
            maxDiff = Math.max(maxDiff, Math.abs(g[j] - ref.grads[i][j]));
            maxAbs = Math.max(maxAbs, Math.abs(ref.grads[i][j]));
          }
        });
        Object.values(got.grads).forEach((g) => g.dispose());
        expect(got.predicted).toHaveLength(3 * side * side);
        if (lossName !== 'ce+dice') {
          // Both are means over the batch's images, so shards weighted by their image counts give the batch's loss.
          expect(got.loss).toBeCloseTo(ref.loss, 5);
          expect(maxDiff / maxAbs).toBeLessThan(1e-4);
        } else {
          // The soft-Dice term is pooled per shard: a different but close loss.
          expect(Math.abs(got.loss - ref.loss)).toBeLessThan(0.05 * ref.loss);
          expect(maxDiff / maxAbs).toBeLessThan(0.5);
          expect(maxDiff).toBeGreaterThan(0);
        }
      } finally {
        await pool.close();
      }
    }
    model.dispose();
  });

  it('trains through fitStage with cfg.workers = 2: the first step\'s loss is the single-thread one, and it learns', async () => {
    const train = syntheticSet(8, 1);
    const val = syntheticSet(2, 2).map((v) => ({ ...v, split: 'val' }));
    const cfg = trainConfigFor('unet-small', { epochs: 2, batchSize: 4, crop: 64, valEvery: 2, augment: NO_AUGMENTATION, learningRate: 0.01, decaySteps: 1000, loss: 'ce' });
    const steps: number[][] = [[], []];
    const single = await trainModel(train, val, cfg, { onStep: (s) => steps[0].push(s.loss) });
    const parallel = await trainModel(train, val, { ...cfg, workers: 2 }, { onStep: (s) => steps[1].push(s.loss) });
    expect(steps[1]).toHaveLength(steps[0].length);
    expect(steps[1][0]).toBeCloseTo(steps[0][0], 5);
    expect(parallel.history[1].trainLoss).toBeLessThan(parallel.history[0].trainLoss);
    single.model.dispose();
    parallel.model.dispose();
  });
});
