import { readCsvRecords } from './manifest';
import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import { LvsegError } from '@lvseg/common';
import { ContourErrorCode, parseContour, rasterizeContour } from './contour';
import { decodeDicom } from './dicom';
import { BinaryMask } from './image';

const FIXTURES = path.join(__dirname, '..', 'test-fixtures', 'sunnybrook');

function expectContourError(fn: () => unknown, code: string): LvsegError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(LvsegError);
  expect(thrown).toMatchObject({ kind: 'invalid-input', code });
  return thrown as LvsegError;
}

/** The mask as text rows ('#' = 1) so small expectations read like pictures. */
function picture(mask: BinaryMask): string[] {
  const out: string[] = [];
  for (let r = 0; r < mask.rows; r++) {
    out.push(Array.from(mask.data.subarray(r * mask.columns, (r + 1) * mask.columns), (v) => (v ? '#' : '.')).join(''));
  }
  return out;
}

describe('parseContour', () => {
  it('reads "x y" lines as [column, row] points', () => {
    expect(parseContour('120.50 137.50\n121.00 137.00\n')).toEqual([
      [120.5, 137.5],
      [121, 137],
    ]);
  });

  it('accepts CRLF, blank lines, tabs, surrounding spaces, integers, signs and exponents', () => {
    expect(parseContour('\r\n 1 2 \r\n\r\n3.5\t-4\r\n+5e1 .5\n\n')).toEqual([
      [1, 2],
      [3.5, -4],
      [50, 0.5],
    ]);
  });

  it('reads every line of a real Sunnybrook contour file', () => {
    const text = fs.readFileSync(path.join(FIXTURES, 'SCD0000401/IM-0001-0100-icontour-manual.txt'), 'utf8');
    const points = parseContour(text);
    expect(points.length).toBe(text.trim().split('\n').length);
    for (const [x, y] of points) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(256);
      expect(y).toBeGreaterThanOrEqual(0);
      expect(y).toBeLessThan(256);
    }
  });

  it.each([
    ['one number', '1 2\n3\n', 2],
    ['three numbers', '1 2 3\n', 1],
    ['a comma', '1,2\n', 1],
    ['text', '1 2\n3 4\nfoo bar\n', 3],
    ['NaN', 'NaN 1\n', 1],
    ['Infinity', '1 Infinity\n', 1],
    ['hex', '0x10 2\n', 1],
  ])('refuses a malformed line (%s) and names its line number', (_, text, line) => {
    const err = expectContourError(() => parseContour(text), ContourErrorCode.MalformedLine);
    expect(err.message).toContain(`line ${line}`);
    expect(err.details).toEqual({ line });
  });

  it('refuses a file without points', () => {
    expectContourError(() => parseContour(''), ContourErrorCode.Empty);
    expectContourError(() => parseContour('\n  \n'), ContourErrorCode.Empty);
  });
});

