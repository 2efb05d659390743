/**
 * Evaluation of predicted LV masks against expert masks, reported the way the MICCAI 2009 LV challenge did
 * (Radau et al. 2009): Dice, and the share of "good" contours (APD below a threshold) with Dice and APD averaged over
 * the good ones, plus plain pixel accuracy, per image, per case and overall.
 */
import type { BinaryMask } from '@lvseg/imaging';
import { LvsegError } from '@lvseg/common';
import { Confusion, confusion, diceFromConfusion, jaccardFromConfusion, pixelAccuracyFromConfusion } from './overlap';
import { averagePerpendicularDistance } from './contour';

/**
 * Unit of APD (and of the good-contour threshold): mm when every image of the report has a pixel spacing, else px for
 * every image, so a report never averages millimetres with pixels.
 */
export type ApdUnit = 'mm' | 'px';

/** One image to evaluate. `pixelSpacingMm` is [row, column] spacing; without it APD is in pixels. */
export interface EvaluationItem {
  id: string;
  case: string;
  pred: BinaryMask;
  truth: BinaryMask;
  pixelSpacingMm?: [number, number];
}

export interface EvaluationOptions {
  /**
   * A contour is "good" when its APD is strictly below this, in the report's `apdUnit` (mm, or px when an image has no
   * pixel spacing). 5 mm is the threshold of the challenge paper; the challenge's own evaluation script
   * (compare_contours.m v0.9) used 4 mm.
   */
  goodApdMm?: number;
}

export interface ImageEvaluation {
  id: string;
  case: string;
  dice: number;
  jaccard: number;
  pixelAccuracy: number;
  /** APD in `apdUnit` (the name predates px); null when undefined, i.e. exactly one of pred/truth is empty. */
  apdMm: number | null;
  good: boolean;
  apdUnit: ApdUnit;
  /** Same as `apdUnit === 'px'` (kept for readers of earlier JSON). */
  apdInPixels: boolean;
  /** Pixel counts behind the overlap figures (for Dice pooled over images). */
  confusion: Confusion;
}

export interface CaseEvaluation {
  case: string;
  images: number;
  meanDice: number;
  /** Dice of the case's images pooled: 2·Σ|A∩B| / (Σ|A| + Σ|B|). */
  pooledDice: number;
  meanJaccard: number;
  /** Mean of the per-image pixel accuracies. */
  pixelAccuracy: number;
  goodContourRate: number;
  /** Mean APD (in the report's `apdUnit`) over the case's images whose APD is defined; null when none is. */
  meanApdMm: number | null;
  /** Mean APD over the case's good contours (the challenge's per-case figure), in `apdUnit`; null when none is good. */
  meanApdMmGood: number | null;
  /** Mean Dice over the case's good contours; null when none is good. */
  meanDiceGood: number | null;
}

export interface EvaluationReport {
  images: number;
  /** The good-contour threshold, in `apdUnit` (5: 5 mm, or 5 px on images without pixel spacing). */
  goodApdMm: number;
  /** Unit of every APD figure and of `goodApdMm`: 'px' as soon as one image has no pixel spacing (see `ApdUnit`). */
  apdUnit: ApdUnit;
  /** Same as `apdUnit === 'px'` (kept for readers of earlier JSON). */
  apdInPixels: boolean;
  /** Mean Dice over all images; an empty prediction against a non-empty truth counts as 0. */
  meanDice: number;
  /**
   * Dice pooled over all images, 2·Σ|A∩B| / (Σ|A| + Σ|B|), as the paper's TF1 lab computes it: large LVs weigh more,
   * and an image where both masks are empty adds nothing (its per-image Dice is 1).
   */
  pooledDice: number;
  meanJaccard: number;
  /** Mean of the per-image pixel accuracies. */
  pixelAccuracy: number;
  /** Share of images with APD < goodApdMm (in `apdUnit`). */
  goodContourRate: number;
  /** Mean Dice over good contours only; null when there is none. */
  meanDiceGood: number | null;
  /** Mean APD over good contours only, in `apdUnit`; null when there is none. */
  meanApdMmGood: number | null;
  /** Mean APD over all images whose APD is defined (non-empty prediction), in `apdUnit`; null when none is. */
  meanApdMm: number | null;
  /** One entry per case, in order of first appearance. */
  perCase: CaseEvaluation[];
  /** The images with an expert LV in four groups by its area (quartiles; see `SizeGroupEvaluation`), smallest first. */
  bySize: SizeGroupEvaluation[];
  perImage: ImageEvaluation[];
}

