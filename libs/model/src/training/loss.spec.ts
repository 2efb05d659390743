import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { segmentationLoss } from './loss';

// Two 8×8 images: a large LV (16 px) predicted well, a small one (2 px) mostly missed. Logits are chosen per pixel so
// the LV probability is 0.9 where the prediction says LV and 0.1 elsewhere.
function pair(): { logits: tf.Tensor4D; targets: tf.Tensor4D; prob: number[][]; truth: number[][] } {
  const n = 64;
  const truth = [new Array(n).fill(0), new Array(n).fill(0)];
  const pred = [new Array(n).fill(0), new Array(n).fill(0)];
  for (let i = 0; i < 16; i++) truth[0][i] = pred[0][i] = 1;
  truth[1][40] = truth[1][41] = 1;
  pred[1][41] = pred[1][50] = pred[1][51] = 1;
  const l = Math.log(9); // softmax([0, l]) = [0.1, 0.9]
  const logits: number[] = [];
  const targets: number[] = [];
  for (let b = 0; b < 2; b++)
    for (let i = 0; i < n; i++) {
      logits.push(0, pred[b][i] ? l : -l);
      targets.push(1 - truth[b][i], truth[b][i]);
    }
  const prob = pred.map((p) => p.map((v) => (v ? 0.9 : 0.1)));
  return { logits: tf.tensor4d(logits, [2, 8, 8, 2]), targets: tf.tensor4d(targets, [2, 8, 8, 2]), prob, truth };
}

function softDice(p: number[], t: number[]): number {
  let inter = 0, sp = 0, st = 0;
  p.forEach((v, i) => ((inter += v * t[i]), (sp += v), (st += t[i])));
  return (2 * inter + 1) / (sp + st + 1);
}

describe('segmentationLoss', () => {
  beforeAll(async () => {
    await initBackend();
  });

  it('ce+dice-image adds the mean of each image\'s (1 − soft Dice); ce+dice the batch-pooled one', () => {
    const { logits, targets, prob, truth } = pair();
    const ce = segmentationLoss(logits, targets, 'ce').dataSync()[0];
    // Cross-entropy by hand: −log 0.9 where prediction and truth agree, −log 0.1 where they differ.
    let ceRef = 0;
    truth.forEach((t, b) => t.forEach((v, i) => (ceRef -= Math.log(v === (prob[b][i] > 0.5 ? 1 : 0) ? 0.9 : 0.1))));
    expect(ce).toBeCloseTo(ceRef / 128, 5);

    const perImage = (2 - softDice(prob[0], truth[0]) - softDice(prob[1], truth[1])) / 2;
    const pooled = 1 - softDice([...prob[0], ...prob[1]], [...truth[0], ...truth[1]]);
    expect(segmentationLoss(logits, targets, 'ce+dice-image').dataSync()[0]).toBeCloseTo(ce + perImage, 5);
    expect(segmentationLoss(logits, targets, 'ce+dice').dataSync()[0]).toBeCloseTo(ce + pooled, 5);
    // The small, missed cavity weighs as much as the large one per image; pooled, the large LV hides it.
    expect(perImage).toBeGreaterThan(pooled + 0.1);
  });

  it('ce+dice-image on a batch is the mean of the per-image losses (so shards weighted by size give it exactly)', () => {
    const { logits, targets } = pair();
    const both = segmentationLoss(logits, targets, 'ce+dice-image').dataSync()[0];
    const one = (b: number) =>
      segmentationLoss(logits.slice([b, 0, 0, 0], [1, -1, -1, -1]), targets.slice([b, 0, 0, 0], [1, -1, -1, -1]), 'ce+dice-image').dataSync()[0];
    expect(both).toBeCloseTo((one(0) + one(1)) / 2, 5);
  });
});
