import { normalize, percentile } from './normalize';
import { toModelInput } from './model-input';
import { GrayImage } from './image';

function image(values: number[], rows: number, columns: number): GrayImage {
  return { rows, columns, data: Float32Array.from(values) };
}

describe('normalize', () => {
  it('interpolates percentiles between order statistics', () => {
    const sorted = Float32Array.from([0, 10, 20, 30, 40]);
    expect(percentile(sorted, 0)).toBe(0);
    expect(percentile(sorted, 50)).toBe(20);
    expect(percentile(sorted, 100)).toBe(40);
    expect(percentile(sorted, 12.5)).toBeCloseTo(5, 6);
  });

  it('maps to [0, 1] and is invariant to an increasing affine change of intensities (DICOM units vs PNG 0..255)', () => {
    const n = 64 * 64;
    const raw = Array.from({ length: n }, (_, i) => ((i * 7919) % 2678) + (i % 13 === 0 ? 5000 : 0));
    const a = normalize(image(raw, 64, 64));
    const b = normalize(image(raw.map((v) => 3.5 * v - 120), 64, 64));
    for (let i = 0; i < n; i++) {
      expect(a[i]).toBeGreaterThanOrEqual(0);
      expect(a[i]).toBeLessThanOrEqual(1);
      expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-5);
    }
  });

  it('clips outliers: one hot pixel does not squash the rest', () => {
    const values = Array.from({ length: 400 }, (_, i) => i % 100);
    values[0] = 1e6;
    const out = normalize(image(values, 20, 20));
    const max = Math.max(...Array.from(out).slice(1));
    expect(out[0]).toBe(1);
    expect(max).toBeGreaterThan(0.95);
  });

  it('returns zeros for a constant image', () => {
    expect(Array.from(normalize(image(new Array(16).fill(7), 4, 4)))).toEqual(new Array(16).fill(0));
  });

  it('toModelInput resamples any size to 256×256', () => {
    const img = image(Array.from({ length: 100 * 120 }, (_, i) => i % 120), 100, 120);
    const x = toModelInput(img);
    expect(x.length).toBe(256 * 256);
    // a horizontal ramp stays a ramp: left column darker than right column
    expect(x[128 * 256 + 0]).toBeLessThan(x[128 * 256 + 255]);
  });
});
