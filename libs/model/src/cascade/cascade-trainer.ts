import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '@lvseg/common';
import { AugmentOptions, DEFAULT_AUGMENTATION, GrayImage, LabelledImage, MODEL_INPUT_SIZE, Roi, augmentPair, boxSmooth, cropToRoi, effectivePixelSpacingMm, maskCentroid, maskToModelSize, roiAround, toModelInput } from '@lvseg/imaging';
import { buildModel } from '../architectures';
import { dice, pixelAccuracy } from '../metrics';
import { DEFAULT_MASK_OPTIONS, MaskOptions, predictLvProbabilities } from '../segmentation';
import { TrainConfig, TrainHooks, TrainResult, SplitMetrics, StageData, copyInitialWeights, fitStage } from '../training/trainer';
import { trainConfigFor } from '../training/recipes';
import { CascadeOptions, CascadeSpec, DEFAULT_CASCADE_SPEC, zoomSideMm } from './cascade';
import { LvModel, segmentCases } from './lv-model';

/** Everything that determines a cascade training run (on the card as hyper-parameters). */
export interface CascadeTrainConfig {
  seed: number;
  spec: CascadeSpec;
  /** Stage 1: the localiser on whole images at `spec.localiserSize`². */
  localiser: TrainConfig;
  /** Stage 2: the segmenter on ROIs at `spec.segmenterSize`², selected by the whole cascade's val Dice. */
  segmenter: TrainConfig;
  /** Training ROIs are centred on the expert LV's centroid moved by up to this many mm (the localiser's error). */
  centreJitterMm: number;
  /** Training ROIs are scaled by a factor in [1 − s, 1 + s] (different heart and pixel sizes). */
  scaleJitter: number;
  /** Share of training ROIs placed anywhere in the image, so the segmenter learns to answer "no LV here". */
  negativeRoiProbability: number;
  /** Select on val as a series (per case), as the PACS path and the series endpoint segment. */
  selectAsSeries: boolean;
  /**
   * With `spec.zoom`: share of training ROIs drawn as the second look draws them (side from the expert LV's area,
   * scaled by up to ±`zoomAreaJitter`, centre moved by up to 10 % of the side); the rest as the first pass's.
   */
  zoomShare: number;
  zoomAreaJitter: number;
  /**
   * Each epoch, each stage sees every training image once and those whose expert LV is in the smallest quarter of
   * the train split (by area) this many times more (0: once, like the others).
   */
  smallLvRepeats: number;
  /**
   * The localiser's target: a pixel of its `localiserSize`² grid is LV where at least this share of it is expert LV
   * (0.5: the plain downsampled mask; lower gives the smallest cavities, 1–3 localiser pixels across, a target at all).
   */
  localiserCoverage: number;
  /**
   * Share of the localiser's training samples replaced by an image with no LV and an empty target: seeded noise
   * (uniform, box-smoothed 0–6 times) or a random square region of the train image that holds none of its LV,
   * resampled to the image's size. Teaches the localiser that such images hold no LV (0: none, as before).
   */
  localiserNegativeProbability: number;
}

/** The entries of `o` that are set (an explicit `undefined` must not replace a recipe's value). */
function defined<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const LOCALISER_AUGMENTATION: AugmentOptions = { ...DEFAULT_AUGMENTATION, maxShiftPx: 4 };

