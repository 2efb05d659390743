import { GrayImage } from './image';

/**
 * The percentiles `normalize()` maps to 0 and 1. Percentiles are invariant to any increasing affine map of the
 * intensities, so a 16-bit DICOM frame and the 8-bit PNG exported from it by a min-max rescale give the same model
 * input up to the PNG's rounding; clipping the top 0.5 % keeps one hot pixel from squashing the blood pool.
 */
export const NORMALIZE_PERCENTILES = { low: 0.5, high: 99.5 } as const;

/** Value at percentile p (0..100) of `values`, by linear interpolation between order statistics. */
export function percentile(sorted: Float32Array, p: number): number {
  if (sorted.length === 0) return 0;
  const pos = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * The one intensity normalisation of lvseg, used by training and serving alike: per image, map the 0.5th
 * percentile to 0 and the 99.5th to 1, clip to [0, 1]. A constant image maps to all zeros.
 */
export function normalize(image: GrayImage): Float32Array {
  const sorted = Float32Array.from(image.data).sort();
  const lo = percentile(sorted, NORMALIZE_PERCENTILES.low);
  const hi = percentile(sorted, NORMALIZE_PERCENTILES.high);
  const out = new Float32Array(image.data.length);
  const range = hi - lo;
  if (!(range > 0)) return out;
  for (let i = 0; i < out.length; i++) {
    const v = (image.data[i] - lo) / range;
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return out;
}
