import { SeededRandom } from '@lvseg/common';

/** Which training augmentations are on. Geometric ones apply identically to image and mask. */
export interface AugmentOptions {
  flips: boolean;
  /** Random rotation by a multiple of 90°, plus a small rotation of up to this many degrees (0 = none). */
  rotate90: boolean;
  maxRotationDeg: number;
  /** Random translation of up to this many pixels in each direction (0 = none). */
  maxShiftPx: number;
  /** Random intensity gamma in [1/g, g] and contrast scale in [1-s, 1+s] after normalize(); 0 = none. */
  gamma: number;
  contrast: number;
}

export const NO_AUGMENTATION: AugmentOptions = { flips: false, rotate90: false, maxRotationDeg: 0, maxShiftPx: 0, gamma: 0, contrast: 0 };
export const DEFAULT_AUGMENTATION: AugmentOptions = { flips: true, rotate90: true, maxRotationDeg: 15, maxShiftPx: 16, gamma: 1.4, contrast: 0.15 };

/**
 * Augment one normalised square image and its mask (size n×n, row-major) with a random rigid transform and an
 * intensity change. Geometry is one inverse mapping: image by bilinear sampling, mask by nearest neighbour.
 */
export function augmentPair(
  image: Float32Array,
  mask: Uint8Array,
  n: number,
  opts: AugmentOptions,
  rng: SeededRandom,
): { image: Float32Array; mask: Uint8Array } {
  const flip = opts.flips && rng.next() < 0.5;
  const quarter = opts.rotate90 ? rng.int(4) : 0;
  const theta = ((quarter * 90 + (opts.maxRotationDeg ? rng.uniform(-opts.maxRotationDeg, opts.maxRotationDeg) : 0)) * Math.PI) / 180;
  const dx = opts.maxShiftPx ? rng.uniform(-opts.maxShiftPx, opts.maxShiftPx) : 0;
  const dy = opts.maxShiftPx ? rng.uniform(-opts.maxShiftPx, opts.maxShiftPx) : 0;
  const gamma = opts.gamma ? Math.exp(rng.uniform(-Math.log(opts.gamma), Math.log(opts.gamma))) : 1;
  const contrast = opts.contrast ? rng.uniform(1 - opts.contrast, 1 + opts.contrast) : 1;
  const identity = !flip && theta === 0 && dx === 0 && dy === 0;

  let outImage: Float32Array;
  let outMask: Uint8Array;
  if (identity) {
    outImage = Float32Array.from(image);
    outMask = Uint8Array.from(mask);
  } else {
    outImage = new Float32Array(n * n);
    outMask = new Uint8Array(n * n);
    const c = (n - 1) / 2;
    const cos = Math.cos(theta);
    const sin = Math.sin(theta);
    for (let r = 0; r < n; r++) {
      for (let col = 0; col < n; col++) {
        // inverse map: output pixel -> source position
        let x = col - c - dx;
        const y = r - c - dy;
        let sx = cos * x + sin * y;
        const sy = -sin * x + cos * y;
        if (flip) sx = -sx;
        x = sx + c;
        const yy = sy + c;
        const o = r * n + col;
        const mx = Math.round(x);
        const my = Math.round(yy);
        outMask[o] = mx >= 0 && my >= 0 && mx < n && my < n ? mask[my * n + mx] : 0;
        const x0 = Math.floor(x);
        const y0 = Math.floor(yy);
        const fx = x - x0;
        const fy = yy - y0;
        const at = (rr: number, cc: number) => (rr >= 0 && cc >= 0 && rr < n && cc < n ? image[rr * n + cc] : 0);
        outImage[o] = (at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx) * (1 - fy) + (at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx) * fy;
      }
    }
  }
  if (gamma !== 1 || contrast !== 1) {
    for (let i = 0; i < outImage.length; i++) {
      const v = Math.pow(Math.max(0, outImage[i]), gamma) * contrast;
      outImage[i] = v > 1 ? 1 : v;
    }
  }
  return { image: outImage, mask: outMask };
}
