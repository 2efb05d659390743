/**
 * Connected components of LV masks, for post-processing a prediction into the one blob that is the LV.
 *
 * Connectivity: foreground components are 8-connected by default and holes are found in the 4-connected background.
 * That is the usual dual pair: the expert labels were made by setting the contour's pixels to 1 and filling, and a
 * rasterised contour is an 8-connected pixel chain (it steps diagonally); under 8/4 such a chain is one component and it
 * closes its interior, whereas 4-connected foreground would split it at every diagonal step and 8-connected background
 * would leak through those steps. 4-connected foreground stays available for callers that want the stricter rule.
 * All traversals are iterative (an explicit Int32Array queue), so a 256 x 256 blob cannot overflow the stack.
 */
import type { BinaryMask } from '@lvseg/imaging';
import { LvsegError } from '@lvseg/common';
import { assertValidMask } from './mask-checks';

export type Connectivity = 4 | 8;

/** A label image: `labels[i]` is 0 for background, else the 1-based component number of pixel i. */
export interface ComponentLabels {
  labels: Int32Array;
  /** Number of components. */
  count: number;
  /** `sizes[k - 1]` is the pixel count of component k. */
  sizes: number[];
}

const OFFSETS_4: ReadonlyArray<readonly [number, number]> = [
  [-1, 0],
  [0, -1],
  [0, 1],
  [1, 0],
];
const OFFSETS_8: ReadonlyArray<readonly [number, number]> = [
  [-1, -1],
  [-1, 0],
  [-1, 1],
  [0, -1],
  [0, 1],
  [1, -1],
  [1, 0],
  [1, 1],
];

function assertConnectivity(connectivity: number): void {
  if (connectivity !== 4 && connectivity !== 8) {
    throw new LvsegError('invalid-input', 'BAD_CONNECTIVITY', `connectivity must be 4 or 8, got ${connectivity}`);
  }
}

/** Labels the connected components of the non-zero pixels (breadth-first, numbered in raster order of first pixel). */
export function labelComponents(mask: BinaryMask, connectivity: Connectivity = 8): ComponentLabels {
  assertValidMask(mask);
  assertConnectivity(connectivity);
  const { rows, columns, data } = mask;
  const offsets = connectivity === 8 ? OFFSETS_8 : OFFSETS_4;
  // Flat offset arrays: destructuring the tuples per pixel cost ~half of the labelling time (it runs on every request).
  const dRow = Int32Array.from(offsets, (o) => o[0]);
  const dCol = Int32Array.from(offsets, (o) => o[1]);
  const n = offsets.length;
  const labels = new Int32Array(data.length);
  const queue = new Int32Array(data.length);
  const sizes: number[] = [];
  for (let seed = 0; seed < data.length; seed++) {
    if (data[seed] === 0 || labels[seed] !== 0) continue;
    const label = sizes.length + 1;
    let head = 0;
    let tail = 0;
    queue[tail++] = seed;
    labels[seed] = label;
    while (head < tail) {
      const p = queue[head++];
      const r = (p / columns) | 0;
      const c = p - r * columns;
      for (let k = 0; k < n; k++) {
        const rr = r + dRow[k];
        const cc = c + dCol[k];
        if (rr < 0 || rr >= rows || cc < 0 || cc >= columns) continue;
        const q = rr * columns + cc;
        if (data[q] !== 0 && labels[q] === 0) {
          labels[q] = label;
          queue[tail++] = q;
        }
      }
    }
    sizes.push(tail);
  }
  return { labels, count: sizes.length, sizes };
}

/** Options of `selectComponent`. */
export interface SelectComponentOptions {
  /** Per-pixel LV probability (same length as the mask); a component then scores the sum of its probabilities. */
  probability?: Float32Array;
  connectivity?: Connectivity;
}

/**
 * Keeps the one connected component most likely to be the LV and clears the rest. Score = pixel count, or the sum of
 * `probability` over the component when given (a large confident blob beats a large doubtful one). Ties go to the
 * component whose first pixel comes first in raster order. An empty mask gives an empty mask. Never mutates `mask`.
 */
export function selectComponent(mask: BinaryMask, options: SelectComponentOptions = {}): BinaryMask {
  const { probability, connectivity = 8 } = options;
  const { labels, count, sizes } = labelComponents(mask, connectivity);
  const out: BinaryMask = { rows: mask.rows, columns: mask.columns, data: new Uint8Array(mask.data.length) };
  if (count === 0) return out;

  let scores: ArrayLike<number> = sizes;
  if (probability !== undefined) {
    if (probability.length !== mask.data.length) {
      throw new LvsegError(
        'invalid-input',
        'PROBABILITY_SIZE_MISMATCH',
        `probability map has ${probability.length} values but the mask has ${mask.data.length} pixels`,
      );
    }
    const sums = new Float64Array(count);
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] === 0) continue;
      const v = probability[i];
      if (!Number.isFinite(v)) {
        throw new LvsegError('invalid-input', 'PROBABILITY_NOT_FINITE', `probability map has a non-finite value at ${i}`);
      }
      sums[labels[i] - 1] += v;
    }
    scores = sums;
  }

  let best = 0;
  for (let k = 1; k < count; k++) if (scores[k] > scores[best]) best = k;
  const keep = best + 1;
  for (let i = 0; i < labels.length; i++) if (labels[i] === keep) out.data[i] = 1;
  return out;
}

/** Keeps only the largest connected component (8-connected by default); empty in → empty out. */
export function largestComponent(mask: BinaryMask, connectivity: Connectivity = 8): BinaryMask {
  return selectComponent(mask, { connectivity });
}

/**
 * Sets to 1 every background pixel that is not 4-connected to the image border (a hole), as the expert labels were
 * filled. Output values are 0/1. Never mutates `mask`.
 */
export function fillHoles(mask: BinaryMask): BinaryMask {
  assertValidMask(mask);
  const { rows, columns, data } = mask;
  const outside = new Uint8Array(data.length);
  const queue = new Int32Array(data.length);
  let tail = 0;
  // Seeds: background pixels of the border. Inlined (no closure per neighbour): this runs on every request.
  for (let c = 0; c < columns; c++) {
    for (const p of [c, (rows - 1) * columns + c]) {
      if (data[p] === 0 && outside[p] === 0) {
        outside[p] = 1;
        queue[tail++] = p;
      }
    }
  }
  for (let r = 0; r < rows; r++) {
    for (const p of [r * columns, r * columns + columns - 1]) {
      if (data[p] === 0 && outside[p] === 0) {
        outside[p] = 1;
        queue[tail++] = p;
      }
    }
  }
  for (let head = 0; head < tail; head++) {
    const p = queue[head];
    const r = (p / columns) | 0;
    const c = p - r * columns;
    let q = p - columns;
    if (r > 0 && data[q] === 0 && outside[q] === 0) {
      outside[q] = 1;
      queue[tail++] = q;
    }
    q = p + columns;
    if (r < rows - 1 && data[q] === 0 && outside[q] === 0) {
      outside[q] = 1;
      queue[tail++] = q;
    }
    q = p - 1;
    if (c > 0 && data[q] === 0 && outside[q] === 0) {
      outside[q] = 1;
      queue[tail++] = q;
    }
    q = p + 1;
    if (c < columns - 1 && data[q] === 0 && outside[q] === 0) {
      outside[q] = 1;
      queue[tail++] = q;
    }
  }
  const out = new Uint8Array(data.length);
  for (let i = 0; i < out.length; i++) out[i] = outside[i] === 1 ? 0 : 1;
  return { rows, columns, data: out };
}
