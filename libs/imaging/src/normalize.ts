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
  return rescaleClipped(image.data, lo, hi);
}

/** Maps `lo` → 0 and `hi` → 1 linearly, clipped to [0, 1]; all zeros when `hi` ≤ `lo`. */
export function rescaleClipped(data: ArrayLike<number>, lo: number, hi: number): Float32Array {
  const out = new Float32Array(data.length);
  const range = hi - lo;
  if (!(range > 0)) return out;
  for (let i = 0; i < out.length; i++) {
    const v = (data[i] - lo) / range;
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return out;
}

/**
 * `percentile(sorted copy of values, p)` for each p, without a full sort: the float32 bit patterns are mapped to
 * unsigned keys in the order `Float32Array.prototype.sort` uses (-Infinity … -0, +0 … +Infinity, every NaN last); a
 * histogram of their high 16 bits finds the bucket of each wanted rank, and only that bucket's keys are sorted.
 * Same values bit for bit as sorting everything; two linear passes, no per-pixel allocation or map lookup (it runs on
 * every served image).
 */
export function selectedPercentiles(values: Float32Array, ps: number[]): number[] {
  const n = values.length;
  if (n === 0) return ps.map(() => 0);
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  // The keys are computed once and kept for the second pass (scratch up to KEY_SCRATCH_MAX pixels; larger images
  // get their own array, so the module never holds more than 4 MiB).
  if (n <= KEY_SCRATCH_MAX && KEY_SCRATCH.length < n) KEY_SCRATCH = new Uint32Array(Math.max(n, 65536));
  const keys = n <= KEY_SCRATCH_MAX ? KEY_SCRATCH : new Uint32Array(n);
  const high = HISTOGRAM;
  high.fill(0);
  for (let i = 0; i < n; i++) {
    const key = sortKey(bits[i]);
    keys[i] = key;
    high[key >>> 16]++;
  }
  const ranks = ps.flatMap((p) => {
    const lo = Math.floor((p / 100) * (n - 1));
    return [lo, Math.min(n - 1, lo + 1)];
  });
  // One walk of the histogram: the bucket of every wanted rank and the count before it.
  const order = ranks.map((k, i) => [k, i]).sort((a, b) => a[0] - b[0]);
  const bucketOf = new Int32Array(ranks.length);
  const before = new Float64Array(ranks.length);
  let bucket = 0;
  let count = 0;
  for (const [k, i] of order) {
    while (count + high[bucket] <= k) count += high[bucket++];
    bucketOf[i] = bucket;
    before[i] = count;
  }
  // One pass histograms the low 16 key bits within those (few, usually two) buckets; a walk of each gives the keys.
  const buckets = [...new Set(bucketOf)];
  const lows = buckets.map((_, m) => lowHistogram(m));
  const b0 = buckets[0];
  const b1 = buckets.length > 1 ? buckets[1] : -1;
  const low0 = lows[0];
  const low1 = buckets.length > 1 ? lows[1] : low0;
  const more = buckets.length > 2;
  for (let i = 0; i < n; i++) {
    const key = keys[i];
    const h = key >>> 16;
    if (h === b0) low0[key & 0xffff]++;
    else if (h === b1) low1[key & 0xffff]++;
    else if (more) {
      const m = buckets.indexOf(h);
      if (m >= 0) lows[m][key & 0xffff]++;
    }
  }
  const at = (i: number) => {
    const m = buckets.indexOf(bucketOf[i]);
    const low = lows[m];
    let rest = ranks[i] - before[i];
    let v = 0;
    while (rest >= low[v]) rest -= low[v++];
    return keyToFloat(((buckets[m] << 16) | v) >>> 0);
  };
  return ps.map((p, j) => {
    const pos = (p / 100) * (n - 1);
    const lo = Math.floor(pos);
    const a = at(2 * j);
    const b = ranks[2 * j + 1] === lo ? a : at(2 * j + 1);
    return a + (b - a) * (pos - lo);
  });
}

/** Scratch sort keys of images up to this many pixels (1024², 4 MiB). */
const KEY_SCRATCH_MAX = 1 << 20;
let KEY_SCRATCH = new Uint32Array(0);
/** Scratch histograms of 16 key bits, zeroed on use (JS is single-threaded: one set per module is safe). */
const HISTOGRAM = new Uint32Array(65536);
const LOW_HISTOGRAMS: Uint32Array[] = [];

function lowHistogram(k: number): Uint32Array {
  while (LOW_HISTOGRAMS.length <= k) LOW_HISTOGRAMS.push(new Uint32Array(65536));
  return LOW_HISTOGRAMS[k].fill(0);
}

const NAN_KEY = 0xffffffff;

/** Unsigned key whose numeric order is the typed-array sort order of the float with these bits. */
function sortKey(b: number): number {
  // NaN (any sign, any payload) sorts last, as Float32Array.prototype.sort puts it.
  if ((b & 0x7fffffff) > 0x7f800000) return NAN_KEY;
  return b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
}

function keyToFloat(key: number): number {
  if (key === NAN_KEY) return NaN;
  const bits = key & 0x80000000 ? (key & 0x7fffffff) >>> 0 : ~key >>> 0;
  return new Float32Array(new Uint32Array([bits]).buffer)[0];
}
