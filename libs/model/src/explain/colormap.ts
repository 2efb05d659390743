/**
 * Turning a scalar map into pictures: scale to [0, 1], the classic "jet" colour map (blue → cyan → yellow → red), and
 * an overlay of the colours on the greyscale image with opacity growing with the value. Pure arrays, no tfjs.
 */
import { finiteRange } from '@lvseg/common';

/** Min-max scales `values` to [0, 1] (`zeroBased`: divide by the maximum, so 0 stays 0); a constant map → zeros. */
export function scaleToUnit(values: Float32Array, opts: { zeroBased?: boolean } = {}): Float32Array {
  const out = new Float32Array(values.length);
  let [lo, hi] = finiteRange(values);
  if (opts.zeroBased) lo = Math.min(0, lo);
  const range = hi - lo;
  if (!(range > 0)) return out;
  for (let i = 0; i < out.length; i++) {
    const v = (values[i] - lo) / range;
    out[i] = Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
  }
  return out;
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/** The jet colour of t in [0, 1] as [r, g, b] bytes (piecewise linear: dark blue, blue, cyan, yellow, red, dark red). */
export function jetColor(t: number): [number, number, number] {
  const x = clamp01(t);
  return [
    Math.round(255 * clamp01(1.5 - Math.abs(4 * x - 3))),
    Math.round(255 * clamp01(1.5 - Math.abs(4 * x - 2))),
    Math.round(255 * clamp01(1.5 - Math.abs(4 * x - 1))),
  ];
}

/** RGBA bytes (opaque) of a [0, 1] map through the jet colour map. */
export function colorizeRgba(unit: Float32Array): Uint8Array {
  const out = new Uint8Array(unit.length * 4);
  for (let i = 0; i < unit.length; i++) {
    const [r, g, b] = jetColor(unit[i]);
    out.set([r, g, b, 255], i * 4);
  }
  return out;
}

/**
 * The [0, 1] greyscale image with the colour-mapped [0, 1] heat over it: per pixel, opacity = maxAlpha × heat, so
 * cold regions show the anatomy and hot ones the colour. Opaque RGBA bytes.
 */
export function overlayRgba(gray: Float32Array, heat: Float32Array, maxAlpha = 0.6): Uint8Array {
  if (gray.length !== heat.length) throw new Error(`overlay: image has ${gray.length} pixels, heat map ${heat.length}`);
  const out = new Uint8Array(gray.length * 4);
  for (let i = 0; i < gray.length; i++) {
    const g = 255 * clamp01(gray[i]);
    const a = maxAlpha * clamp01(heat[i]);
    const c = jetColor(heat[i]);
    out[i * 4] = Math.round(g * (1 - a) + c[0] * a);
    out[i * 4 + 1] = Math.round(g * (1 - a) + c[1] * a);
    out[i * 4 + 2] = Math.round(g * (1 - a) + c[2] * a);
    out[i * 4 + 3] = 255;
  }
  return out;
}