/** lvseg's cascade recipe (stage sizes from `spec`); `overrides.localiser` / `.segmenter` override per stage. */
export function cascadeConfigFor(overrides: Partial<Omit<CascadeTrainConfig, 'spec' | 'localiser' | 'segmenter'>> & { spec?: Partial<CascadeSpec>; localiser?: Partial<TrainConfig>; segmenter?: Partial<TrainConfig> } = {}): CascadeTrainConfig {
  const seed = overrides.seed ?? overrides.segmenter?.seed ?? 1;
  return {
    seed,
    spec: { ...DEFAULT_CASCADE_SPEC, ...(overrides.spec ?? {}) },
    centreJitterMm: overrides.centreJitterMm ?? 10,
    scaleJitter: overrides.scaleJitter ?? 0.1,
    negativeRoiProbability: overrides.negativeRoiProbability ?? 0.1,
    selectAsSeries: overrides.selectAsSeries ?? false,
    zoomShare: overrides.zoomShare ?? 0.5,
    zoomAreaJitter: overrides.zoomAreaJitter ?? 0.3,
    smallLvRepeats: overrides.smallLvRepeats ?? 0,
    localiserCoverage: overrides.localiserCoverage ?? 0.5,
    localiserNegativeProbability: overrides.localiserNegativeProbability ?? 0,
    localiser: trainConfigFor('unet-tiny', { seed, epochs: 40, batchSize: 8, learningRate: 0.002, decayRate: 0.5, decaySteps: 600, crop: 0, augment: LOCALISER_AUGMENTATION, valEvery: 5, ...defined(overrides.localiser) }),
    segmenter: trainConfigFor('unet-small', { seed, epochs: 40, batchSize: 8, learningRate: 0.001, decayRate: 0.5, decaySteps: 500, crop: 0, augment: DEFAULT_AUGMENTATION, valEvery: 5, mask: DEFAULT_MASK_OPTIONS, ...defined(overrides.segmenter) }),
  };
}

/** Mean Dice and pixel accuracy of any LV model on labelled images, through the serving path (`segmentLv`). */
export async function evaluateLvSplit(m: LvModel, items: LabelledImage[], mask: MaskOptions, opts: CascadeOptions = {}): Promise<SplitMetrics> {
  if (items.length === 0) return { dice: NaN, pixelAccuracy: NaN, images: 0 };
  const results = await segmentCases(m, items, mask, opts);
  let d = 0, a = 0;
  results.forEach((r, k) => {
    d += dice(r.mask, items[k].mask);
    a += pixelAccuracy(r.mask, items[k].mask);
  });
  return { dice: d / items.length, pixelAccuracy: a / items.length, images: items.length };
}

/** Box-average downsampling of an n×n 0/1 mask by an integer factor: a pixel at least `coverage` covered → 1. */
export function downsampleMask(mask: Uint8Array, n: number, factor: number, coverage = 0.5): Uint8Array {
  const m = n / factor;
  const out = new Uint8Array(m * m);
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < m; c++) {
      let s = 0;
      for (let i = 0; i < factor; i++) for (let j = 0; j < factor; j++) s += mask[(r * factor + i) * n + c * factor + j];
      out[r * m + c] = s > 0 && s >= coverage * factor * factor ? 1 : 0;
    }
  }
  return out;
}

/**
 * An image with no LV in it, as a localiser negative (`localiserNegativeProbability`): half of the draws noise of the
 * image's size (uniform, then 0–6 rounds of a 3×3 box average), half a random square region of `item`'s image, 20–50 %
 * of its shorter side, holding none of its expert LV, resampled to a square of that side (noise when 20 draws find none).
 */
export function imageWithoutLv(item: LabelledImage, rng: SeededRandom): GrayImage {
  const { rows, columns } = item.image;
  const n = Math.min(rows, columns);
  if (rng.next() < 0.5) {
    for (let t = 0; t < 20; t++) {
      const side = Math.round(rng.uniform(0.2, 0.5) * n);
      const top = rng.int(rows - side + 1), left = rng.int(columns - side + 1);
      let lv = 0;
      for (let r = top; r < top + side && !lv; r++) for (let c = left; c < left + side; c++) lv += item.mask.data[r * columns + c];
      if (lv) continue;
      const roi = { centerRow: top + side / 2 - 0.5, centerColumn: left + side / 2 - 0.5, height: side, width: side };
      return { rows: n, columns: n, data: cropToRoi(item.image.data, rows, columns, roi, n) };
    }
  }
  return { rows: n, columns: n, data: boxSmooth(Float32Array.from({ length: n * n }, () => rng.next() * 1000), n, rng.int(7)) };
}

/**
 * Stage 1 data: whole images at the localiser's size, augmented there (the smallest LVs `smallLvRepeats` more times).
 * Selected by the whole cascade's val Dice when a segmenter is given (a fine-tune of the localiser for a trained
 * segmenter: what it is for), else by the localiser's own Dice at its size.
 */