/**
 * Images grouped by the expert LV's area (their quartiles, ties kept together): where the mean Dice is lost. Small
 * cavities (apical, end-systolic slices) lose more Dice for the same border error.
 */
export interface SizeGroupEvaluation {
  /** Smallest and largest expert LV area in the group, in pixels. */
  minAreaPx: number;
  maxAreaPx: number;
  images: number;
  meanDice: number;
  /** Share of all images' Dice loss (Σ(1 − Dice)) that this group holds. */
  lossShare: number;
  /** Images with Dice below 0.5. */
  diceBelowHalf: number;
  /** Images where the model drew nothing. */
  emptyPredictions: number;
  /** Median of predicted / expert area over the group's non-empty predictions; null when there is none. */
  medianAreaRatio: number | null;
}

function mean(values: number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

function meanOrNull(values: number[]): number | null {
  return values.length === 0 ? null : mean(values);
}

/**
 * Scores one image: overlap metrics, APD and the good-contour call (APD < `goodApd`, in `apdUnit`: mm when the item
 * has a pixel spacing, else px; 'px' measures in pixels even when it has one).
 */
export function evaluateImage(item: EvaluationItem, goodApd = 5, apdUnit: ApdUnit = item.pixelSpacingMm ? 'mm' : 'px'): ImageEvaluation {
  if (apdUnit === 'mm' && !item.pixelSpacingMm) {
    throw new LvsegError('invalid-input', 'APD_NEEDS_SPACING', `${item.id}: APD in mm needs a pixel spacing`);
  }
  const counts = confusion(item.pred, item.truth);
  const apd = averagePerpendicularDistance(item.pred, item.truth, apdUnit === 'mm' ? (item.pixelSpacingMm as [number, number]) : [1, 1]);
  const apdMm = Number.isFinite(apd) ? apd : null;
  return {
    id: item.id,
    case: item.case,
    dice: diceFromConfusion(counts),
    jaccard: jaccardFromConfusion(counts),
    pixelAccuracy: pixelAccuracyFromConfusion(counts),
    apdMm,
    good: apdMm !== null && apdMm < goodApd,
    apdUnit,
    apdInPixels: apdUnit === 'px',
    confusion: counts,
  };
}

/** Dice pooled over images: 2·ΣTP / (2·ΣTP + ΣFP + ΣFN); 1 when every mask is empty. */
export function pooledDice(images: Array<Pick<ImageEvaluation, 'confusion'>>): number {
  const sum = images.reduce((a, e) => ({ tp: a.tp + e.confusion.tp, fp: a.fp + e.confusion.fp, fn: a.fn + e.confusion.fn, tn: a.tn + e.confusion.tn }), { tp: 0, fp: 0, fn: 0, tn: 0 });
  return diceFromConfusion(sum);
}

function summarise(images: ImageEvaluation[]) {
  const good = images.filter((e) => e.good);
  const defined = images.filter((e) => e.apdMm !== null).map((e) => e.apdMm as number);
  return {
    images: images.length,
    meanDice: mean(images.map((e) => e.dice)),
    pooledDice: pooledDice(images),
    meanJaccard: mean(images.map((e) => e.jaccard)),
    pixelAccuracy: mean(images.map((e) => e.pixelAccuracy)),
    goodContourRate: good.length / images.length,
    meanDiceGood: meanOrNull(good.map((e) => e.dice)),
    meanApdMmGood: meanOrNull(good.map((e) => e.apdMm as number)),
    meanApdMm: meanOrNull(defined),
  };
}

/**
 * Evaluates predicted masks against expert masks (see `EvaluationReport`); APD in mm when every item has a pixel
 * spacing, else in px for all (`apdUnit`). Throws `invalid-input` when `items` is empty, `goodApdMm` is not a positive
 * number, a pixel spacing is not two positive numbers, or a pred/truth pair differs in size.
 */
export function evaluateCases(items: EvaluationItem[], options: EvaluationOptions = {}): EvaluationReport {
  const goodApdMm = options.goodApdMm ?? 5;
  if (!(Number.isFinite(goodApdMm) && goodApdMm > 0)) {
    throw new LvsegError('invalid-input', 'BAD_GOOD_APD', `goodApdMm must be a positive number, got ${goodApdMm}`);
  }
  if (items.length === 0) {
    throw new LvsegError('invalid-input', 'NO_IMAGES', 'nothing to evaluate: no images given');
  }
  const badSpacing = items.find((item) => item.pixelSpacingMm && !(item.pixelSpacingMm.length === 2 && item.pixelSpacingMm.every((v) => Number.isFinite(v) && v > 0)));
  if (badSpacing) {
    // Checked here too: in a px report the spacing is not used, but a bad one is still a bad input.
    throw new LvsegError('invalid-input', 'BAD_PIXEL_SPACING', `${badSpacing.id}: pixel spacing must be two positive numbers, got ${badSpacing.pixelSpacingMm?.join(' x ')}`);
  }
  const apdUnit: ApdUnit = items.every((item) => item.pixelSpacingMm) ? 'mm' : 'px';
  const perImage = items.map((item) => evaluateImage(item, goodApdMm, apdUnit));

  const byCase = new Map<string, ImageEvaluation[]>();
  for (const e of perImage) {
    const list = byCase.get(e.case);
    if (list) list.push(e);
    else byCase.set(e.case, [e]);
  }
  const perCase: CaseEvaluation[] = [...byCase].map(([caseId, images]) => ({ case: caseId, ...summarise(images) }));

  return {
    goodApdMm,
    apdUnit,
    apdInPixels: apdUnit === 'px',
    ...summarise(perImage),
    perCase,
    bySize: sizeGroups(perImage),
    perImage,
  };
}

/** `bySize`: the images with an expert LV, sorted by its area and cut into four groups of (nearly) equal size. */
export function sizeGroups(images: ImageEvaluation[]): SizeGroupEvaluation[] {
  const area = (e: ImageEvaluation) => e.confusion.tp + e.confusion.fn;
  const withLv = images.filter((e) => area(e) > 0).sort((a, b) => area(a) - area(b));
  const totalLoss = withLv.reduce((a, e) => a + (1 - e.dice), 0);
  const groups: SizeGroupEvaluation[] = [];
  for (let q = 0; q < 4; q++) {
    let from = Math.floor((q * withLv.length) / 4);
    let to = Math.floor(((q + 1) * withLv.length) / 4);
    // Ties stay in one group: an area at a cut goes with the group below.
    while (from > 0 && from < withLv.length && area(withLv[from]) === area(withLv[from - 1])) from++;
    while (to < withLv.length && to > 0 && area(withLv[to]) === area(withLv[to - 1])) to++;
    const g = withLv.slice(from, to);
    if (g.length === 0) continue;
    const loss = g.reduce((a, e) => a + (1 - e.dice), 0);
    const ratios = g.filter((e) => e.confusion.tp + e.confusion.fp > 0).map((e) => (e.confusion.tp + e.confusion.fp) / area(e)).sort((a, b) => a - b);
    groups.push({
      minAreaPx: area(g[0]),
      maxAreaPx: area(g[g.length - 1]),
      images: g.length,
      meanDice: mean(g.map((e) => e.dice)),
      lossShare: totalLoss > 0 ? loss / totalLoss : 0,
      diceBelowHalf: g.filter((e) => e.dice < 0.5).length,
      emptyPredictions: g.filter((e) => e.confusion.tp + e.confusion.fp === 0).length,
      medianAreaRatio: ratios.length ? ratios[Math.floor(ratios.length / 2)] : null,
    });
  }
  return groups;
}
