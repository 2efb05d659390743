/**
 * How well a set of expert masks agrees with a set of predicted ones when the masks are moved rigidly: the integer
 * shift (same for every image of a case) that maximises the mean Dice of `pred` against the shifted expert mask.
 * A case whose agreement jumps under one shift that no other case needs is a registration question about its labels
 * (or a systematic model error) for a human to look at; the masks themselves are never changed.
 */
import type { BinaryMask } from '@lvseg/imaging';
import { assertSameSize } from './mask-checks';

export interface ShiftAgreement {
  /** Rows and columns the expert mask moves by (+: down, right). */
  dRow: number;
  dColumn: number;
  /** Mean Dice over the pairs at that shift, and unshifted. */
  dice: number;
  unshiftedDice: number;
}

/**
 * Dice of `pred` against `truth` moved by every (dRow, dColumn) in [-maxShift, maxShift]²: a row-major table of
 * (2·maxShift+1)² values. A truth pixel moved outside the image is lost (it still counts in |truth|). Two empty
 * masks agree (1) at every shift, as `dice` says.
 */
export function shiftedDiceTable(pred: BinaryMask, truth: BinaryMask, maxShift: number): Float64Array {
  assertSameSize(pred, truth);
  const { rows, columns } = pred;
  const side = 2 * maxShift + 1;
  const overlap = new Float64Array(side * side);
  let nPred = 0;
  let nTruth = 0;
  for (let i = 0; i < pred.data.length; i++) if (pred.data[i]) nPred++;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      if (!truth.data[r * columns + c]) continue;
      nTruth++;
      for (let dr = -maxShift; dr <= maxShift; dr++) {
        const rr = r + dr;
        if (rr < 0 || rr >= rows) continue;
        const base = (dr + maxShift) * side + maxShift;
        for (let dc = -maxShift; dc <= maxShift; dc++) {
          const cc = c + dc;
          if (cc >= 0 && cc < columns && pred.data[rr * columns + cc]) overlap[base + dc]++;
        }
      }
    }
  }
  const denominator = nPred + nTruth;
  return overlap.map((o) => (denominator === 0 ? 1 : (2 * o) / denominator));
}

/** The one shift, within ±maxShift pixels, that best aligns a case's expert masks with its predictions (ties: the smallest move). */
export function bestLabelShift(pairs: Array<{ pred: BinaryMask; truth: BinaryMask }>, maxShift: number): ShiftAgreement {
  if (!pairs.length) throw new Error('bestLabelShift: no mask pairs');
  const side = 2 * maxShift + 1;
  const mean = new Float64Array(side * side);
  for (const { pred, truth } of pairs) shiftedDiceTable(pred, truth, maxShift).forEach((d, k) => (mean[k] += d / pairs.length));
  let best = maxShift * side + maxShift;
  const move = (k: number) => Math.abs(Math.floor(k / side) - maxShift) + Math.abs((k % side) - maxShift);
  mean.forEach((d, k) => {
    if (d > mean[best] + 1e-12 || (Math.abs(d - mean[best]) <= 1e-12 && move(k) < move(best))) best = k;
  });
  return { dRow: Math.floor(best / side) - maxShift, dColumn: (best % side) - maxShift, dice: mean[best], unshiftedDice: mean[maxShift * side + maxShift] };
}