describe('rasterizeContour', () => {
  it('fills a square given by pixel centres, boundary pixels included', () => {
    // Pixel (r, c) covers [c, c+1) x [r, r+1): the corners 1.5 and 4.5 are the centres of pixels 1 and 4.
    const mask = rasterizeContour([[1.5, 1.5], [4.5, 1.5], [4.5, 4.5], [1.5, 4.5]], 6, 7);
    expect(picture(mask)).toEqual(['.......', '.####..', '.####..', '.####..', '.####..', '.......']);
    expect([mask.rows, mask.columns]).toEqual([6, 7]);
  });

  it('maps x to columns and y to rows', () => {
    const mask = rasterizeContour([[0, 0], [4, 0], [4, 1], [0, 1]], 3, 6);
    expect(picture(mask)).toEqual(['#####.', '#####.', '......']);
  });

  it('puts a point in the pixel it falls in (floor), so x.0 and x.9 land in the same pixel', () => {
    const a = rasterizeContour([[2, 2], [5, 2], [5, 5], [2, 5]], 8, 8);
    const b = rasterizeContour([[2.9, 2.9], [5.9, 2.9], [5.9, 5.9], [2.9, 5.9]], 8, 8);
    expect(b.data).toEqual(a.data);
  });

  it('fills a triangle with only three vertices (edges are drawn between points)', () => {
    const mask = rasterizeContour([[0.5, 0.5], [6.5, 0.5], [0.5, 6.5]], 7, 7);
    expect(picture(mask)).toEqual(['#######', '######.', '#####..', '####...', '###....', '##.....', '#......']);
  });

  it('fills the inside part of a contour that leaves the image', () => {
    const mask = rasterizeContour([[-3, -3], [3.5, -3], [3.5, 3.5], [-3, 3.5]], 6, 6);
    expect(picture(mask)).toEqual(['####..', '####..', '####..', '####..', '......', '......']);
    const outside = rasterizeContour([[10, 10], [12, 10], [12, 12]], 5, 5);
    expect(outside.data.every((v) => v === 0)).toBe(true);
  });

  it('refuses degenerate input', () => {
    expectContourError(() => rasterizeContour([[1, 1], [2, 2]], 4, 4), ContourErrorCode.TooFewPoints);
    expectContourError(() => rasterizeContour([[1, 1], [2, NaN], [3, 1]], 4, 4), ContourErrorCode.InvalidPoint);
    expectContourError(() => rasterizeContour([[1, 1], [2, 2], [3, 1]], 0, 4), ContourErrorCode.InvalidSize);
    expectContourError(() => rasterizeContour([[1, 1], [2, 2], [3, 1]], 4, 2.5), ContourErrorCode.InvalidSize);
  });

  const manifest = readCsvRecords(path.join(FIXTURES, 'manifest.csv'));

  // Over all 96 contours of sunnybrook-dicom the raster equals the PNG label pixel for pixel (Dice min = mean = 1.0).
  it.each(manifest.map((r) => [r.contour, r.png_label]))('rasterises %s exactly like its PNG twin label %s', (contour, label) => {
    const png = PNG.sync.read(fs.readFileSync(path.join(FIXTURES, label)));
    const mask = rasterizeContour(parseContour(fs.readFileSync(path.join(FIXTURES, contour), 'utf8')), png.height, png.width);
    let inter = 0;
    let inMask = 0;
    let inLabel = 0;
    let differing = 0;
    let notBinary = 0;
    for (let i = 0; i < mask.data.length; i++) {
      const l = png.data[i * 4] === 255 ? 1 : 0;
      if (png.data[i * 4] !== 0 && l === 0) notBinary++;
      inter += mask.data[i] & l;
      inMask += mask.data[i];
      inLabel += l;
      if (mask.data[i] !== l) differing++;
    }
    expect(notBinary).toBe(0);
    expect(inLabel).toBeGreaterThan(100);
    expect((2 * inter) / (inMask + inLabel)).toBeGreaterThanOrEqual(0.98);
    expect(differing).toBe(0);
  });

  it.each(manifest.map((r) => [r.contour, r.dicom]))('%s encloses the bright blood pool of %s', (contour, dicom) => {
    // Orientation check against the image itself: the mask is brighter than a ring just outside it.
    const { image } = decodeDicom(new Uint8Array(fs.readFileSync(path.join(FIXTURES, dicom))));
    const mask = rasterizeContour(parseContour(fs.readFileSync(path.join(FIXTURES, contour), 'utf8')), image.rows, image.columns);
    const grown = dilate(dilate(dilate(mask)));
    let inside = 0;
    let nInside = 0;
    let ring = 0;
    let nRing = 0;
    for (let i = 0; i < mask.data.length; i++) {
      if (mask.data[i]) {
        inside += image.data[i];
        nInside++;
      } else if (grown.data[i]) {
        ring += image.data[i];
        nRing++;
      }
    }
    expect(inside / nInside / (ring / nRing)).toBeGreaterThan(1.5);
  });
});

function dilate(mask: BinaryMask): BinaryMask {
  const { rows, columns } = mask;
  const data = new Uint8Array(mask.data);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      if (mask.data[r * columns + c]) continue;
      const near = [[r - 1, c], [r + 1, c], [r, c - 1], [r, c + 1]].some(
        ([rr, cc]) => rr >= 0 && cc >= 0 && rr < rows && cc < columns && mask.data[rr * columns + cc] === 1,
      );
      if (near) data[r * columns + c] = 1;
    }
  }
  return { rows, columns, data };
}

describe('rasterizeContour bounds', () => {
  it('refuses a point far outside the image quickly instead of walking a huge line', () => {
    const t0 = Date.now();
    expect(() => rasterizeContour([[10, 10], [1e12, 10], [10, 20]], 64, 64)).toThrow(expect.objectContaining({ code: 'CONTOUR_INVALID_POINT' }));
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
