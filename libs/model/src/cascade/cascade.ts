/**
 * The two-stage LV segmentation ("cascade"): a small localiser looks at the whole image downsampled to
 * `localiserSize`², finds the LV (the most probable connected component of its LV map) and its centre; a segmenter
 * then runs at `segmenterSize`² on a fixed-size square region of interest (`roiSideMm`, in millimetres where the
 * image has PixelSpacing, else on the nominal Sunnybrook field of view) around that centre, and its LV probability is
 * pasted back into the image grid. With `zoom` (a second look), a small first mask is segmented once more on a
 * smaller region around it. Stage runners are injected, so the same code serves tfjs, onnxruntime and the browser.
 */
import { BinaryMask, GrayImage, Roi, countLvPixels, cropToRoi, effectivePixelSpacingMm, hasLvPixel, maskCentroid, normalize, pasteFromRoi, resizeBilinear, roiAround } from '@lvseg/imaging';
import { selectComponent } from '../metrics';
import { MaskOptions, probabilityToMask } from '../segmentation';

export interface CascadeSpec {
  /** Side of the localiser's input (the whole image, bilinear). */
  localiserSize: number;
  /** Side of the segmenter's input (the ROI, bilinear). */
  segmenterSize: number;
  /** Side of the ROI in mm. */
  roiSideMm: number;
  /** LV probability at or above which a localiser pixel belongs to a candidate component (default 0.5). */
  localiserThreshold?: number;
  /**
   * Summed LV probability of the localiser's chosen component (on its `localiserSize`² grid) below which an image is
   * said to hold no LV: nothing is segmented and the answer says `lvFound: false`.
   */
  minLocaliserMass: number;
  /**
   * When no component passes `minLocaliserMass`, a localiser peak at least this probable still places a ROI there and
   * the segmenter decides whether an LV is in it (small apical and end-systolic cavities are a few localiser pixels
   * that rarely reach 0.5). Absent: no fallback.
   */
  fallbackMinPeak?: number;
  /** With a series: a ROI centre further than this (mm) from the series' median centre is replaced by the median. */
  seriesMaxOffsetMm: number;
  /** Average the segmenter's LV map over the ROI and its left-right mirror (twice the segmenter's cost). */
  testTimeFlip?: boolean;
  /**
   * A second look at small LVs: when the first pass's mask is small, the segmenter runs again on a region centred on
   * that mask, of side `factor` × its equivalent diameter (mm), at least `minSideMm`, and the second mask is kept
   * (unless it is empty). Only regions below `maxShare` × `roiSideMm` are looked at again. Absent: one pass.
   */
  zoom?: ZoomSpec;
}

export interface ZoomSpec {
  factor: number;
  minSideMm: number;
  maxShare: number;
}

/** Whether a second look's settings are in their working range: factor in [1, 10], minSideMm in [16, 350], maxShare in (0, 1]. */
export function isValidZoom(z: ZoomSpec): boolean {
  return [z.factor, z.minSideMm, z.maxShare].every(Number.isFinite) && z.factor >= 1 && z.factor <= 10 && z.minSideMm >= 16 && z.minSideMm <= 350 && z.maxShare > 0 && z.maxShare <= 1;
}

/**
 * What is wrong with a cascade spec (e.g. a hand-edited `cascade.json`), one sentence per field; empty when it can be
 * served: stage sizes multiples of 16, a ROI of 32–350 mm, thresholds and probabilities in range.
 */
export function cascadeSpecProblems(spec: CascadeSpec): string[] {
  const problems: string[] = [];
  const size = (v: unknown, min: number) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= 512 && v % 16 === 0;
  const inRange = (v: unknown, lo: number, hi: number) => typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;
  if (!size(spec.localiserSize, 16)) problems.push(`localiserSize must be a multiple of 16 from 16 to 512, got ${JSON.stringify(spec.localiserSize)}`);
  if (!size(spec.segmenterSize, 32)) problems.push(`segmenterSize must be a multiple of 16 from 32 to 512, got ${JSON.stringify(spec.segmenterSize)}`);
  if (!inRange(spec.roiSideMm, 32, 350)) problems.push(`roiSideMm must be from 32 to 350, got ${JSON.stringify(spec.roiSideMm)}`);
  if (!inRange(spec.minLocaliserMass, 0, Number.MAX_VALUE)) problems.push(`minLocaliserMass must be a number ≥ 0, got ${JSON.stringify(spec.minLocaliserMass)}`);
  if (!inRange(spec.seriesMaxOffsetMm, 0, Number.MAX_VALUE)) problems.push(`seriesMaxOffsetMm must be a number ≥ 0, got ${JSON.stringify(spec.seriesMaxOffsetMm)}`);
  if (spec.localiserThreshold !== undefined && !inRange(spec.localiserThreshold, 0, 1)) problems.push(`localiserThreshold must be from 0 to 1, got ${JSON.stringify(spec.localiserThreshold)}`);
  if (spec.fallbackMinPeak !== undefined && !inRange(spec.fallbackMinPeak, 0, 1)) problems.push(`fallbackMinPeak must be from 0 to 1, got ${JSON.stringify(spec.fallbackMinPeak)}`);
  if (spec.testTimeFlip !== undefined && typeof spec.testTimeFlip !== 'boolean') problems.push(`testTimeFlip must be true or false, got ${JSON.stringify(spec.testTimeFlip)}`);
  if (spec.zoom !== undefined && (spec.zoom === null || typeof spec.zoom !== 'object' || !isValidZoom(spec.zoom))) {
    problems.push(`zoom must be {factor in [1, 10], minSideMm in [16, 350], maxShare in (0, 1]}, got ${JSON.stringify(spec.zoom)}`);
  }
  return problems;
}

