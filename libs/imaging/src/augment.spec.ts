import { SeededRandom } from '@lvseg/common';
import { augmentPair, DEFAULT_AUGMENTATION, NO_AUGMENTATION } from './augment';

const n = 32;
function square(): { image: Float32Array; mask: Uint8Array } {
  const image = new Float32Array(n * n);
  const mask = new Uint8Array(n * n);
  for (let r = 10; r < 18; r++) for (let c = 6; c < 14; c++) {
    image[r * n + c] = 0.8;
    mask[r * n + c] = 1;
  }
  return { image, mask };
}

describe('augmentPair', () => {
  it('is the identity when every augmentation is off', () => {
    const { image, mask } = square();
    const out = augmentPair(image, mask, n, NO_AUGMENTATION, new SeededRandom(1));
    expect(Array.from(out.image)).toEqual(Array.from(image));
    expect(Array.from(out.mask)).toEqual(Array.from(mask));
  });

  it('moves image and mask together: the mask stays on the bright pixels', () => {
    const { image, mask } = square();
    const rng = new SeededRandom(7);
    for (let k = 0; k < 20; k++) {
      const out = augmentPair(image, mask, n, { ...DEFAULT_AUGMENTATION, gamma: 0, contrast: 0, maxShiftPx: 4 }, rng);
      let inside = 0, count = 0;
      out.mask.forEach((m, i) => {
        if (m) {
          count++;
          inside += out.image[i] > 0.4 ? 1 : 0;
        }
      });
      expect(count).toBeGreaterThan(30);
      expect(inside / count).toBeGreaterThan(0.9);
    }
  });

  it('a 90° rotation alone keeps the mask area exactly', () => {
    const { image, mask } = square();
    const out = augmentPair(image, mask, n, { ...NO_AUGMENTATION, rotate90: true }, new SeededRandom(3));
    expect(out.mask.reduce((a, b) => a + b, 0)).toBe(64);
  });

  it('is deterministic for a seed', () => {
    const { image, mask } = square();
    const a = augmentPair(image, mask, n, DEFAULT_AUGMENTATION, new SeededRandom(42));
    const b = augmentPair(image, mask, n, DEFAULT_AUGMENTATION, new SeededRandom(42));
    expect(Array.from(a.image)).toEqual(Array.from(b.image));
  });
});