function localiserData(train: LabelledImage[], val: LabelledImage[], cfg: CascadeTrainConfig, segmenter?: tf.LayersModel): StageData {
  const n = MODEL_INPUT_SIZE;
  const s = cfg.spec.localiserSize;
  const masks = train.map((it) => maskToModelSize(it.mask).data);
  const prep = train.map((it, k) => ({ input: toModelInput(it.image, s), mask: downsampleMask(masks[k], n, n / s, cfg.localiserCoverage) }));
  const valPrep = val.map((it) => ({ input: toModelInput(it.image, s), mask: downsampleMask(maskToModelSize(it.mask).data, n, n / s, cfg.localiserCoverage) }));
  const order = epochImages(masks, cfg.smallLvRepeats);
  return {
    count: order.length,
    side: s,
    sample: (i, rng) => {
      // The draw only happens with negatives on, so recipes without them keep their random stream.
      if (cfg.localiserNegativeProbability > 0 && rng.next() < cfg.localiserNegativeProbability) {
        return { image: toModelInput(imageWithoutLv(train[order[i]], rng), s), mask: new Uint8Array(s * s) };
      }
      return augmentPair(prep[order[i]].input, prep[order[i]].mask, s, cfg.localiser.augment, rng);
    },
    select: !valPrep.length
      ? undefined
      : segmenter
        ? (localiser) => evaluateLvSplit({ kind: 'cascade', localiser, segmenter, spec: cfg.spec }, val, cfg.segmenter.mask, { series: cfg.selectAsSeries })
        : (model) => {
          // Dice of the localiser's own map at its size: how well it finds the LV, before any ROI.
          const probs = predictLvProbabilities(model, valPrep.map((v) => v.input), s, 8);
          let d = 0, a = 0;
          probs.forEach((p, k) => {
            const pred = { rows: s, columns: s, data: Uint8Array.from(p, (v) => (v >= 0.5 ? 1 : 0)) };
            const truth = { rows: s, columns: s, data: valPrep[k].mask };
            d += dice(pred, truth);
            a += pixelAccuracy(pred, truth);
          });
          return { dice: d / probs.length, pixelAccuracy: a / probs.length, images: probs.length };
        },
  };
}

/**
 * One training ROI on the n×n model grid: as the first pass sees it (around the jittered expert centroid, side
 * `roiSideMm` ± `scaleJitter`), or with `spec.zoom` in `zoomShare` of the draws as the second look sees it (side from
 * the jittered expert area, centre moved by up to 10 % of the side); `negativeRoiProbability` of them anywhere.
 */
export function trainingRoi(mask: Uint8Array, grid: { rows: number; columns: number; pixelSpacingMm: [number, number] }, cfg: CascadeTrainConfig, rng: SeededRandom): Roi {
  const n = grid.rows;
  const [sr, sc] = grid.pixelSpacingMm;
  const zoom = cfg.spec.zoom && rng.next() < cfg.zoomShare ? cfg.spec.zoom : undefined;
  let centre = maskCentroid(mask, n, grid.columns);
  if (!centre || rng.next() < cfg.negativeRoiProbability) {
    const [r, c] = [rng.uniform(0, n - 1), rng.uniform(0, grid.columns - 1)];
    return roiAround(grid, r, c, zoom ? rng.uniform(zoom.minSideMm, cfg.spec.roiSideMm) : cfg.spec.roiSideMm * rng.uniform(1 - cfg.scaleJitter, 1 + cfg.scaleJitter));
  }
  if (zoom) {
    let area = 0;
    for (let i = 0; i < mask.length; i++) area += mask[i];
    const side = zoomSideMm(area * sr * sc * rng.uniform(1 - cfg.zoomAreaJitter, 1 + cfg.zoomAreaJitter), zoom, cfg.spec.roiSideMm);
    const j = 0.1 * side;
    return roiAround(grid, centre[0] + rng.uniform(-j / sr, j / sr), centre[1] + rng.uniform(-j / sc, j / sc), side);
  }
  const jr = cfg.centreJitterMm / sr;
  const jc = cfg.centreJitterMm / sc;
  centre = [centre[0] + rng.uniform(-jr, jr), centre[1] + rng.uniform(-jc, jc)];
  return roiAround(grid, centre[0], centre[1], cfg.spec.roiSideMm * rng.uniform(1 - cfg.scaleJitter, 1 + cfg.scaleJitter));
}

