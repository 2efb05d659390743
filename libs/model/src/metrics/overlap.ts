/**
 * Pixel-overlap metrics between a predicted and an expert LV mask. Any non-zero mask value counts as LV.
 */
import type { BinaryMask } from '@lvseg/imaging';
import { assertSameSize } from './mask-checks';

/** Pixel counts of the 2 x 2 confusion matrix, LV being the positive class. */
export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/** Counts true/false positives/negatives of `pred` against `truth`; throws `invalid-input` on a size mismatch. */
export function confusion(pred: BinaryMask, truth: BinaryMask): Confusion {
  assertSameSize(pred, truth);
  const p = pred.data;
  const t = truth.data;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < p.length; i++) {
    const inPred = p[i] !== 0;
    const inTruth = t[i] !== 0;
    if (inPred && inTruth) tp++;
    else if (inPred) fp++;
    else if (inTruth) fn++;
  }
  return { tp, fp, fn, tn: p.length - tp - fp - fn };
}

/** Dice from confusion counts: 2TP / (2TP + FP + FN); 1 when both masks are empty (see `dice`). */
export function diceFromConfusion(c: Confusion): number {
  const denominator = 2 * c.tp + c.fp + c.fn;
  return denominator === 0 ? 1 : (2 * c.tp) / denominator;
}

/** Jaccard from confusion counts: TP / (TP + FP + FN); 1 when both masks are empty. */
export function jaccardFromConfusion(c: Confusion): number {
  const denominator = c.tp + c.fp + c.fn;
  return denominator === 0 ? 1 : c.tp / denominator;
}

/** Pixel accuracy from confusion counts: (TP + TN) / all pixels; 1 for a 0-pixel image. */
export function pixelAccuracyFromConfusion(c: Confusion): number {
  const total = c.tp + c.fp + c.fn + c.tn;
  return total === 0 ? 1 : (c.tp + c.tn) / total;
}

/**
 * Dice coefficient 2|P∩T| / (|P| + |T|).
 * Both masks empty → 1 by convention (the prediction "there is no LV" is exactly right, and a 0/0 must not poison a
 * mean). An empty prediction against a non-empty truth (or the reverse) → 0.
 */
export function dice(pred: BinaryMask, truth: BinaryMask): number {
  return diceFromConfusion(confusion(pred, truth));
}

/** Jaccard index (IoU) |P∩T| / |P∪T|; same conventions as `dice` (both empty → 1, one empty → 0). */
export function jaccard(pred: BinaryMask, truth: BinaryMask): number {
  return jaccardFromConfusion(confusion(pred, truth));
}

/** Share of pixels where prediction and truth agree. LV is ~1.6 % of a Sunnybrook image, so prefer Dice. */
export function pixelAccuracy(pred: BinaryMask, truth: BinaryMask): number {
  return pixelAccuracyFromConfusion(confusion(pred, truth));
}
