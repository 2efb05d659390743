import { BinaryMask } from './image';

/**
 * Bilinear resampling of a row-major single-channel array, with pixel centres aligned (half-pixel convention,
 * as tf.image.resizeBilinear with halfPixelCenters). Used to bring any image to the model's input size and
 * probability maps back to the image's own size.
 */
export function resizeBilinear(src: Float32Array, rows: number, columns: number, outRows: number, outColumns: number): Float32Array {
  if (rows === outRows && columns === outColumns) return Float32Array.from(src);
  const out = new Float32Array(outRows * outColumns);
  const sy = rows / outRows;
  const sx = columns / outColumns;
  for (let r = 0; r < outRows; r++) {
    let y = (r + 0.5) * sy - 0.5;
    if (y < 0) y = 0;
    const y0 = Math.min(rows - 1, Math.floor(y));
    const y1 = Math.min(rows - 1, y0 + 1);
    const fy = y - y0;
    for (let c = 0; c < outColumns; c++) {
      let x = (c + 0.5) * sx - 0.5;
      if (x < 0) x = 0;
      const x0 = Math.min(columns - 1, Math.floor(x));
      const x1 = Math.min(columns - 1, x0 + 1);
      const fx = x - x0;
      const top = src[y0 * columns + x0] * (1 - fx) + src[y0 * columns + x1] * fx;
      const bottom = src[y1 * columns + x0] * (1 - fx) + src[y1 * columns + x1] * fx;
      out[r * outColumns + c] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** Nearest-neighbour resampling of a mask (pixel-centre aligned). */
export function resizeMaskNearest(mask: BinaryMask, outRows: number, outColumns: number): BinaryMask {
  if (mask.rows === outRows && mask.columns === outColumns) return { rows: outRows, columns: outColumns, data: Uint8Array.from(mask.data) };
  const data = new Uint8Array(outRows * outColumns);
  for (let r = 0; r < outRows; r++) {
    const sr = Math.min(mask.rows - 1, Math.floor(((r + 0.5) * mask.rows) / outRows));
    for (let c = 0; c < outColumns; c++) {
      const sc = Math.min(mask.columns - 1, Math.floor(((c + 0.5) * mask.columns) / outColumns));
      data[r * outColumns + c] = mask.data[sr * mask.columns + sc];
    }
  }
  return { rows: outRows, columns: outColumns, data };
}

/** `passes` rounds of a 3×3 box average of an n×n row-major array (border pixels average their in-image neighbours). */
export function boxSmooth(data: Float32Array, n: number, passes: number): Float32Array {
  let a = data;
  for (let p = 0; p < passes; p++) {
    const b = new Float32Array(a.length);
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        let s = 0, k = 0;
        for (let dr = -1; dr <= 1; dr++) {
          for (let dc = -1; dc <= 1; dc++) {
            if (r + dr >= 0 && r + dr < n && c + dc >= 0 && c + dc < n) {
              s += a[(r + dr) * n + c + dc];
              k++;
            }
          }
        }
        b[r * n + c] = s / k;
      }
    }
    a = b;
  }
  return a;
}
