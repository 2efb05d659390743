import { LvsegError } from '@lvseg/common';
import { BinaryMask } from './image';
import { fillContoursByPixelCentre } from './pixel-centre-fill';

type Pt = [number, number];
const set = (m: BinaryMask): Array<[number, number]> => {
  const out: Array<[number, number]> = [];
  m.data.forEach((v, i) => v && out.push([Math.floor(i / m.columns), i % m.columns]));
  return out;
};
const count = (m: BinaryMask) => m.data.reduce((n, v) => n + v, 0);
/** [row, column] of every pixel with rows r0..r1 and columns c0..c1 (inclusive). */
const block = (r0: number, r1: number, c0: number, c1: number) => {
  const out: Array<[number, number]> = [];
  for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) out.push([r, c]);
  return out;
};
const rect = (x0: number, y0: number, x1: number, y1: number): Pt[] => [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];

/** Independent oracle for generic points (no centre on an edge): even-odd ray casting to the right, in floats. */
function centreInside(polygons: Pt[][], x: number, y: number): boolean {
  let inside = false;
  for (const p of polygons) {
    for (let i = 0, j = p.length - 1; i < p.length; j = i++) {
      const [xi, yi] = p[i];
      const [xj, yj] = p[j];
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

describe('fillContoursByPixelCentre (DICOM RT rule: pixel centre inside the polygon)', () => {
  it('a square along pixel edges gives exactly the pixels it encloses, whatever its orientation or first point', () => {
    const square = rect(1, 1, 3, 3);
    const expected = block(1, 2, 1, 2);
    expect(set(fillContoursByPixelCentre([square], 6, 6))).toEqual(expected);
    expect(set(fillContoursByPixelCentre([[...square].reverse()], 6, 6))).toEqual(expected);
    expect(set(fillContoursByPixelCentre([[...square.slice(2), ...square.slice(0, 2)]], 6, 6))).toEqual(expected);
    // Not square: 3 columns × 2 rows.
    expect(set(fillContoursByPixelCentre([rect(2, 1, 5, 3)], 6, 6))).toEqual(block(1, 2, 2, 4));
  });

  it('centres exactly on an edge: top and left edges are in, bottom and right edges out (a rectangle on centres covers its area)', () => {
    // Corners on the centres of pixels (1,1) and (3,3): the centres on its top/left edges count, those on its bottom/right do not.
    const onCentres = rect(1.5, 1.5, 3.5, 3.5);
    expect(set(fillContoursByPixelCentre([onCentres], 6, 6))).toEqual(block(1, 2, 1, 2));
    // Two rectangles sharing an edge through pixel centres: no pixel claimed twice, none dropped.
    const left = fillContoursByPixelCentre([rect(0.5, 0.5, 2.5, 4.5)], 6, 6);
    const right = fillContoursByPixelCentre([rect(2.5, 0.5, 5.5, 4.5)], 6, 6);
    const whole = fillContoursByPixelCentre([rect(0.5, 0.5, 5.5, 4.5)], 6, 6);
    expect(left.data.every((v, i) => !(v && right.data[i]))).toBe(true);
    expect(Array.from(left.data, (v, i) => v | right.data[i])).toEqual(Array.from(whole.data));
    expect(count(whole)).toBe(5 * 4);
  });

  it('a diamond: the centres strictly inside, plus those on its two left edges (18 pixels = its area)', () => {
    // Corners at pixel corners around (4, 4); every centre (c + ½, r + ½) has |dx| + |dy| an integer, so 12 lie on the edges.
    const diamond: Pt[] = [[4, 1], [7, 4], [4, 7], [1, 4]];
    const expected: Array<[number, number]> = [];
    for (let r = 0; r < 8; r++) {
      for (let c = 0; c < 8; c++) {
        const [dx, dy] = [c + 0.5 - 4, r + 0.5 - 4];
        const l1 = Math.abs(dx) + Math.abs(dy);
        if (l1 < 3 || (l1 === 3 && dx < 0)) expected.push([r, c]);
      }
    }
    const m = fillContoursByPixelCentre([diamond], 8, 8);
    expect(set(m)).toEqual(expected);
    expect(count(m)).toBe(18);
    // Float noise (as from the mm → pixel mapping) does not move a centre across an edge: the same 18 pixels.
    const noisy = diamond.map(([x, y], i): Pt => [x + (i % 2 ? 3e-9 : -2e-9), y - (i % 2 ? 1e-9 : -4e-9)]);
    expect(set(fillContoursByPixelCentre([noisy], 8, 8))).toEqual(expected);
  });

  it('several contours on one image are even-odd (XOR): a nested contour is a hole in either orientation, an overlap is outside', () => {
    const outer = rect(1, 1, 9, 9);
    const inner = rect(3, 3, 6, 6);
    const ring = block(1, 8, 1, 8).filter(([r, c]) => !(r >= 3 && r <= 5 && c >= 3 && c <= 5));
    // Same orientation as the outer contour (the nonzero rule would fill it), and reversed.
    expect(set(fillContoursByPixelCentre([outer, inner], 10, 10))).toEqual(ring);
    expect(set(fillContoursByPixelCentre([outer, [...inner].reverse()], 10, 10))).toEqual(ring);
    expect(ring).toHaveLength(64 - 9);
    // An island inside the hole is filled again.
    expect(set(fillContoursByPixelCentre([outer, inner, rect(4, 4, 5, 5)], 10, 10))).toEqual([...ring, [4, 4]].sort((a, b) => a[0] - b[0] || a[1] - b[1]));
    // Two overlapping squares: the overlap is outside, the rest of both inside.
    const xor = fillContoursByPixelCentre([rect(0, 0, 4, 4), rect(2, 2, 6, 6)], 7, 7);
    expect(count(xor)).toBe(16 + 16 - 2 * 4);
    expect(xor.data[3 * 7 + 3]).toBe(0);
    expect(xor.data[1 * 7 + 1]).toBe(1);
    expect(xor.data[5 * 7 + 5]).toBe(1);
  });

  it('matches plain even-odd ray casting on random polygons, and clips a contour that leaves the image', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    // Points on the function's 1/1024-pixel grid, so both sides see the same polygon; centres within 1e-7 px of an
    // edge are left to the boundary cases above (float ray casting cannot decide them).
    const onGrid = (v: number) => Math.round(v * 1024) / 1024;
    const nearEdge = (polygons: Pt[][], x: number, y: number) =>
      polygons.some((p) =>
        p.some(([x0, y0], i) => {
          const [x1, y1] = p[(i + 1) % p.length];
          const len2 = (x1 - x0) ** 2 + (y1 - y0) ** 2;
          const t = Math.max(0, Math.min(1, ((x - x0) * (x1 - x0) + (y - y0) * (y1 - y0)) / len2));
          return Math.hypot(x - x0 - t * (x1 - x0), y - y0 - t * (y1 - y0)) < 1e-7;
        }),
      );
    const mismatches: Array<[number, number, number]> = [];
    let compared = 0;
    let inside = 0;
    for (let t = 0; t < 40; t++) {
      const polygons: Pt[][] = Array.from({ length: 1 + (t % 3) }, () => Array.from({ length: 3 + Math.floor(rand() * 9) }, (): Pt => [onGrid(rand() * 24 - 2), onGrid(rand() * 20 - 2)]));
      const m = fillContoursByPixelCentre(polygons, 16, 20);
      for (let r = 0; r < 16; r++) {
        for (let c = 0; c < 20; c++) {
          if (nearEdge(polygons, c + 0.5, r + 0.5)) continue;
          if (m.data[r * 20 + c] !== (centreInside(polygons, c + 0.5, r + 0.5) ? 1 : 0)) mismatches.push([t, r, c]);
          compared++;
          inside += m.data[r * 20 + c];
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(0.99 * 40 * 320);
    expect(inside).toBeGreaterThan(0.1 * compared);
    expect(set(fillContoursByPixelCentre([rect(-2, -2, 3, 3)], 6, 6))).toEqual(block(0, 2, 0, 2));
    expect(count(fillContoursByPixelCentre([rect(-5, 1, 50, 2)], 6, 6))).toBe(6);
  });

  it('refuses bad input with stable codes', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof LvsegError ? e.code : String(e);
      }
      return 'no error';
    };
    expect(code(() => fillContoursByPixelCentre([[[0, 0], [1, 1]]], 4, 4))).toBe('CONTOUR_TOO_FEW_POINTS');
    expect(code(() => fillContoursByPixelCentre([[[0, 0], [1, NaN], [2, 2]]], 4, 4))).toBe('CONTOUR_INVALID_POINT');
    expect(code(() => fillContoursByPixelCentre([[[0, 0], [1e9, 1], [2, 2]]], 4, 4))).toBe('CONTOUR_INVALID_POINT');
    expect(code(() => fillContoursByPixelCentre([rect(0, 0, 1, 1)], 0, 4))).toBe('CONTOUR_INVALID_SIZE');
    expect(count(fillContoursByPixelCentre([], 4, 4))).toBe(0);
  });
});
