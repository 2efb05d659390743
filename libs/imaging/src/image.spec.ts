import { countLvPixels, emptyMask, hasLvPixel } from './image';

describe('hasLvPixel', () => {
  it('is false for an empty mask and true for one LV pixel wherever it is', () => {
    expect(hasLvPixel(emptyMask(256, 256))).toBe(false);
    expect(hasLvPixel(emptyMask(0, 0))).toBe(false);
    for (const at of [0, 1000, 256 * 256 - 1]) {
      const m = emptyMask(256, 256);
      m.data[at] = 1;
      expect(hasLvPixel(m)).toBe(true);
    }
  });
});

describe('countLvPixels', () => {
  it('counts the non-zero pixels', () => {
    const m = emptyMask(4, 4);
    for (const at of [0, 5, 15]) m.data[at] = 1;
    expect(countLvPixels(m)).toBe(3);
    expect(countLvPixels(emptyMask(2, 3))).toBe(0);
  });
});
