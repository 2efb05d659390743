import type { BinaryMask } from '@lvseg/imaging';
import { countLv, formatArea, formatMs, grayToRgba, maskFromRgba, maskOutlineSegments, outlineLength, zoomRegion } from './mask-geometry';

const mask = (rows: number, columns: number, on: Array<[number, number]>): BinaryMask => {
  const data = new Uint8Array(rows * columns);
  for (const [r, c] of on) data[r * columns + c] = 1;
  return { rows, columns, data };
};

describe('maskOutlineSegments', () => {
  it('outlines one pixel with its four edges', () => {
    const s = maskOutlineSegments(mask(3, 3, [[1, 1]]));
    expect(s).toEqual(expect.arrayContaining([[1, 1, 2, 1], [1, 2, 2, 2], [1, 1, 1, 2], [2, 1, 2, 2]]));
    expect(s).toHaveLength(4);
  });

  it('merges straight runs: a 2×3 block is four segments of perimeter 10', () => {
    const s = maskOutlineSegments(mask(4, 5, [[1, 1], [1, 2], [1, 3], [2, 1], [2, 2], [2, 3]]));
    expect(s).toHaveLength(4);
    expect(outlineLength(s)).toBe(10);
  });

  it('closes the outline at the image border and outlines holes too', () => {
    const full = mask(2, 2, [[0, 0], [0, 1], [1, 0], [1, 1]]);
    expect(outlineLength(maskOutlineSegments(full))).toBe(8);
    const ring = mask(3, 3, [[0, 0], [0, 1], [0, 2], [1, 0], [1, 2], [2, 0], [2, 1], [2, 2]]);
    expect(outlineLength(maskOutlineSegments(ring))).toBe(12 + 4);
  });

  it('gives nothing for an empty mask', () => {
    expect(maskOutlineSegments(mask(4, 4, []))).toEqual([]);
  });

  it('every edge separates an LV pixel from a non-LV one (checked on a random mask)', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const m: BinaryMask = { rows: 20, columns: 17, data: Uint8Array.from({ length: 340 }, () => (rnd() < 0.4 ? 1 : 0)) };
    const at = (r: number, c: number) => r >= 0 && r < m.rows && c >= 0 && c < m.columns && m.data[r * m.columns + c] === 1;
    let expected = 0;
    for (let r = 0; r < m.rows; r++) for (let c = 0; c < m.columns; c++) if (at(r, c)) for (const [dr, dc] of [[1, 0], [-1, 0], [0, 1], [0, -1]]) if (!at(r + dr, c + dc)) expected++;
    const segments = maskOutlineSegments(m);
    expect(outlineLength(segments)).toBe(expected);
    for (const [x0, y0, x1, y1] of segments) {
      if (y0 === y1) for (let c = x0; c < x1; c++) expect(at(y0 - 1, c)).not.toBe(at(y0, c));
      else for (let r = y0; r < y1; r++) expect(at(r, x0 - 1)).not.toBe(at(r, x0));
    }
  });
});

describe('maskFromRgba', () => {
  it('reads non-zero grey as LV, like the server’s decodePngMask', () => {
    const rgba = [0, 0, 0, 255, 255, 255, 255, 255, 1, 1, 1, 255, 0, 0, 0, 0];
    expect(Array.from(maskFromRgba(rgba, 2, 2).data)).toEqual([0, 1, 1, 0]);
  });
  it('refuses a pixel count that does not match the size', () => {
    expect(() => maskFromRgba([0, 0, 0, 255], 2, 2)).toThrow(/expected 16 RGBA bytes/);
  });
});

describe('display helpers', () => {
  it('maps [0, 1] to opaque grey, clipping outside values', () => {
    expect(Array.from(grayToRgba([0, 0.5, 1, 2, -1]))).toEqual([0, 0, 0, 255, 128, 128, 128, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 255]);
  });
  it('counts LV pixels and formats areas and times', () => {
    expect(countLv(mask(3, 3, [[0, 0], [2, 2]]))).toBe(2);
    expect(formatArea(1517.64, 812)).toBe('1517.6 mm² (812 px)');
    expect(formatArea(null, 812)).toBe('812 px (no pixel spacing in the DICOM)');
    expect(formatMs(84.6)).toBe('85 ms');
    expect(formatMs(1420)).toBe('1.42 s');
  });
});

describe('zoomRegion', () => {
  it('is the square around the LV pixels of all masks plus the margin', () => {
    const a = mask(100, 100, [[40, 50], [44, 52]]);
    const b = mask(100, 100, [[42, 60]]);
    // rows 40..44, columns 50..60 → side 11 + 2·4 = 19, centred on row 42.5 and column 55.5
    expect(zoomRegion([a, b], 4)).toEqual({ top: 33, left: 46, height: 19, width: 19 });
  });
  it('stays inside the image near a border and is capped at the image size', () => {
    expect(zoomRegion([mask(50, 50, [[0, 0]])], 10)).toEqual({ top: 0, left: 0, height: 21, width: 21 });
    // capped at the 20 rows, centred on the columns
    expect(zoomRegion([mask(20, 30, [[0, 0], [19, 29]])], 5)).toEqual({ top: 0, left: 5, height: 20, width: 20 });
  });
  it('is null when every mask is empty', () => {
    expect(zoomRegion([mask(8, 8, [])], 2)).toBeNull();
  });
});
