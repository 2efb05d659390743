/**
 * The statistics of the pre-modelling data report, as pure functions over masks, numbers and per-image records, so each
 * can be checked on small synthetic inputs whose answers are known.
 */

/** Area in mm² of `pixels` pixels of [row, column] spacing `spacingMm`; null when the spacing is unknown. */
export function lvAreaMm2(pixels: number, spacingMm: readonly [number, number] | null | undefined): number | null {
  return spacingMm ? pixels * spacingMm[0] * spacingMm[1] : null;
}

/** Equal-width bins over [min, max]; the last bin includes `max`, values outside the range are not counted. */
export interface BinSpec {
  bins: number;
  min: number;
  max: number;
}

/** Adds the values into `counts` (length `spec.bins`, created when omitted) and returns it. */
export function accumulateHistogram(values: ArrayLike<number>, spec: BinSpec, counts = new Float64Array(spec.bins)): Float64Array {
  const width = (spec.max - spec.min) / spec.bins;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= spec.min && v <= spec.max)) continue;
    const b = v === spec.max ? spec.bins - 1 : Math.floor((v - spec.min) / width);
    counts[Math.min(spec.bins - 1, b)]++;
  }
  return counts;
}

/** Histograms of `values` where `selector` is non-zero (into `selected`) and where it is zero (into `rest`). */
export function accumulateSplitHistogram(values: ArrayLike<number>, selector: ArrayLike<number>, spec: BinSpec, selected: Float64Array, rest: Float64Array): void {
  const width = (spec.max - spec.min) / spec.bins;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= spec.min && v <= spec.max)) continue;
    const b = v === spec.max ? spec.bins - 1 : Math.min(spec.bins - 1, Math.floor((v - spec.min) / width));
    (selector[i] ? selected : rest)[b]++;
  }
}

/** Lower edge of every bin of `spec`. */
export function binStarts(spec: BinSpec): number[] {
  const width = (spec.max - spec.min) / spec.bins;
  return Array.from({ length: spec.bins }, (_, i) => spec.min + i * width);
}

export interface Summary {
  n: number;
  mean: number;
  median: number;
  min: number;
  max: number;
}

/** n, mean, median (mean of the middle two for even n), min and max; all NaN for no values. */
export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) return { n: 0, mean: NaN, median: NaN, min: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(n / 2);
  return {
    n,
    mean: values.reduce((s, v) => s + v, 0) / n,
    median: n % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2,
    min: sorted[0],
    max: sorted[n - 1],
  };
}

/** What a per-image record must carry for the imbalance figures. */
export interface PixelCounts {
  lvPixels: number;
  totalPixels: number;
}

export interface ClassImbalance {
  images: number;
  imagesWithLv: number;
  /** Mean over images of LV pixels / image pixels. */
  meanLvFraction: number;
  medianLvFraction: number;
  maxLvFraction: number;
  /** All LV pixels / all pixels, every image pooled. */
  pooledLvFraction: number;
  /**
   * Pixel accuracy of the constant "all background" answer, as `lvseg eval` reports it (mean of per-image accuracies),
   * i.e. 1 − mean LV fraction.
   */
  allBackgroundPixelAccuracy: number;
  /** Its mean Dice, with the conventions of libs/model's `dice`: 0 on an image with LV, 1 on an image without. */
  allBackgroundMeanDice: number;
}

/** The class-imbalance figures: how much of an image is LV, and what "predict background everywhere" would score. */
export function classImbalance(images: readonly PixelCounts[]): ClassImbalance {
  const fractions = images.map((r) => (r.totalPixels > 0 ? r.lvPixels / r.totalPixels : 0));
  const s = summarize(fractions);
  const lv = images.reduce((a, r) => a + r.lvPixels, 0);
  const total = images.reduce((a, r) => a + r.totalPixels, 0);
  const accuracies = images.map((r) => (r.totalPixels > 0 ? (r.totalPixels - r.lvPixels) / r.totalPixels : 1));
  const dices = images.map((r) => (r.lvPixels > 0 ? 0 : 1));
  return {
    images: images.length,
    imagesWithLv: images.filter((r) => r.lvPixels > 0).length,
    meanLvFraction: s.mean,
    medianLvFraction: s.median,
    maxLvFraction: s.max,
    pooledLvFraction: total > 0 ? lv / total : NaN,
    allBackgroundPixelAccuracy: summarize(accuracies).mean,
    allBackgroundMeanDice: summarize(dices).mean,
  };
}

/** Distinct values with how often each occurs, most frequent first (ties by value). */
export function distinctCounts(values: readonly string[]): Array<{ value: string; count: number }> {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return [...m.entries()].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
}

/** Most frequent value (smallest on ties); null for none. */
export function mode(values: readonly number[]): number | null {
  const c = distinctCounts(values.map(String));
  if (c.length === 0) return null;
  const top = c.filter((x) => x.count === c[0].count).map((x) => Number(x.value));
  return Math.min(...top);
}

/** Agreement of two methods measuring the same thing (Bland & Altman 1986), differences taken as test − reference. */
export interface BlandAltman {
  /** Pairs compared. */
  n: number;
  /** Mean difference (test − reference); null for no pairs. */
  bias: number | null;
  /** Sample standard deviation of the differences (n − 1); null below 2 pairs. */
  sd: number | null;
  /** Limits of agreement, bias ± 1.96 SD; null below 2 pairs. */
  lowerLimit: number | null;
  upperLimit: number | null;
  /** Pearson correlation of test with reference; null below 2 pairs or when either does not vary. */
  pearsonR: number | null;
}

/** Bland–Altman bias, SD and 95 % limits of agreement, and Pearson's r, of paired measurements (same index, same subject). */
export function blandAltman(reference: readonly number[], test: readonly number[]): BlandAltman {
  if (reference.length !== test.length) throw new Error(`blandAltman: ${reference.length} reference values but ${test.length} test values`);
  const n = reference.length;
  if (n === 0) return { n, bias: null, sd: null, lowerLimit: null, upperLimit: null, pearsonR: null };
  const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const diffs = test.map((t, i) => t - reference[i]);
  const bias = mean(diffs);
  if (n < 2) return { n, bias, sd: null, lowerLimit: null, upperLimit: null, pearsonR: null };
  const sd = Math.sqrt(diffs.reduce((a, d) => a + (d - bias) ** 2, 0) / (n - 1));
  const [mr, mt] = [mean(reference), mean(test)];
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (reference[i] - mr) * (test[i] - mt);
    sxx += (reference[i] - mr) ** 2;
    syy += (test[i] - mt) ** 2;
  }
  return { n, bias, sd, lowerLimit: bias - 1.96 * sd, upperLimit: bias + 1.96 * sd, pearsonR: sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : null };
}
