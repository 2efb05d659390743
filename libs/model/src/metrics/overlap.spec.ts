import { isLvsegError } from '@lvseg/common';
import { confusion, dice, jaccard, pixelAccuracy } from './overlap';
import { maskFromPicture, maskWith, randomMask, rectMask, seededRandom } from './test-support/masks';

describe('overlap metrics', () => {
  it('counts a hand-worked 2 x 3 example', () => {
    const pred = maskFromPicture(['##.', '.#.']);
    const truth = maskFromPicture(['.#.', '.##']);
    // Pixel by pixel: (0,0) fp, (0,1) tp, (0,2) tn, (1,0) tn, (1,1) tp, (1,2) fn.
    expect(confusion(pred, truth)).toEqual({ tp: 2, fp: 1, fn: 1, tn: 2 });
    expect(dice(pred, truth)).toBeCloseTo(4 / 6, 12);
    expect(jaccard(pred, truth)).toBeCloseTo(2 / 4, 12);
    expect(pixelAccuracy(pred, truth)).toBeCloseTo(4 / 6, 12);
  });

  it('scores two overlapping rectangles as worked out by hand', () => {
    // A: rows 1..4 x cols 1..5 = 20 px; B: rows 3..6 x cols 3..8 = 24 px; A∩B: rows 3..4 x cols 3..5 = 6 px.
    const a = rectMask(10, 10, 1, 1, 4, 5);
    const b = rectMask(10, 10, 3, 3, 6, 8);
    expect(confusion(a, b)).toEqual({ tp: 6, fp: 14, fn: 18, tn: 62 });
    expect(dice(a, b)).toBeCloseTo(12 / 44, 12);
    expect(jaccard(a, b)).toBeCloseTo(6 / 38, 12);
    expect(pixelAccuracy(a, b)).toBeCloseTo(68 / 100, 12);
    // Dice is symmetric.
    expect(dice(b, a)).toBeCloseTo(dice(a, b), 12);
  });

  it('treats any non-zero value as LV', () => {
    const pred = maskWith(1, 2, [[0, 0]]);
    pred.data[0] = 255;
    expect(dice(pred, maskWith(1, 2, [[0, 0]]))).toBe(1);
  });

  it('gives Dice 1 when both masks are empty, and 0 when exactly one is', () => {
    const empty = maskWith(4, 4);
    const dot = maskWith(4, 4, [[2, 1]]);
    expect(dice(empty, empty)).toBe(1);
    expect(jaccard(empty, empty)).toBe(1);
    expect(dice(empty, dot)).toBe(0);
    expect(dice(dot, empty)).toBe(0);
    expect(jaccard(empty, dot)).toBe(0);
    expect(pixelAccuracy(empty, dot)).toBeCloseTo(15 / 16, 12);
  });

  it('handles full masks and single pixels', () => {
    const full = rectMask(3, 3, 0, 0, 2, 2);
    const dot = maskWith(3, 3, [[1, 1]]);
    expect(dice(full, full)).toBe(1);
    expect(dice(dot, dot)).toBe(1);
    // 2*1 / (9 + 1)
    expect(dice(full, dot)).toBeCloseTo(0.2, 12);
    expect(jaccard(full, dot)).toBeCloseTo(1 / 9, 12);
    expect(pixelAccuracy(full, dot)).toBeCloseTo(1 / 9, 12);
  });

  it('shows why pixel accuracy misleads: an all-background answer on a 1.6 % LV', () => {
    const truth = rectMask(100, 100, 10, 10, 13, 49); // 4 x 40 = 160 px = 1.6 %
    const background = maskWith(100, 100);
    expect(pixelAccuracy(background, truth)).toBeCloseTo(0.984, 12);
    expect(dice(background, truth)).toBe(0);
  });

  it('agrees with the identity Dice = 2J / (1 + J) on random masks', () => {
    const random = seededRandom(7);
    for (let k = 0; k < 50; k++) {
      const a = randomMask(9, 11, random(), random);
      const b = randomMask(9, 11, random(), random);
      const j = jaccard(a, b);
      expect(dice(a, b)).toBeCloseTo((2 * j) / (1 + j), 12);
    }
  });

  it('rejects masks of different sizes or inconsistent data', () => {
    const expectInvalid = (f: () => unknown, code: string) => {
      try {
        f();
        throw new Error('expected a throw');
      } catch (e) {
        expect(isLvsegError(e, 'invalid-input')).toBe(true);
        expect((e as { code: string }).code).toBe(code);
      }
    };
    expectInvalid(() => dice(maskWith(2, 3), maskWith(3, 2)), 'MASK_SIZE_MISMATCH');
    expectInvalid(() => confusion(maskWith(2, 2), maskWith(2, 3)), 'MASK_SIZE_MISMATCH');
    expectInvalid(() => dice({ rows: 2, columns: 2, data: new Uint8Array(3) }, maskWith(2, 2)), 'MASK_DATA_LENGTH');
    expectInvalid(() => dice({ rows: -1, columns: 2, data: new Uint8Array(0) }, maskWith(2, 2)), 'MASK_INVALID_SIZE');
  });
});
