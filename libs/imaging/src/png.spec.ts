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

  it('writes unfiltered the very bytes pngjs writes (its CRCs and zlib settings), for masks and arbitrary gray values', () => {
    const pngjs = (rows: number, columns: number, values: Uint8Array) => {
      const png = new PNG({ width: columns, height: rows, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
      png.data = Buffer.from(values);
      return PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false, filterType: 0 });
    };
    for (const [rows, columns] of [[256, 256], [37, 91], [1, 1], [512, 300]]) {
      const mask = disc(rows, columns);
      const values = Uint8Array.from(mask.data, (v) => (v ? 255 : 0));
      expect(encodeMaskPng(mask).equals(pngjs(rows, columns, values))).toBe(true);
      const gray = Uint8Array.from({ length: rows * columns }, (_, i) => (i * 37 + (i >> 5)) % 256);
      expect(encodeGrayPng(rows, columns, gray, 0).equals(pngjs(rows, columns, gray))).toBe(true);
    }
  });
});
