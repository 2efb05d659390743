import { PNG } from 'pngjs';
import { normalize } from '@lvseg/imaging';
import { maskBoundary, OUTLINE_RGB, outlinedRgba, renderOutlinedPng } from './overlay';

const block = (rows: number, columns: number, r0: number, c0: number, r1: number, c1: number) => {
  const data = new Uint8Array(rows * columns);
  for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) data[r * columns + c] = 1;
  return { rows, columns, data };
};

const grid = (a: Uint8Array, columns: number) => Array.from({ length: a.length / columns }, (_, r) => Array.from(a.slice(r * columns, (r + 1) * columns)).join(''));

describe('mask outline overlay', () => {
  it('outlines a 3×3 block as its ring of 8 pixels', () => {
    expect(grid(maskBoundary(block(5, 5, 1, 1, 3, 3)), 5)).toEqual(['00000', '01110', '01010', '01110', '00000']);
  });

  it('counts pixels on the image border as boundary, and an empty mask has none', () => {
    expect(grid(maskBoundary(block(3, 4, 0, 0, 2, 3)), 4)).toEqual(['1111', '1001', '1111']);
    expect(maskBoundary(block(4, 4, 1, 1, 0, 0)).some((v) => v)).toBe(false);
  });

  it('draws the outline in yellow over the normalised image in gray, as a PNG', () => {
    const rows = 6;
    const columns = 7;
    const data = Float32Array.from({ length: rows * columns }, (_, i) => (i * 13) % 50);
    const image = { rows, columns, data };
    const mask = block(rows, columns, 1, 1, 4, 5);
    const rgba = outlinedRgba(image, mask);
    const gray = normalize(image);
    const edge = maskBoundary(mask);
    for (let i = 0; i < rows * columns; i++) {
      const px = Array.from(rgba.slice(i * 4, i * 4 + 4));
      const g = Math.round(gray[i] * 255);
      expect(px).toEqual(edge[i] ? [...OUTLINE_RGB, 255] : [g, g, g, 255]);
    }
    const png = PNG.sync.read(renderOutlinedPng(image, mask));
    expect([png.width, png.height]).toEqual([columns, rows]);
    expect(Array.from(png.data)).toEqual(Array.from(rgba));
  });

  it('refuses a mask of another size', () => {
    expect(() => outlinedRgba({ rows: 2, columns: 2, data: new Float32Array(4) }, block(3, 3, 0, 0, 0, 0))).toThrow(expect.objectContaining({ code: 'MASK_SIZE_MISMATCH' }));
  });
});
