import { emptyMask, hasLvPixel } from './image';

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
