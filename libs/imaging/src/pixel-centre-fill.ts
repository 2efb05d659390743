/**
 * The DICOM RT rasterisation of closed planar contours: a pixel belongs to the region when its centre lies inside.
 *
 * Coordinates are those of `contour.ts` ([x, y] = [column, row], pixel (r, c) covers [c, c + 1) × [r, r + 1), so its
 * centre is (c + ½, r + ½)). All contours given are one region under the even-odd rule: a contour inside another is a
 * hole, where two overlap the overlap is outside (XOR, as PS3.3 C.8.8.6.3 defines for CLOSEDPLANAR_XOR and as RT
 * readers treat nested CLOSED_PLANAR contours). Orientation does not matter.
 *
 * A centre exactly on an edge is decided by the top-left rule of polygon rasterisers: inside when the edge is a left
 * or top edge of the region, outside when it is a right or bottom edge. So two contours sharing an edge never both
 * claim a pixel and never both drop it, and a rectangle with corners on pixel centres covers exactly its area in
 * pixels. To make "exactly on" exact, points are rounded to 1/1024 pixel and every inside/outside decision is taken in
 * integer arithmetic (products < 2^53); float noise from the patient-coordinate mapping cannot flip a pixel.
 *
 * The Sunnybrook contour files follow another rule (`rasterizeContour`: the points' pixels, outline included).
 */
import { LvsegError } from '@lvseg/common';
import { ContourErrorCode } from './contour';
import { BinaryMask } from './image';

// Sub-pixel grid of the points: a power of two, so pixel centres (c + ½) are on it and scaling is exact.
const Q = 1024;
const HALF = Q / 2;
const MAX_SIDE = 16384;

/** Fills the pixels whose centres lie inside the closed polygons (even-odd across all of them; top-left rule on edges). */
export function fillContoursByPixelCentre(contours: ReadonlyArray<ReadonlyArray<readonly [number, number]>>, rows: number, columns: number): BinaryMask {
  for (const [name, v] of [['rows', rows], ['columns', columns]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > MAX_SIDE) {
      throw new LvsegError('invalid-input', ContourErrorCode.InvalidSize, `mask ${name} must be an integer in 1..${MAX_SIDE}, got ${v}`);
    }
  }
  // Edges as integer endpoints on the 1/Q grid, lower end first (a = smaller y); horizontal edges never cross a scanline.
  const edges: Array<[xa: number, ya: number, xb: number, yb: number]> = [];
  // The bound (as `rasterizeContour`'s) keeps |coordinate·Q| < 2^26, so the products below stay exact integers.
  const mx = Math.max(columns, 1024);
  const my = Math.max(rows, 1024);
  contours.forEach((points, k) => {
    if (points.length < 3) throw new LvsegError('invalid-input', ContourErrorCode.TooFewPoints, `contour ${k + 1}: a closed contour needs at least 3 points, got ${points.length}`);
    const grid = points.map(([x, y], i): [number, number] => {
      if (!Number.isFinite(x) || !Number.isFinite(y) || x < -mx || x > columns + mx || y < -my || y > rows + my) {
        throw new LvsegError('invalid-input', ContourErrorCode.InvalidPoint, `contour ${k + 1} point ${i + 1} is not finite or lies far outside the ${columns}×${rows} image`, { index: i });
      }
      return [Math.round(x * Q), Math.round(y * Q)];
    });
    for (let i = 0; i < grid.length; i++) {
      const [x0, y0] = grid[i];
      const [x1, y1] = grid[(i + 1) % grid.length];
      if (y0 < y1) edges.push([x0, y0, x1, y1]);
      else if (y1 < y0) edges.push([x1, y1, x0, y0]);
    }
  });

  const data = new Uint8Array(rows * columns);
  const starts: number[] = [];
  for (let r = 0; r < rows; r++) {
    const yc = r * Q + HALF;
    starts.length = 0;
    for (const [xa, ya, xb, yb] of edges) {
      // Half-open in y: the edge meets the scanline when ya ≤ yc < yb (a top edge's centres are in, a bottom edge's out).
      if (!(ya <= yc && yc < yb)) continue;
      // The centre (xc, yc) is at or right of the edge iff atOrRight(xc) ≥ 0 (exact: every term is an integer < 2^53).
      const atOrRight = (c: number) => (c * Q + HALF - xa) * (yb - ya) - (yc - ya) * (xb - xa);
      // First column whose centre is at or right of the crossing: estimate in floats, settle exactly.
      const crossing = xa + ((yc - ya) * (xb - xa)) / (yb - ya);
      let c = Math.ceil((crossing - HALF) / Q);
      while (atOrRight(c - 1) >= 0) c--;
      while (atOrRight(c) < 0) c++;
      starts.push(c);
    }
    starts.sort((a, b) => a - b);
    // Even-odd: a centre is inside when an odd number of crossings lie at or left of it.
    for (let k = 0; k + 1 < starts.length; k += 2) {
      const from = Math.max(0, starts[k]);
      const to = Math.min(columns, starts[k + 1]);
      for (let c = from; c < to; c++) data[r * columns + c] = 1;
    }
  }
  return { rows, columns, data };
}
