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
  const [lo, hi] = selectedPercentiles(image.data, [NORMALIZE_PERCENTILES.low, NORMALIZE_PERCENTILES.high]);
  const out = new Float32Array(image.data.length);
  const range = hi - lo;
  if (!(range > 0)) return out;
  for (let i = 0; i < out.length; i++) {
    const v = (image.data[i] - lo) / range;
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return out;
}

/**
 * `percentile(sorted copy of values, p)` for each p, without sorting: the order statistics it interpolates are found
 * by a radix select on the float32 bit patterns, mapped to unsigned keys in the order `Float32Array.prototype.sort`
 * uses (-Infinity … -0, +0 … +Infinity, every NaN last). Same values bit for bit, O(n) instead of O(n log n).
 */
export function selectedPercentiles(values: Float32Array, ps: number[]): number[] {
  const n = values.length;
  if (n === 0) return ps.map(() => 0);
  const keys = sortKeys(values);
  const high = new Uint32Array(65536);
  for (let i = 0; i < n; i++) high[keys[i] >>> 16]++;
  const at = (k: number) => keyToFloat(selectKey(keys, high, k));
  return ps.map((p) => {
    const pos = (p / 100) * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(n - 1, lo + 1);
    const a = at(lo);
    const b = hi === lo ? a : at(hi);
    return a + (b - a) * (pos - lo);
  });
}

const NAN_KEY = 0xffffffff;

/** Unsigned keys whose numeric order is the typed-array sort order of the floats. */
function sortKeys(values: Float32Array): Uint32Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const keys = new Uint32Array(values.length);
  for (let i = 0; i < keys.length; i++) {
    const b = bits[i];
    // NaN (any sign, any payload) sorts last, as Float32Array.prototype.sort puts it.
    if ((b & 0x7fffffff) > 0x7f800000) keys[i] = NAN_KEY;
    else keys[i] = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
  }
  return keys;
}

function keyToFloat(key: number): number {
  if (key === NAN_KEY) return NaN;
  const bits = key & 0x80000000 ? (key & 0x7fffffff) >>> 0 : ~key >>> 0;
  return new Float32Array(new Uint32Array([bits]).buffer)[0];
}

/** The k-th smallest key (0-based): the histogram of the high 16 bits picks the bucket, one of the low 16 bits the key. */
function selectKey(keys: Uint32Array, high: Uint32Array, k: number): number {
  let bucket = 0;
  let before = 0;
  while (before + high[bucket] <= k) before += high[bucket++];
  const low = new Uint32Array(65536);
  for (let i = 0; i < keys.length; i++) if (keys[i] >>> 16 === bucket) low[keys[i] & 0xffff]++;
  let rank = k - before;
  let l = 0;
  while (rank >= low[l]) rank -= low[l++];
  return ((bucket << 16) | l) >>> 0;
}
