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
 * Same values bit for bit as sorting everything, in ~1/10 of the time on a 256×256 image.
 */
export function selectedPercentiles(values: Float32Array, ps: number[]): number[] {
  const n = values.length;
  if (n === 0) return ps.map(() => 0);
  const keys = sortKeys(values);
  const high = new Uint32Array(65536);
  for (let i = 0; i < n; i++) high[keys[i] >>> 16]++;
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
  // One pass collects the keys of those (few, usually two) buckets; only they are sorted.
  const members = new Map<number, { keys: Uint32Array; filled: number }>();
  for (const b of bucketOf) if (!members.has(b)) members.set(b, { keys: new Uint32Array(high[b]), filled: 0 });
  for (let i = 0; i < n; i++) {
    const m = members.get(keys[i] >>> 16);
    if (m) m.keys[m.filled++] = keys[i];
  }
  for (const m of members.values()) m.keys.sort();
  const at = (i: number) => keyToFloat((members.get(bucketOf[i]) as { keys: Uint32Array }).keys[ranks[i] - before[i]]);
  return ps.map((p, j) => {
    const pos = (p / 100) * (n - 1);
    const lo = Math.floor(pos);
    const a = at(2 * j);
    const b = ranks[2 * j + 1] === lo ? a : at(2 * j + 1);
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
