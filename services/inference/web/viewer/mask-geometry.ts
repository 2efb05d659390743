/**
 * Pure helpers of the viewer (no DOM, no tfjs), so jest checks them: mask outlines as pixel-edge segments, masks
 * read from decoded PNG pixels, greyscale display pixels, and number formatting.
 */
import type { BinaryMask } from '@lvseg/imaging';

/**
 * The outline of a mask as segments along pixel edges, [x0, y0, x1, y1] each in pixel units (pixel (r, c) covers
 * [c, c+1) × [r, r+1)): every edge between an LV pixel and a background pixel or the image border. Collinear
 * neighbouring edges are merged into one segment, so a straight run draws as one line.
 */
export function maskOutlineSegments(mask: BinaryMask): number[][] {
  const { rows, columns, data } = mask;
  const at = (r: number, c: number) => r >= 0 && r < rows && c >= 0 && c < columns && data[r * columns + c] !== 0;
  const segments: number[][] = [];
  // Horizontal edges: above row r (between r-1 and r), for r = 0..rows.
  for (let r = 0; r <= rows; r++) {
    let start = -1;
    for (let c = 0; c <= columns; c++) {
      const edge = c < columns && at(r - 1, c) !== at(r, c);
      if (edge && start < 0) start = c;
      if (!edge && start >= 0) {
        segments.push([start, r, c, r]);
        start = -1;
      }
    }
  }
  // Vertical edges: left of column c (between c-1 and c), for c = 0..columns.
  for (let c = 0; c <= columns; c++) {
    let start = -1;
    for (let r = 0; r <= rows; r++) {
      const edge = r < rows && at(r, c - 1) !== at(r, c);
      if (edge && start < 0) start = r;
      if (!edge && start >= 0) {
        segments.push([c, start, c, r]);
        start = -1;
      }
    }
  }
  return segments;
}

/** Total length in pixels of outline segments (the mask's perimeter along pixel edges). */
export function outlineLength(segments: number[][]): number {
  return segments.reduce((n, [x0, y0, x1, y1]) => n + Math.abs(x1 - x0) + Math.abs(y1 - y0), 0);
}

/**
 * A mask from decoded RGBA pixels (a PNG drawn on a canvas): a pixel is LV when its grey value is non-zero, the rule
 * of the server's `decodePngMask` (a grey PNG decodes to r = g = b; for colour, any non-zero channel counts).
 */
export function maskFromRgba(rgba: ArrayLike<number>, rows: number, columns: number): BinaryMask {
  if (rgba.length !== rows * columns * 4) throw new Error(`expected ${rows * columns * 4} RGBA bytes for ${columns}×${rows}, got ${rgba.length}`);
  const data = new Uint8Array(rows * columns);
  for (let i = 0; i < data.length; i++) data[i] = rgba[4 * i] || rgba[4 * i + 1] || rgba[4 * i + 2] ? 1 : 0;
  return { rows, columns, data };
}

/** Opaque grey RGBA pixels from values in [0, 1] (e.g. the output of the shared `normalize()`). */
export function grayToRgba(values: ArrayLike<number>): Uint8ClampedArray {
  const out = new Uint8ClampedArray(values.length * 4);
  for (let i = 0; i < values.length; i++) {
    const v = Math.round(Math.min(1, Math.max(0, values[i])) * 255);
    out[4 * i] = v;
    out[4 * i + 1] = v;
    out[4 * i + 2] = v;
    out[4 * i + 3] = 255;
  }
  return out;
}

/** LV pixels of a mask. */
export function countLv(mask: BinaryMask): number {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i]) n++;
  return n;
}

/** "1234.5 mm² (812 px)", or "812 px (no pixel spacing)" when the area in mm² is unknown. */
export function formatArea(mm2: number | null, pixels: number): string {
  return mm2 === null ? `${pixels} px (no pixel spacing in the DICOM)` : `${mm2.toFixed(1)} mm² (${pixels} px)`;
}

/** Milliseconds for people: "85 ms", "1.42 s". */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** A rectangle of image pixels: rows [top, top+height), columns [left, left+width). */
export interface PixelRegion {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * The square region around every LV pixel of the given masks plus `margin` pixels, kept inside the image (for the
 * zoomed view of the outlines); null when all masks are empty.
 */
export function zoomRegion(masks: BinaryMask[], margin: number): PixelRegion | null {
  let top = Infinity;
  let left = Infinity;
  let bottom = -Infinity;
  let right = -Infinity;
  for (const m of masks) {
    for (let i = 0; i < m.data.length; i++) {
      if (!m.data[i]) continue;
      const r = Math.floor(i / m.columns);
      const c = i % m.columns;
      if (r < top) top = r;
      if (r > bottom) bottom = r;
      if (c < left) left = c;
      if (c > right) right = c;
    }
  }
  if (bottom < 0) return null;
  const { rows, columns } = masks[0];
  const side = Math.min(Math.max(bottom - top, right - left) + 1 + 2 * margin, rows, columns);
  const centre = (lo: number, hi: number, n: number) => Math.min(Math.max(0, Math.round((lo + hi + 1) / 2 - side / 2)), n - side);
  return { top: centre(top, bottom, rows), left: centre(left, right, columns), height: side, width: side };
}
