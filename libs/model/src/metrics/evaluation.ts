/**
 * Evaluation of predicted LV masks against expert masks, reported the way the MICCAI 2009 LV challenge did
 * (Radau et al. 2009): Dice, and the share of "good" contours (APD below a threshold) with Dice and APD averaged over
 * the good ones, plus plain pixel accuracy, per image, per case and overall.
 */
import type { BinaryMask } from '@lvseg/imaging';
import { LvsegError } from '@lvseg/common';
import { confusion, diceFromConfusion, jaccardFromConfusion, pixelAccuracyFromConfusion } from './overlap';
import { averagePerpendicularDistance } from './contour';

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
   * A contour is "good" when its APD is strictly below this (mm). 5 mm is the threshold of the challenge paper; the
   * challenge's own evaluation script (compare_contours.m v0.9) used 4 mm.
   */
  goodApdMm?: number;
}

export interface ImageEvaluation {
  id: string;
  case: string;
  dice: number;
  jaccard: number;
  pixelAccuracy: number;
  /** APD in mm (in pixels when `apdInPixels`); null when undefined, i.e. exactly one of pred/truth is empty. */
  apdMm: number | null;
  good: boolean;
  /** True when the item had no pixel spacing, so APD (and the good/bad call) used 1 mm per pixel. */
  apdInPixels: boolean;
}

export interface CaseEvaluation {
  case: string;
  images: number;
  meanDice: number;
  meanJaccard: number;
  /** Mean of the per-image pixel accuracies. */
  pixelAccuracy: number;
  goodContourRate: number;
  /** Mean APD over the case's images whose APD is defined; null when none is. */
  meanApdMm: number | null;
  /** Mean APD over the case's good contours (the challenge's per-case figure); null when none is good. */
  meanApdMmGood: number | null;
  /** Mean Dice over the case's good contours; null when none is good. */
  meanDiceGood: number | null;
}

export interface EvaluationReport {
  images: number;
  goodApdMm: number;
  /** True when at least one image had no pixel spacing (see `ImageEvaluation.apdInPixels`). */
  apdInPixels: boolean;
  /** Mean Dice over all images; an empty prediction against a non-empty truth counts as 0. */
  meanDice: number;
  meanJaccard: number;
  /** Mean of the per-image pixel accuracies. */
  pixelAccuracy: number;
  /** Share of images with APD < goodApdMm. */
  goodContourRate: number;
  /** Mean Dice over good contours only; null when there is none. */
  meanDiceGood: number | null;
  /** Mean APD over good contours only; null when there is none. */
  meanApdMmGood: number | null;
  /** Mean APD over all images whose APD is defined (non-empty prediction); null when none is. */
  meanApdMm: number | null;
  /** One entry per case, in order of first appearance. */
  perCase: CaseEvaluation[];
  perImage: ImageEvaluation[];
}

function mean(values: number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

function meanOrNull(values: number[]): number | null {
  return values.length === 0 ? null : mean(values);
}

/** Scores one image: overlap metrics, APD and the good-contour call. */
export function evaluateImage(item: EvaluationItem, goodApdMm = 5): ImageEvaluation {
  const counts = confusion(item.pred, item.truth);
  const apdInPixels = item.pixelSpacingMm === undefined;
  const apd = averagePerpendicularDistance(item.pred, item.truth, item.pixelSpacingMm ?? [1, 1]);
  const apdMm = Number.isFinite(apd) ? apd : null;
  return {
    id: item.id,
    case: item.case,
    dice: diceFromConfusion(counts),
    jaccard: jaccardFromConfusion(counts),
    pixelAccuracy: pixelAccuracyFromConfusion(counts),
    apdMm,
    good: apdMm !== null && apdMm < goodApdMm,
    apdInPixels,
  };
}

function summarise(images: ImageEvaluation[]) {
  const good = images.filter((e) => e.good);
  const defined = images.filter((e) => e.apdMm !== null).map((e) => e.apdMm as number);
  return {
    images: images.length,
    meanDice: mean(images.map((e) => e.dice)),
    meanJaccard: mean(images.map((e) => e.jaccard)),
    pixelAccuracy: mean(images.map((e) => e.pixelAccuracy)),
    goodContourRate: good.length / images.length,
    meanDiceGood: meanOrNull(good.map((e) => e.dice)),
    meanApdMmGood: meanOrNull(good.map((e) => e.apdMm as number)),
    meanApdMm: meanOrNull(defined),
  };
}

/**
 * Evaluates predicted masks against expert masks (see `EvaluationReport`). Throws `invalid-input` when `items` is
 * empty, `goodApdMm` is not a positive number, or a pred/truth pair differs in size.
 */
export function evaluateCases(items: EvaluationItem[], options: EvaluationOptions = {}): EvaluationReport {
  const goodApdMm = options.goodApdMm ?? 5;
  if (!(Number.isFinite(goodApdMm) && goodApdMm > 0)) {
    throw new LvsegError('invalid-input', 'BAD_GOOD_APD', `goodApdMm must be a positive number, got ${goodApdMm}`);
  }
  if (items.length === 0) {
    throw new LvsegError('invalid-input', 'NO_IMAGES', 'nothing to evaluate: no images given');
  }
  const perImage = items.map((item) => evaluateImage(item, goodApdMm));

  const byCase = new Map<string, ImageEvaluation[]>();
  for (const e of perImage) {
    const list = byCase.get(e.case);
    if (list) list.push(e);
    else byCase.set(e.case, [e]);
  }
  const perCase: CaseEvaluation[] = [...byCase].map(([caseId, images]) => ({ case: caseId, ...summarise(images) }));

  return {
    goodApdMm,
    apdInPixels: perImage.some((e) => e.apdInPixels),
    ...summarise(perImage),
    perCase,
    perImage,
  };
}
