/**
 * Boundary geometry of LV masks and the MICCAI 2009 LV challenge's average perpendicular distance (APD).
 *
 * Boundary definition (pixel-centre): the boundary of a mask is the set of its LV pixels that have at least one
 * 4-neighbour outside the LV (pixels beyond the image edge count as outside); a boundary point is such a pixel's centre
 * (row, column). This matches how the Sunnybrook PNG labels relate to the expert contours: the contour's pixels were set
 * to 255 and the inside filled, so the contour runs through the centres of the mask's outermost pixels. Measured on the
 * 96 labels that also exist as DICOM + contour file, the mean distance from these boundary points to the expert
 * polygon is 0.255 px over 10,759 points (`npx jest libs/model/src/metrics/contour`, which prints it); a pixel-edge
 * boundary would sit about half a pixel further out.
 * The boundary of a mask with several components or with holes includes all of their rims; run `selectComponent` and
 * `fillHoles` first to measure a single closed contour.
 */
import type { BinaryMask } from '@lvseg/imaging';
import { assertSameSize, assertValidMask } from './mask-checks';
import { checkedSpacing, euclideanDistanceTransform } from './distance-transform';

/** A boundary point: the centre of pixel (row, column) in pixel coordinates (Sunnybrook's x = column, y = row). */
export interface BoundaryPoint {
  row: number;
  column: number;
}

/** Mask of the boundary pixels (LV pixels with a 4-neighbour outside the LV or outside the image). */
export function boundaryMask(mask: BinaryMask): BinaryMask {
  assertValidMask(mask);
  const { rows, columns, data } = mask;
  const out = new Uint8Array(data.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const p = r * columns + c;
      if (data[p] === 0) continue;
      const onBoundary =
        r === 0 ||
        c === 0 ||
        r === rows - 1 ||
        c === columns - 1 ||
        data[p - columns] === 0 ||
        data[p + columns] === 0 ||
        data[p - 1] === 0 ||
        data[p + 1] === 0;
      if (onBoundary) out[p] = 1;
    }
  }
  return { rows, columns, data: out };
}

/** Boundary points of the mask (pixel centres, see the file comment), in raster order. */
export function maskBoundary(mask: BinaryMask): BoundaryPoint[] {
  const boundary = boundaryMask(mask);
  const points: BoundaryPoint[] = [];
  for (let i = 0; i < boundary.data.length; i++) {
    if (boundary.data[i] !== 0) {
      const row = Math.floor(i / mask.columns);
      points.push({ row, column: i - row * mask.columns });
    }
  }
  return points;
}

/**
 * Average perpendicular distance (Radau et al. 2009) from the predicted ("automatic") contour to the expert contour,
 * in mm: the mean, over the boundary points of `predMask`, of the distance to the closest boundary point of
 * `truthMask`. It is one-directional, as in the challenge (auto → manual).
 *
 * Method: an exact Euclidean distance transform of the truth boundary pixel centres (anisotropic spacing honoured),
 * read at the predicted boundary points. Distances go to the nearest truth boundary *pixel centre*, not to the
 * polyline through them; for points on the integer grid and a truth chain with steps of 1 or √2 px the two differ by at
 * most 1 - √2/2 ≈ 0.29 px, and only where the truth boundary runs diagonally. (The challenge's MATLAB script instead
 * intersects the auto contour's normal with a line fitted to the nearest three expert points.)
 *
 * `pixelSpacingMm` is [row spacing, column spacing] (DICOM PixelSpacing order); default [1, 1] gives pixels.
 * Empty prediction with a non-empty truth, or the reverse → Infinity (there is no contour to measure; such an image
 * is never a "good contour"). Both empty → 0. Throws `invalid-input` on a size mismatch or a non-positive spacing.
 */
export function averagePerpendicularDistance(
  predMask: BinaryMask,
  truthMask: BinaryMask,
  pixelSpacingMm: readonly [number, number] = [1, 1],
): number {
  assertSameSize(predMask, truthMask);
  const spacing = checkedSpacing(pixelSpacingMm);
  const predBoundary = boundaryMask(predMask).data;
  const truthBoundary = boundaryMask(truthMask);
  let predCount = 0;
  for (let i = 0; i < predBoundary.length; i++) predCount += predBoundary[i];
  let truthCount = 0;
  for (let i = 0; i < truthBoundary.data.length; i++) truthCount += truthBoundary.data[i];
  if (predCount === 0 && truthCount === 0) return 0;
  if (predCount === 0 || truthCount === 0) return Infinity;

  const distance = euclideanDistanceTransform(truthBoundary, spacing);
  let sum = 0;
  for (let i = 0; i < predBoundary.length; i++) if (predBoundary[i] !== 0) sum += distance[i];
  return sum / predCount;
}
