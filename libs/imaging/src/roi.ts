import { GrayImage } from './image';

/**
 * A square region of interest in an image's own pixel grid: its centre (continuous pixel-centre coordinates, row and
 * column) and its extent in pixels along rows and columns (equal in mm, so unequal in pixels when the pixels are not
 * square).
 */
export interface Roi {
  centerRow: number;
  centerColumn: number;
  /** Extent along the row axis (number of image rows covered). */
  height: number;
  /** Extent along the column axis (number of image columns covered). */
  width: number;
}

/**
 * Field of view assumed for an image without PixelSpacing: 350 mm across, the Sunnybrook scans' 256 px × 1.3672 mm.
 * The PNG training set carries no spacing, so the ROI of a PNG is the same share of its width as on those scans.
 */
export const NOMINAL_FIELD_OF_VIEW_MM = 350;

/** Pixel spacing [row, column] in mm: the image's own, else the nominal field of view spread over its rows/columns. */
export function effectivePixelSpacingMm(image: Pick<GrayImage, 'rows' | 'columns' | 'pixelSpacingMm'>): [number, number] {
  const s = image.pixelSpacingMm;
  if (s && s[0] > 0 && s[1] > 0) return [s[0], s[1]];
  return [NOMINAL_FIELD_OF_VIEW_MM / image.rows, NOMINAL_FIELD_OF_VIEW_MM / image.columns];
}

/** The ROI of `sideMm` × `sideMm` centred at (row, column) of an image. */
export function roiAround(image: Pick<GrayImage, 'rows' | 'columns' | 'pixelSpacingMm'>, centerRow: number, centerColumn: number, sideMm: number): Roi {
  const [sr, sc] = effectivePixelSpacingMm(image);
  return { centerRow, centerColumn, height: sideMm / sr, width: sideMm / sc };
}

/**
 * Resample the ROI of a row-major image (rows × columns) to size × size by bilinear interpolation at pixel centres;
 * samples outside the image are 0 (black, as normalised background).
 */
export function cropToRoi(src: ArrayLike<number>, rows: number, columns: number, roi: Roi, size: number): Float32Array {
  const out = new Float32Array(size * size);
  const top = roi.centerRow - roi.height / 2;
  const left = roi.centerColumn - roi.width / 2;
  const stepR = roi.height / size;
  const stepC = roi.width / size;
  const at = (r: number, c: number) => (r >= 0 && c >= 0 && r < rows && c < columns ? src[r * columns + c] : 0);
  for (let i = 0; i < size; i++) {
    // Output pixel i covers [top + i·step, top + (i+1)·step) in pixel-centre coordinates (pixel k spans k ± 0.5).
    const y = top + (i + 0.5) * stepR;
    const y0 = Math.floor(y);
    const fy = y - y0;
    for (let j = 0; j < size; j++) {
      const x = left + (j + 0.5) * stepC;
      const x0 = Math.floor(x);
      const fx = x - x0;
      out[i * size + j] = (at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx) * (1 - fy) + (at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx) * fy;
    }
  }
  return out;
}

/**
 * The inverse of `cropToRoi`: a size × size map over the ROI brought back to the image grid (rows × columns) by
 * bilinear interpolation (edge-clamped inside the ROI); pixels outside the ROI get `outside` (0).
 */
export function pasteFromRoi(crop: ArrayLike<number>, size: number, roi: Roi, rows: number, columns: number, outside = 0): Float32Array {
  const out = new Float32Array(rows * columns).fill(outside);
  const top = roi.centerRow - roi.height / 2;
  const left = roi.centerColumn - roi.width / 2;
  // Image pixels whose centre lies inside the ROI.
  const r0 = Math.max(0, Math.ceil(top));
  const r1 = Math.min(rows - 1, Math.floor(top + roi.height));
  const c0 = Math.max(0, Math.ceil(left));
  const c1 = Math.min(columns - 1, Math.floor(left + roi.width));
  const clamp = (v: number) => (v < 0 ? 0 : v > size - 1 ? size - 1 : v);
  for (let r = r0; r <= r1; r++) {
    const y = clamp(((r - top) / roi.height) * size - 0.5);
    const y0 = Math.floor(y);
    const y1 = Math.min(size - 1, y0 + 1);
    const fy = y - y0;
    for (let c = c0; c <= c1; c++) {
      const x = clamp(((c - left) / roi.width) * size - 0.5);
      const x0 = Math.floor(x);
      const x1 = Math.min(size - 1, x0 + 1);
      const fx = x - x0;
      out[r * columns + c] = (crop[y0 * size + x0] * (1 - fx) + crop[y0 * size + x1] * fx) * (1 - fy) + (crop[y1 * size + x0] * (1 - fx) + crop[y1 * size + x1] * fx) * fy;
    }
  }
  return out;
}

/** Centroid (row, column) of the non-zero pixels of a mask, or null when it is empty. */
export function maskCentroid(mask: ArrayLike<number>, rows: number, columns: number): [number, number] | null {
  let n = 0, sr = 0, sc = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      if (mask[r * columns + c]) {
        n++;
        sr += r;
        sc += c;
      }
    }
  }
  return n ? [sr / n, sc / n] : null;
}