/** The spec fields every cascade.json has; optional ones absent from a version's file stay off when it is loaded. */
export const REQUIRED_CASCADE_SPEC: CascadeSpec = {
  localiserSize: 64,
  segmenterSize: 128,
  roiSideMm: 131.25,
  minLocaliserMass: 1,
  seriesMaxOffsetMm: 25,
};

/**
 * New cascades: 64² localiser, 128² segmenter on a 131.25 mm ROI (96 px of a 256-px Sunnybrook image, so about
 * 1.03 mm per segmenter pixel: the LV is drawn 1.33× larger than in the whole-image model), and a ROI at the
 * localiser's peak down to 0.01 (chosen on the train split: scripts/localiser-threshold-analysis.ts and
 * scripts/no-lv-analysis.ts).
 */
export const DEFAULT_CASCADE_SPEC: CascadeSpec = { ...REQUIRED_CASCADE_SPEC, fallbackMinPeak: 0.01 };

/** LV probability maps for a batch of size×size model inputs (softmax LV channel). */
export type StageRunner = (inputs: Float32Array[], size: number) => Promise<Float32Array[]>;

export interface CascadeRunners {
  localiser: StageRunner;
  segmenter: StageRunner;
}

/** Where the localiser put the LV in one image (image pixel coordinates). */
export interface Localisation {
  found: boolean;
  /** Not found, but the localiser's peak passes `fallbackMinPeak`: its position is worth a look by the segmenter. */
  tentative?: boolean;
  centerRow: number;
  centerColumn: number;
  /** Summed probability of the chosen component on the localiser grid. */
  mass: number;
}

export interface CascadeSegmentation {
  /** LV probability at the image's own size (0 outside the ROI). */
  probability: Float32Array;
  mask: BinaryMask;
  /** False when no LV was found: the mask is then empty. */
  lvFound: boolean;
  /** The ROI the segmenter saw (image pixels); null when nothing was segmented. */
  roi: Roi | null;
  /** `localiser`: the image's own localisation; `series`: the series' consensus centre replaced it or stood in for it. */
  roiSource: 'localiser' | 'series' | null;
  /** The mask is the second look's (`spec.zoom`), on the smaller `roi` around the first pass's mask. */
  zoomed?: boolean;
}

export interface CascadeOptions {
  /** The images are one series (slices and phases of one heart): use the series' consensus ROI centre. */
  series?: boolean;
}

