/**
 * MaxPoolGrad for the wasm backend. tfjs-backend-wasm 4.22's native kernel (and its MaxPoolWithArgmax) mixes up
 * elements across batch/channels and takes the last maximum on ties (measured), and is slow (~240 ms for
 * [4,128,128,100]). No composition of fast wasm ops expresses "first maximum of each window", so this is a direct loop
 * over the heap, channel-innermost: the window's first maximum (row-major, TF's rule) receives the window's dy.
 */
import * as tf from '@tensorflow/tfjs';
import { isWasmHeapBackend } from './tensor-util';

/** Attributes tfjs passes to MaxPoolGrad. */
interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** dx for maxPool: each window's first maximum gets the window's dy (sums where windows overlap). */
export function maxPoolGradInto(
  x: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  info: tf.backend_util.Conv2DInfo,
): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo } = info;
  const { strideHeight: sh, strideWidth: sw, effectiveFilterHeight: kh, effectiveFilterWidth: kw } = info;
  const { dilationHeight: dh, dilationWidth: dw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  dx.fill(0);
  const taps = new Int32Array(kh * kw); // element offsets of the window's in-image taps, row-major
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      const y0 = i * sh - pt;
      for (let j = 0; j < wo; j++) {
        const x0 = j * sw - pl;
        let nt = 0;
        for (let a = 0; a < kh; a += dh) {
          const yy = y0 + a;
          if (yy < 0 || yy >= h) continue;
          for (let bb = 0; bb < kw; bb += dw) {
            const xx = x0 + bb;
            if (xx >= 0 && xx < w) taps[nt++] = ((b * h + yy) * w + xx) * c;
          }
        }
        if (nt === 0) continue;
        const o = ((b * ho + i) * wo + j) * c;
        const t0 = taps[0];
        if (nt === 4) {
          // the 2×2 windows of U-Net / FCN pooling, unrolled (about 1.5× faster than the loop below)
          const t1 = taps[1];
          const t2 = taps[2];
          const t3 = taps[3];
          for (let ch = 0; ch < c; ch++) {
            let at = t0 + ch;
            let best = x[at];
            let v = x[t1 + ch];
            if (v > best) {
              best = v;
              at = t1 + ch;
            }
            v = x[t2 + ch];
            if (v > best) {
              best = v;
              at = t2 + ch;
            }
            v = x[t3 + ch];
            if (v > best) at = t3 + ch;
            dx[at] += dy[o + ch];
          }
          continue;
        }
        for (let ch = 0; ch < c; ch++) {
          // strict '>' keeps the first maximum (TF's rule); a NaN first element stays the pick, as in TF
          let at = t0 + ch;
          let best = x[at];
          for (let t = 1; t < nt; t++) {
            const v = x[taps[t] + ch];
            if (v > best) {
              best = v;
              at = taps[t] + ch;
            }
          }
          dx[at] += dy[o + ch];
        }
      }
    }
  }
}

/** KernelFunc registered for ('MaxPoolGrad', 'wasm'). */
export const wasmMaxPoolGrad: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const a = attrs as unknown as MaxPoolGradAttrs;
  if (!isWasmHeapBackend(backend)) throw new Error('wasmMaxPoolGrad needs the wasm backend');
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const out = backend.makeOutput(input.shape, 'float32');
  // Views after the allocation (malloc may grow and detach the heap).
  const xv = backend.typedArrayFromHeap(input) as Float32Array;
  const dyv = backend.typedArrayFromHeap(dy) as Float32Array;
  const dxv = backend.typedArrayFromHeap(out) as Float32Array;
  maxPoolGradInto(xv, dyv, dxv, info);
  return out;
};
