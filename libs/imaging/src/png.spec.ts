import { PNG } from 'pngjs';
import { decodePngMask, encodeGrayPng, encodeMaskPng } from './png';

describe('mask PNG', () => {
  const disc = (rows: number, columns: number) => {
    const data = new Uint8Array(rows * columns);
    for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) data[r * columns + c] = (r - rows / 2) ** 2 + (c - columns / 3) ** 2 < (rows / 5) ** 2 ? 1 : 0;
    return { rows, columns, data };
  };

  it('round-trips a mask (0/255 gray, 8 bit) at odd sizes, unfiltered', () => {
    for (const [rows, columns] of [[256, 256], [37, 91], [1, 1]]) {
      const mask = disc(rows, columns);
      const bytes = encodeMaskPng(mask);
      const png = PNG.sync.read(bytes);
      expect([png.width, png.height]).toEqual([columns, rows]);
      expect(decodePngMask(bytes)).toEqual(mask);
      expect(new Set(Array.from(png.data.filter((_, i) => i % 4 === 0)))).toEqual(new Set(mask.data.some((v) => v) ? [0, 255] : [0]));
    }
  });

  it('encodes the same pixels whichever row filter is used', () => {
    const values = Uint8Array.from({ length: 64 * 48 }, (_, i) => (i * 37) % 256);
    const adaptive = PNG.sync.read(encodeGrayPng(48, 64, values));
    const none = PNG.sync.read(encodeGrayPng(48, 64, values, 0));
    expect(none.data).toEqual(adaptive.data);
  });
});
