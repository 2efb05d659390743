import * as tf from '@tensorflow/tfjs';
import { DEFAULT_AUGMENTATION, NO_AUGMENTATION } from '@lvseg/imaging';
import { syntheticSet } from '../testing/synthetic';
import { initBackend } from '../backend';
import { staircaseLearningRate } from './schedule';
import { buildModel } from '../architectures';
import { copyInitialWeights, hasWeightShapesOf, trainConfigFor, trainModel } from './index';

describe('staircaseLearningRate', () => {
  it('decays by decayRate every decaySteps steps (staircase)', () => {
    expect(staircaseLearningRate(0, 0.03, 0.75, 10000)).toBe(0.03);
    expect(staircaseLearningRate(9999, 0.03, 0.75, 10000)).toBe(0.03);
    expect(staircaseLearningRate(10000, 0.03, 0.75, 10000)).toBeCloseTo(0.0225, 10);
    expect(staircaseLearningRate(25000, 0.03, 0.75, 10000)).toBeCloseTo(0.03 * 0.75 * 0.75, 10);
  });
});

// Weights are compared by their largest difference: toEqual on millions of numbers is slow, and jest's diff of a
// failure blocks the test process for many minutes, past any timeout.
const furthest = (a: number[][], b: number[][]) => {
  expect(a.map((w) => w.length)).toEqual(b.map((w) => w.length));
  return Math.max(...a.map((w, k) => w.reduce((m, v, i) => Math.max(m, Math.abs(v - b[k][i])), 0)));
};

