/**
 * Exact Euclidean distance transform (Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled Functions", 2012):
 * two passes of the 1-D lower envelope of parabolas, O(rows * columns), with separate row and column spacing so
 * anisotropic pixels give true millimetres.
 */
import type { BinaryMask } from '@lvseg/imaging';
import { LvsegError } from '@lvseg/common';
import { assertValidMask } from './mask-checks';

// Module constants rather than the globals `Infinity` and `Math` in the hot loops: under jest's vm sandbox every read
// of a global is a slow property lookup (measured under jest over the 526 Sunnybrook labels: 36 ms per 256 x 256
// transform with the globals, 1.4 ms without).
const FAR = Number.POSITIVE_INFINITY;
const sqrt = Math.sqrt;

/** Checks a `[row spacing, column spacing]` pair (mm) and returns it; throws `invalid-input` unless both are > 0. */
export function checkedSpacing(spacingMm: readonly [number, number]): [number, number] {
  const [sr, sc] = spacingMm;
  if (!(Number.isFinite(sr) && sr > 0 && Number.isFinite(sc) && sc > 0)) {
    throw new LvsegError('invalid-input', 'BAD_PIXEL_SPACING', `pixel spacing must be two positive numbers, got ${sr}, ${sc}`);
  }
  return [sr, sc];
}

/**
 * 1-D squared distance transform of f (FAR = no site) sampled every `step` units, written into `out`.
 * Only the n samples starting at `offset` with `stride` are read and written.
 */
function transform1d(
  f: Float64Array,
  out: Float64Array,
  offset: number,
  stride: number,
  n: number,
  step: number,
  v: Int32Array,
  z: Float64Array,
): void {
  const w = step * step;
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = f[offset + q * stride];
    if (fq === FAR) continue;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -FAR;
      z[1] = FAR;
      continue;
    }
    let s: number;
    // z[0] is -FAR, so k never drops below 0 here.
    for (;;) {
      const r = v[k];
      s = (fq + w * q * q - (f[offset + r * stride] + w * r * r)) / (2 * w * (q - r));
      if (s <= z[k]) k--;
      else break;
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = FAR;
  }
  if (k < 0) {
    for (let p = 0; p < n; p++) out[offset + p * stride] = FAR;
    return;
  }
  k = 0;
  for (let p = 0; p < n; p++) {
    while (z[k + 1] < p) k++;
    const d = p - v[k];
    out[offset + p * stride] = w * d * d + f[offset + v[k] * stride];
  }
}

/**
 * For every pixel centre, the Euclidean distance (in mm, given `[row, column]` spacing) to the nearest non-zero pixel
 * centre of `sites`; all Infinity when `sites` is empty.
 */
export function euclideanDistanceTransform(
  sites: BinaryMask,
  spacingMm: readonly [number, number] = [1, 1],
): Float64Array {
  assertValidMask(sites, 'sites');
  const [sr, sc] = checkedSpacing(spacingMm);
  const { rows, columns, data } = sites;
  const f = new Float64Array(data.length);
  for (let i = 0; i < f.length; i++) f[i] = data[i] !== 0 ? 0 : FAR;
  const longest = Math.max(rows, columns);
  const v = new Int32Array(longest);
  const z = new Float64Array(longest + 1);
  const columnPass = new Float64Array(data.length);
  for (let c = 0; c < columns; c++) transform1d(f, columnPass, c, columns, rows, sr, v, z);
  const squared = new Float64Array(data.length);
  for (let r = 0; r < rows; r++) transform1d(columnPass, squared, r * columns, 1, columns, sc, v, z);
  for (let i = 0; i < squared.length; i++) squared[i] = sqrt(squared[i]);
  return squared;
}