/** Localisation from the localiser's LV map (size×size) for an image of rows × columns. */
export function localise(prob: Float32Array, size: number, rows: number, columns: number, spec: CascadeSpec): Localisation {
  const raw = new Uint8Array(size * size);
  const threshold = spec.localiserThreshold ?? 0.5;
  for (let i = 0; i < raw.length; i++) raw[i] = prob[i] >= threshold ? 1 : 0;
  const kept = selectComponent({ rows: size, columns: size, data: raw }, { probability: prob });
  let mass = 0, sr = 0, sc = 0;
  const keptData = kept.data;
  for (let i = 0; i < keptData.length; i++) {
    if (!keptData[i]) continue;
    const p = prob[i];
    mass += p;
    sr += p * Math.floor(i / size);
    sc += p * (i % size);
  }
  if (!(mass >= spec.minLocaliserMass)) {
    let peak = 0;
    for (let i = 1; i < prob.length; i++) if (prob[i] > prob[peak]) peak = i;
    if (spec.fallbackMinPeak !== undefined && prob[peak] >= spec.fallbackMinPeak) {
      const at = (k: number, scale: number) => (k + 0.5) * scale - 0.5;
      return { found: false, tentative: true, centerRow: at(Math.floor(peak / size), rows / size), centerColumn: at(peak % size, columns / size), mass };
    }
    return { found: false, centerRow: (rows - 1) / 2, centerColumn: (columns - 1) / 2, mass };
  }
  // Localiser pixel centre k ↦ image coordinate (k + 0.5)·scale − 0.5.
  return { found: true, centerRow: (sr / mass + 0.5) * (rows / size) - 0.5, centerColumn: (sc / mass + 0.5) * (columns / size) - 0.5, mass };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * ROI per image. Alone: the image's own localisation (none when no LV was found). As a series: the median of the
 * found centres (in mm) is the consensus; a centre further than `seriesMaxOffsetMm` from it, or an image where no LV
 * was found, gets the consensus centre (`series`), and the segmenter decides whether an LV is there.
 */
export function planRois(images: GrayImage[], locs: Localisation[], spec: CascadeSpec, opts: CascadeOptions = {}): Array<{ roi: Roi; source: 'localiser' | 'series' } | null> {
  const own = (k: number) => roiAround(images[k], locs[k].centerRow, locs[k].centerColumn, spec.roiSideMm);
  const found = locs.map((l, k) => (l.found ? k : -1)).filter((k) => k >= 0);
  const ownOrNone = (l: Localisation, k: number) => (l.found || l.tentative ? { roi: own(k), source: 'localiser' as const } : null);
  if (!opts.series || found.length === 0 || images.length < 3) return locs.map(ownOrNone);
  const mm = (k: number, r: number, c: number): [number, number] => {
    const [sr, sc] = effectivePixelSpacingMm(images[k]);
    return [r * sr, c * sc];
  };
  const centresMm = found.map((k) => mm(k, locs[k].centerRow, locs[k].centerColumn));
  const consensus: [number, number] = [median(centresMm.map((p) => p[0])), median(centresMm.map((p) => p[1]))];
  return locs.map((l, k) => {
    const [sr, sc] = effectivePixelSpacingMm(images[k]);
    if (l.found || l.tentative) {
      const [r, c] = mm(k, l.centerRow, l.centerColumn);
      if (Math.hypot(r - consensus[0], c - consensus[1]) <= spec.seriesMaxOffsetMm) return { roi: own(k), source: 'localiser' as const };
    }
    return { roi: roiAround(images[k], consensus[0] / sr, consensus[1] / sc, spec.roiSideMm), source: 'series' as const };
  });
}

/** Side (mm) of a region `factor` × the equivalent diameter of an LV of `areaMm2`, clamped to [`minSideMm`, `maxSideMm`]. */
export function zoomSideMm(areaMm2: number, zoom: ZoomSpec, maxSideMm: number): number {
  return Math.min(maxSideMm, Math.max(zoom.minSideMm, zoom.factor * 2 * Math.sqrt(areaMm2 / Math.PI)));
}

/**
 * The second look's region for a first-pass mask (`spec.zoom`): centred on the mask's centroid, sized from its area;
 * null when there is no zoom, the mask is empty, or the region would not be below `maxShare` × `roiSideMm`.
 */
export function zoomRoi(mask: BinaryMask, image: GrayImage, spec: CascadeSpec): Roi | null {
  if (!spec.zoom) return null;
  const centre = maskCentroid(mask.data, mask.rows, mask.columns);
  if (!centre) return null;
  const [sr, sc] = effectivePixelSpacingMm(image);
  const side = zoomSideMm(countLvPixels(mask) * sr * sc, spec.zoom, spec.roiSideMm);
  return side < spec.zoom.maxShare * spec.roiSideMm ? roiAround(image, centre[0], centre[1], side) : null;
}

/** The localiser's input for an already normalised image. */
export function localiserInput(normalized: Float32Array, image: GrayImage, spec: CascadeSpec): Float32Array {
  return resizeBilinear(normalized, image.rows, image.columns, spec.localiserSize, spec.localiserSize);
}

/** The segmenter's input: the ROI of an already normalised image. */
export function segmenterInput(normalized: Float32Array, image: GrayImage, roi: Roi, spec: CascadeSpec): Float32Array {
  return cropToRoi(normalized, image.rows, image.columns, roi, spec.segmenterSize);
}

/** Segment images with the cascade: normalize once, localise all, segment each ROI, paste back, post-process. */
export async function segmentCascade(images: GrayImage[], runners: CascadeRunners, spec: CascadeSpec, mask: MaskOptions, opts: CascadeOptions = {}): Promise<CascadeSegmentation[]> {
  if (images.length === 0) return [];
  const normalized = images.map((im) => normalize(im));
  const locProbs = await runners.localiser(normalized.map((n, k) => localiserInput(n, images[k], spec)), spec.localiserSize);
  const locs = locProbs.map((p, k) => localise(p, spec.localiserSize, images[k].rows, images[k].columns, spec));
  const plans = planRois(images, locs, spec, opts);
  const todo = plans.map((p, k) => (p ? k : -1)).filter((k) => k >= 0);
  const crops = todo.map((k) => segmenterInput(normalized[k], images[k], plans[k]!.roi, spec));
  const segProbs = todo.length ? await runSegmenter(runners.segmenter, crops, spec) : [];
  const byImage = new Map(todo.map((k, j) => [k, segProbs[j]]));
  const first: CascadeSegmentation[] = images.map((im, k) => {
    const plan = plans[k];
    const crop = byImage.get(k);
    if (!plan || !crop) {
      return { probability: new Float32Array(im.rows * im.columns), mask: { rows: im.rows, columns: im.columns, data: new Uint8Array(im.rows * im.columns) }, lvFound: false, roi: null, roiSource: null };
    }
    return segmentationInRoi(crop, plan.roi, im, spec, mask, plan.source);
  });
  if (!spec.zoom) return first;
  // The second look at small LVs: one more segmenter batch for the images whose first mask asks for it.
  const zooms = first.map((r, k) => (r.lvFound ? zoomRoi(r.mask, images[k], spec) : null));
  const again = zooms.map((z, k) => (z ? k : -1)).filter((k) => k >= 0);
  if (!again.length) return first;
  const zoomProbs = await runSegmenter(runners.segmenter, again.map((k) => segmenterInput(normalized[k], images[k], zooms[k]!, spec)), spec);
  again.forEach((k, j) => {
    const z = segmentationInRoi(zoomProbs[j], zooms[k]!, images[k], spec, mask, first[k].roiSource!);
    if (z.lvFound) first[k] = { ...z, zoomed: true };
  });
  return first;
}

/** The segmenter's map of one ROI brought back to the image and post-processed. */
function segmentationInRoi(crop: Float32Array, roi: Roi, image: GrayImage, spec: CascadeSpec, mask: MaskOptions, source: 'localiser' | 'series'): CascadeSegmentation {
  const probability = pasteRoiProbability(crop, roi, image, spec);
  const m = maskWithinRoi(probability, image, roi, mask);
  return { probability, mask: m, lvFound: hasLvPixel(m), roi, roiSource: source };
}

/**
 * `probabilityToMask` of a map that is 0 outside the ROI, done on the ROI's bounding box only (7× fewer pixels for a
 * 96-px ROI in a 256² image) and pasted into an image-sized mask. The same mask: outside pixels are never LV, so
 * components are the same, and background reaching the box's edge reaches the image's border through the 0s.
 */
export function maskWithinRoi(probability: Float32Array, image: Pick<GrayImage, 'rows' | 'columns'>, roi: Roi, opts: MaskOptions): BinaryMask {
  const { rows, columns } = image;
  const r0 = Math.max(0, Math.floor(roi.centerRow - roi.height / 2) - 1);
  const r1 = Math.min(rows - 1, Math.ceil(roi.centerRow + roi.height / 2) + 1);
  const c0 = Math.max(0, Math.floor(roi.centerColumn - roi.width / 2) - 1);
  const c1 = Math.min(columns - 1, Math.ceil(roi.centerColumn + roi.width / 2) + 1);
  const out: BinaryMask = { rows, columns, data: new Uint8Array(rows * columns) };
  if (r1 < r0 || c1 < c0) return out;
  const h = r1 - r0 + 1;
  const w = c1 - c0 + 1;
  const box = new Float32Array(h * w);
  for (let r = 0; r < h; r++) box.set(probability.subarray((r + r0) * columns + c0, (r + r0) * columns + c0 + w), r * w);
  const m = probabilityToMask(box, h, w, opts);
  for (let r = 0; r < h; r++) out.data.set(m.data.subarray(r * w, (r + 1) * w), (r + r0) * columns + c0);
  return out;
}

/** A size×size map mirrored left-right (its own inverse). */
function mirror(a: Float32Array, size: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < size; r++) for (let c = 0; c < size; c++) out[r * size + c] = a[r * size + size - 1 - c];
  return out;
}

/** The segmenter on the ROIs, averaged with its map of their mirror images when `testTimeFlip` is on. */
export async function runSegmenter(run: StageRunner, crops: Float32Array[], spec: CascadeSpec): Promise<Float32Array[]> {
  const s = spec.segmenterSize;
  if (!spec.testTimeFlip) return run(crops, s);
  const out = await run([...crops, ...crops.map((c) => mirror(c, s))], s);
  return crops.map((_, k) => {
    const back = mirror(out[crops.length + k], s);
    return out[k].map((v, i) => (v + back[i]) / 2);
  });
}

/** The segmenter's LV map brought back to the image grid (0 outside the ROI). */
export function pasteRoiProbability(crop: Float32Array, roi: Roi, image: GrayImage, spec: CascadeSpec): Float32Array {
  return pasteFromRoi(crop, spec.segmenterSize, roi, image.rows, image.columns, 0);
}