describe('trainModel', () => {
  beforeAll(async () => {
    await initBackend();
  });

  const cfg = trainConfigFor('unet-small', { epochs: 3, batchSize: 4, crop: 64, valEvery: 3, augment: NO_AUGMENTATION, learningRate: 0.01, decaySteps: 1000 });

  it('learns a synthetic disc, is deterministic for a seed, and leaks no tensors', async () => {
    const train = syntheticSet(8, 1);
    const val = syntheticSet(2, 2).map((v) => ({ ...v, split: 'val' }));
    const before = tf.memory().numTensors;
    const a = await trainModel(train, val, cfg);
    const weightsA = a.model.getWeights().map((w) => w.dataSync().slice());
    a.model.dispose();
    expect(tf.memory().numTensors).toBe(before);

    expect(a.history).toHaveLength(3);
    expect(a.history[2].trainLoss).toBeLessThan(a.history[0].trainLoss);
    expect(a.history[2].val?.images).toBe(2);

    const b = await trainModel(train, val, cfg);
    const weightsB = b.model.getWeights().map((w) => w.dataSync().slice());
    b.model.dispose();
    expect(b.history.map((h) => h.trainLoss)).toEqual(a.history.map((h) => h.trainLoss));
    expect(weightsB.map((w) => Array.from(w.slice(0, 16)))).toEqual(weightsA.map((w) => Array.from(w.slice(0, 16))));
  });

  it('starts from a trained model when given one (fine-tuning): same weights at step 0, lower first-epoch loss', async () => {
    const train = syntheticSet(8, 1);
    const val = syntheticSet(2, 2).map((v) => ({ ...v, split: 'val' }));
    const fresh = await trainModel(train, val, cfg);
    const tuned = await trainModel(train, val, { ...cfg, epochs: 1, learningRate: 0 }, {}, fresh.model);
    // With a zero learning rate the run only evaluates: its weights are exactly the ones it started from, and they
    // stay the new model's own once the model it started from is disposed (as the CLI does).
    const a = fresh.model.getWeights().map((w) => Array.from(w.dataSync()));
    fresh.model.dispose();
    const b = tuned.model.getWeights().map((w) => Array.from(w.dataSync()));
    expect(furthest(b, a)).toBe(0);
    expect(tuned.history[0].trainLoss).toBeLessThan(fresh.history[0].trainLoss);
    expect(tuned.history[0].val?.dice).toBeCloseTo(fresh.history[2].val!.dice, 10);
    tuned.model.dispose();
  });

  it('resumes an interrupted plain-SGD run exactly (startEpoch): same losses, learning rates and weights as the uninterrupted run', async () => {
    // Augmentation and LV-centred crops draw from the seeded stream, and the schedule decays every 2 steps (one
    // epoch), so a resume that restarted the stream or the step counter would differ from the uninterrupted run.
    const train = syntheticSet(8, 3);
    const sgd = trainConfigFor('unet-small', { epochs: 4, batchSize: 4, crop: 64, lvCropProbability: 0.5, valEvery: 10, augment: DEFAULT_AUGMENTATION, optimizer: 'sgd', learningRate: 0.05, decayRate: 0.5, decaySteps: 2 });
    const whole = await trainModel(train, [], sgd);
    const first = await trainModel(train, [], { ...sgd, epochs: 2 });
    const resumed = await trainModel(train, [], { ...sgd, startEpoch: 2, initFrom: 'first' }, {}, first.model);
    const restarted = await trainModel(train, [], { ...sgd, epochs: 2, initFrom: 'first' }, {}, first.model);
    const weights = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

    expect(resumed.history.map((h) => h.epoch)).toEqual([3, 4]);
    expect(resumed.history.map((h) => [h.trainLoss, h.learningRate])).toEqual(whole.history.slice(2).map((h) => [h.trainLoss, h.learningRate]));
    expect(resumed.history.map((h) => h.learningRate)).toEqual([0.05 * 0.5 ** 2, 0.05 * 0.5 ** 3]); // steps 5 and 7 ended epochs 3 and 4;
    expect(resumed.steps).toBe(whole.steps);
    expect(resumed.bestEpoch).toBe(4);
    expect(furthest(weights(resumed.model), weights(whole.model))).toBe(0);
    // Restarting from the same weights at step 0 with the stream from its start is another run.
    expect(restarted.history[0].trainLoss).not.toBe(whole.history[2].trainLoss);
    [whole, first, resumed, restarted].forEach((r) => r.model.dispose());
  });

  it('with averageFrom keeps the mean of the epoch-end weights from that epoch on, and trains on from the last weights', async () => {
    const train = syntheticSet(4, 4);
    const val = syntheticSet(2, 5).map((v) => ({ ...v, split: 'val' }));
    const run = { ...cfg, epochs: 3, valEvery: 1, learningRate: 0.01 };
    const weights = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
    const ends: number[][][] = [];
    const before = tf.memory().numTensors;
    const swa = await trainModel(train, val, { ...run, averageFrom: 2 }, { onEpochEnd: (_, m) => void ends.push(weights(m)) });
    const plainEnds: number[][][] = [];
    const plain = await trainModel(train, val, run, { onEpochEnd: (_, m) => void plainEnds.push(weights(m)) });
    // The optimiser's path does not depend on the averaging: the same epoch-end weights and losses as without it.
    expect(swa.history.map((h) => h.trainLoss)).toEqual(plain.history.map((h) => h.trainLoss));
    ends.forEach((w, e) => expect(furthest(w, plainEnds[e])).toBe(0));
    // What val measured at epochs 2 and 3 was the average (epoch 2: its own weights; epoch 3: mean of 2 and 3).
    expect(swa.history[0].val!.dice).toBe(plain.history[0].val!.dice);
    expect(swa.history[1].val!.dice).toBe(plain.history[1].val!.dice);
    const kept = weights(swa.model);
    const mean = ends[1].map((w, k) => w.map((v, i) => (v + ends[2][k][i]) / 2));
    if (swa.bestEpoch === 3) expect(furthest(kept, mean)).toBeLessThan(1e-6);
    else expect(furthest(kept, ends[swa.bestEpoch - 1])).toBe(0);
    expect(swa.history[2].val!.dice).not.toBe(plain.history[2].val!.dice);
    swa.model.dispose();
    plain.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses to start from a model of another layout, with a typed error', () => {
    const target = buildModel('unet-small', { seed: 1, size: null });
    const other = buildModel('fcn-paper', { seed: 1, size: 256 });
    let error: unknown;
    try {
      copyInitialWeights(target, other);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ kind: 'invalid-input', code: 'INIT_MODEL_MISMATCH', message: expect.stringMatching(/^cannot start from that model: it has \d+ weight tensors, this architecture has \d+$/) });
    target.dispose();
    other.dispose();
  });

  it('tells whether a model has the weight shapes of an architecture (a cascade lending its segmenter or not)', () => {
    const small = buildModel('unet-small', { seed: 1, size: null });
    const before = tf.memory().numTensors;
    expect(hasWeightShapesOf(small, 'unet-small')).toBe(true);
    expect(hasWeightShapesOf(small, 'unet-tiny')).toBe(false); // same layers, half the filters
    expect(hasWeightShapesOf(small, 'fcn-paper')).toBe(false);
    expect(tf.memory().numTensors).toBe(before); // the probe models are disposed
    small.dispose();
  });
});