/**
 * The image indices of one segmenter epoch: each image once, then those whose LV is in the smallest quarter by area
 * (below the 25th percentile; images without LV excluded) `repeats` more times each.
 */
export function epochImages(masks: Uint8Array[], repeats: number): number[] {
  const all = masks.map((_, k) => k);
  if (!repeats) return all;
  const areas = masks.map((m) => m.reduce((a, v) => a + v, 0));
  const withLv = areas.filter((a) => a > 0).sort((a, b) => a - b);
  const bar = withLv[Math.floor(withLv.length / 4)];
  const small = all.filter((k) => areas[k] > 0 && areas[k] < bar);
  return [...all, ...Array.from({ length: repeats }, () => small).flat()];
}

/** Stage 2 data: ROIs around the (jittered) expert LV centre of augmented images, resampled to the segmenter's size. */
function segmenterData(train: LabelledImage[], val: LabelledImage[], cfg: CascadeTrainConfig, localiser: tf.LayersModel): StageData {
  const n = MODEL_INPUT_SIZE;
  const s = cfg.spec.segmenterSize;
  const prep = train.map((it) => ({ input: toModelInput(it.image), mask: maskToModelSize(it.mask).data, spacing: effectivePixelSpacingMm(it.image), rows: it.image.rows, columns: it.image.columns }));
  const order = epochImages(prep.map((p) => p.mask), cfg.smallLvRepeats);
  return {
    count: order.length,
    side: s,
    sample: (i, rng: SeededRandom) => {
      const p = prep[order[i]];
      const aug = augmentPair(p.input, p.mask, n, cfg.segmenter.augment, rng);
      // The 256² model grid spans the image's field of view: its pixel spacing scales by the image's side / 256.
      const grid = { rows: n, columns: n, pixelSpacingMm: [(p.spacing[0] * p.rows) / n, (p.spacing[1] * p.columns) / n] as [number, number] };
      const roi = trainingRoi(aug.mask, grid, cfg, rng);
      const image = cropToRoi(aug.image, n, n, roi, s);
      const maskF = cropToRoi(aug.mask, n, n, roi, s);
      return { image, mask: Uint8Array.from(maskF, (v) => (v >= 0.5 ? 1 : 0)) };
    },
    select: val.length
      ? (segmenter) => evaluateLvSplit({ kind: 'cascade', localiser, segmenter, spec: cfg.spec }, val, cfg.segmenter.mask, { series: cfg.selectAsSeries })
      : undefined,
  };
}

export interface CascadeTrainResult {
  model: Extract<LvModel, { kind: 'cascade' }>;
  localiser: TrainResult;
  segmenter: TrainResult;
}

/**
 * Train a cascade on `train`: the localiser first (selected by its own val Dice, or, when both stages are given in
 * `init`, by the cascade's val Dice with the given segmenter), then the segmenter on ROIs,
 * selected by the whole cascade's val Dice with that localiser. `init`: starting weights for either stage (a
 * unet-small version for the segmenter, a cascade for both). Epochs of both stages are numbered in one sequence.
 */
export async function trainCascade(
  train: LabelledImage[],
  val: LabelledImage[],
  cfg: CascadeTrainConfig,
  hooks: TrainHooks = {},
  init?: { localiser?: tf.LayersModel; segmenter?: tf.LayersModel },
): Promise<CascadeTrainResult> {
  const localiserModel = buildModel(cfg.localiser.arch, { seed: cfg.seed, size: null });
  if (init?.localiser) copyInitialWeights(localiserModel, init.localiser);
  // Fine-tuning a cascade (both stages given): its localiser is selected by the cascade's Dice with the given segmenter.
  const loc = await fitStage(localiserModel, localiserData(train, val, cfg, init?.localiser ? init.segmenter : undefined), cfg.localiser, hooks);
  const segmenterModel = buildModel(cfg.segmenter.arch, { seed: cfg.seed + 1, size: null });
  if (init?.segmenter) copyInitialWeights(segmenterModel, init.segmenter);
  const seg = await fitStage(segmenterModel, segmenterData(train, val, cfg, loc.model), cfg.segmenter, hooks, cfg.localiser.epochs);
  return { model: { kind: 'cascade', localiser: loc.model, segmenter: seg.model, spec: cfg.spec }, localiser: loc, segmenter: seg };
}
