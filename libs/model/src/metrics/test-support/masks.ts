/** Small mask builders for metrics specs. */
import type { BinaryMask } from '@lvseg/imaging';
import { SeededRandom } from '@lvseg/common';

/** A rows x columns mask with the given pixels set ([row, column] pairs). */
export function maskWith(rows: number, columns: number, pixels: Array<[number, number]> = []): BinaryMask {
  const data = new Uint8Array(rows * columns);
  for (const [r, c] of pixels) data[r * columns + c] = 1;
  return { rows, columns, data };
}

/** A mask with the inclusive rectangle rows r0..r1, columns c0..c1 set. */
export function rectMask(rows: number, columns: number, r0: number, c0: number, r1: number, c1: number): BinaryMask {
  const m = maskWith(rows, columns);
  for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) m.data[r * columns + c] = 1;
  return m;
}

/** A disc: pixel centres with (r - cr)² + (c - cc)² <= radius². */
export function discMask(rows: number, columns: number, cr: number, cc: number, radius: number): BinaryMask {
  const m = maskWith(rows, columns);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) if ((r - cr) ** 2 + (c - cc) ** 2 <= radius * radius) m.data[r * columns + c] = 1;
  }
  return m;
}

/** Parses a picture like ['.#.', '###'] ('#' = 1) into a mask. */
export function maskFromPicture(picture: string[]): BinaryMask {
  const rows = picture.length;
  const columns = rows === 0 ? 0 : picture[0].length;
  const data = new Uint8Array(rows * columns);
  picture.forEach((line, r) => {
    for (let c = 0; c < columns; c++) data[r * columns + c] = line[c] === '#' ? 1 : 0;
  });
  return { rows, columns, data };
}

/** Deterministic pseudo-random generator (mulberry32, the project's SeededRandom) so random-mask specs are repeatable. */
export function seededRandom(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.next();
}

/** A random mask where each pixel is LV with probability `density`. */
export function randomMask(rows: number, columns: number, density: number, random: () => number): BinaryMask {
  const m = maskWith(rows, columns);
  for (let i = 0; i < m.data.length; i++) m.data[i] = random() < density ? 1 : 0;
  return m;
}
