/**
 * Contours in patient coordinates (RT Structure Sets) mapped onto an image's pixel grid and filled with the DICOM RT
 * rule (`fillContoursByPixelCentre`: a pixel is in the ROI when its centre lies inside; several contours on one image
 * are even-odd, so a nested contour is a hole).
 *
 * DICOM puts ImagePositionPatient at the centre of the first pixel, so the centre of pixel (row r, column c) is
 * IPP + c·Δc·rowCosine + r·Δr·columnCosine. lvseg's pixel coordinates (`contour.ts`) have pixel (r, c) cover
 * [c, c + 1) × [r, r + 1), i.e. its centre at (c + ½, r + ½); a patient point therefore maps to
 * x = (P − IPP)·rowCosine / Δc + ½ (likewise y), and a contour point at a pixel's centre lands on that centre.
 */
import { LvsegError } from '@lvseg/common';
import { BinaryMask } from './image';
import { fillContoursByPixelCentre } from './pixel-centre-fill';

/** An image's plane: ImagePositionPatient, ImageOrientationPatient, PixelSpacing [row spacing, column spacing] (mm), size. */
export interface ImagePlane {
  imagePositionPatient: readonly [number, number, number];
  imageOrientationPatient: readonly [number, number, number, number, number, number];
  pixelSpacingMm: readonly [number, number];
  rows: number;
  columns: number;
}

type Vec3 = [number, number, number];
const dot = (a: readonly number[], b: readonly number[]): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

/** The unit normal of an image plane (row cosine × column cosine). */
export function planeNormal(plane: Pick<ImagePlane, 'imageOrientationPatient'>): Vec3 {
  const [r0, r1, r2, c0, c1, c2] = plane.imageOrientationPatient;
  const n: Vec3 = [r1 * c2 - r2 * c1, r2 * c0 - r0 * c2, r0 * c1 - r1 * c0];
  const len = Math.hypot(...n);
  return len > 0 ? [n[0] / len, n[1] / len, n[2] / len] : n;
}

/** Largest distance (mm) of the points from the image's plane. */
export function distanceFromPlane(points: ReadonlyArray<readonly [number, number, number]>, plane: Pick<ImagePlane, 'imagePositionPatient' | 'imageOrientationPatient'>): number {
  const n = planeNormal(plane);
  const o = plane.imagePositionPatient;
  let max = 0;
  for (const p of points) max = Math.max(max, Math.abs(dot([p[0] - o[0], p[1] - o[1], p[2] - o[2]], n)));
  return max;
}

/** Patient-coordinate points → [x, y] = [column, row] in lvseg's pixel coordinates of `plane` (pixel centres at c + ½, r + ½). */
export function patientToPixel(points: ReadonlyArray<readonly [number, number, number]>, plane: ImagePlane): Array<[number, number]> {
  const [rowSpacing, columnSpacing] = plane.pixelSpacingMm;
  if (!(rowSpacing > 0 && columnSpacing > 0)) throw new LvsegError('invalid-input', 'PLANE_PIXEL_SPACING', 'PixelSpacing must be positive');
  const iop = plane.imageOrientationPatient;
  const rowCosine = [iop[0], iop[1], iop[2]];
  const columnCosine = [iop[3], iop[4], iop[5]];
  const o = plane.imagePositionPatient;
  // Stored cosines have 6 or so decimals, so they are not exactly orthonormal: solve d = u·row + v·column (least
  // squares, the 2×2 normal equations) rather than project, so a point written from pixel coordinates maps back exactly.
  const [rr, rc, cc] = [dot(rowCosine, rowCosine), dot(rowCosine, columnCosine), dot(columnCosine, columnCosine)];
  const det = rr * cc - rc * rc;
  if (!(Math.abs(det) > 1e-12)) throw new LvsegError('invalid-input', 'PLANE_ORIENTATION', 'ImageOrientationPatient does not span a plane');
  return points.map((p) => {
    const d = [p[0] - o[0], p[1] - o[1], p[2] - o[2]];
    const [dr, dc] = [dot(d, rowCosine), dot(d, columnCosine)];
    const u = (cc * dr - rc * dc) / det;
    const v = (rr * dc - rc * dr) / det;
    // Float noise of the mm values is absorbed by the fill, which rounds points to 1/1024 pixel.
    return [u / columnSpacing + 0.5, v / rowSpacing + 0.5];
  });
}

/** Fills closed planar contours (patient coordinates) on `plane`'s pixel grid: pixel centres inside, even-odd across contours. */
export function rasterizePatientContours(contours: ReadonlyArray<ReadonlyArray<readonly [number, number, number]>>, plane: ImagePlane): BinaryMask {
  return fillContoursByPixelCentre(
    contours.map((c) => patientToPixel(c, plane)),
    plane.rows,
    plane.columns,
  );
}
