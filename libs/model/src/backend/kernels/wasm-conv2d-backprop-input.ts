/**
 * Conv2DBackpropInput for the wasm backend (the x-gradient of conv2d and the forward of conv2dTranspose). tfjs-wasm's
 * native kernel is a naive loop (2.1 s for the FCN's second layer at batch 4); this is a sub-pixel decomposition into
 * one XNNPACK conv plus a cheap interleave:
 *
 *   dx[n, y, x, ci] = Σ dy[n, i, j, co] · W[a, b, ci, co]   over y = i·sh + a − pt, x = j·sw + b − pl.
 *
 * Write y = sh·Y + r. Output phase r only meets taps a = r + pt − sh·t for dy rows i = Y + t, so every phase is a
 * stride-1 correlation of dy with a small sub-filter. All sh·sw phases become the output channels of one conv over dy
 * (T × T taps, T ≈ ceil(k / s)), and the [N, Yq, Xq, (r, q, ci)] result is interleaved to [N, Yq·sh, Xq·sw, ci] by a
 * reshape + 4-D transpose (tfjs-wasm's DepthToSpace is ~10× slower), then cropped. The sub-filters are assembled in JS
 * from W, which is small.
 */
import * as tf from '@tensorflow/tfjs';
import { composeKernel } from './tensor-util';

/** Attributes tfjs passes to Conv2DBackpropInput. */
export interface Conv2DBackpropInputAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

/** One spatial dim of the decomposition for a set of output phases: dy offsets t ∈ [tMin, tMin + taps). */
interface DimPlan {
  s: number;
  phases: number[];
  tMin: number;
  taps: number;
  outBlocks: number; // Yq = ceil(size / s)
  padBefore: number; // conv padding on dy; negative means rows to crop
  padAfter: number;
  tap: (phase: number, ti: number) => number; // filter index a, or −1 when outside [0, k)
}

function planDim(size: number, dySize: number, k: number, s: number, pad: number, phases: number[]): DimPlan {
  // a = r + pad − s·t ∈ [0, k)  ⇔  t ∈ [ceil((r + pad − k + 1) / s), floor((r + pad) / s)]
  const tMin = Math.min(...phases.map((r) => Math.ceil((r + pad - k + 1) / s)));
  const tMax = Math.max(...phases.map((r) => Math.floor((r + pad) / s)));
  const outBlocks = Math.ceil(size / s);
  return {
    s,
    phases,
    tMin,
    taps: tMax - tMin + 1,
    outBlocks,
    padBefore: -tMin,
    padAfter: outBlocks - 1 + tMax - (dySize - 1),
    tap: (r, ti) => {
      const a = r + pad - s * (ti + tMin);
      return a >= 0 && a < k ? a : -1;
    },
  };
}

/** conv of dy with the sub-filters of the phases in ph × pw: [n, Yq, Xq, (r ∈ ph, q ∈ pw, ci)]. */
function phaseConv(dy: tf.Tensor4D, wv: Float32Array, wShape: number[], ph: DimPlan, pw: DimPlan): tf.Tensor4D {
  const [, kw, ci, co] = wShape;
  const [n, ho, wo] = dy.shape;
  const outC = ph.phases.length * pw.phases.length * ci;
  if (ph.taps <= 0 || pw.taps <= 0) return tf.zeros([n, ph.outBlocks, pw.outBlocks, outC]); // kernel < stride
  // G[th, tw, co, (r, q, ci)] = W[a(r, th), b(q, tw), ci, co], zero where the tap falls outside W. Assembled as
  // [th·tw, (r, q, ci), co] with whole co-rows copied, then one batched 2-D transpose (native, fast).
  const taps = ph.taps * pw.taps;
  const g = new Float32Array(taps * outC * co);
  const rowLen = ci * co;
  for (let th = 0; th < ph.taps; th++)
    for (let tw = 0; tw < pw.taps; tw++)
      for (let ri = 0; ri < ph.phases.length; ri++) {
        const a = ph.tap(ph.phases[ri], th);
        if (a < 0) continue;
        for (let qi = 0; qi < pw.phases.length; qi++) {
          const b = pw.tap(pw.phases[qi], tw);
          if (b < 0) continue;
          const src = (a * kw + b) * rowLen; // W[a, b, :, :] is ci·co contiguous values
          const dst = ((th * pw.taps + tw) * outC + (ri * pw.phases.length + qi) * ci) * co;
          g.set(wv.subarray(src, src + rowLen), dst);
        }
      }
  const filt = tf.reshape(tf.transpose(tf.tensor3d(g, [taps, outC, co]), [0, 2, 1]), [ph.taps, pw.taps, co, outC]) as tf.Tensor4D;
  // Negative conv padding (dy rows no output reads) is a crop of dy instead.
  const crop = [ph.padBefore, ph.padAfter, pw.padBefore, pw.padAfter].map((v) => Math.max(0, -v));
  const src = crop.some((v) => v > 0)
    ? tf.slice(dy, [0, crop[0], crop[2], 0], [n, ho - crop[0] - crop[1], wo - crop[2] - crop[3], co])
    : dy;
  return tf.conv2d(src, filt, 1, [
    [0, 0],
    [Math.max(0, ph.padBefore), Math.max(0, ph.padAfter)],
    [Math.max(0, pw.padBefore), Math.max(0, pw.padAfter)],
    [0, 0],
  ]);
}

const range = (k: number): number[] => Array.from({ length: k }, (_, i) => i);

/** x-gradient of a 2-D convolution (= conv2dTranspose forward), composed from XNNPACK convs and an interleave. */
export function conv2dBackpropInputComposed(
  dy: tf.Tensor4D,
  w: tf.Tensor4D,
  attrs: Conv2DBackpropInputAttrs,
  phaseSplit: 'auto' | 'single' | 'per-phase' = 'auto',
): tf.Tensor4D {
  return tf.tidy(() => {
    const nchw = attrs.dataFormat === 'NCHW';
    const inShape = (nchw
      ? [attrs.inputShape[0], attrs.inputShape[2], attrs.inputShape[3], attrs.inputShape[1]]
      : attrs.inputShape) as [number, number, number, number];
    if (nchw) dy = tf.transpose(dy, [0, 2, 3, 1]);
    const [kh, kw, ci] = w.shape;
    const info = tf.backend_util.computeConv2DInfo(inShape, w.shape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
    const [n, h, wd] = inShape;
    const [, ho, wo] = dy.shape;
    const sh = info.strideHeight;
    const sw = info.strideWidth;
    const planH = (ph: number[]): DimPlan => planDim(h, ho, kh, sh, info.padInfo.top, ph);
    const planW = (pw: number[]): DimPlan => planDim(wd, wo, kw, sw, info.padInfo.left, pw);
    const allH = planH(range(sh));
    const allW = planW(range(sw));
    const wv = w.dataSync() as Float32Array;

    // One conv for all phases pads every phase's sub-filter to the largest (5×5/2: 3×3 taps for all 4 phases, 36 vs
    // 25 real taps). With few phases, one conv per phase does only the real taps; with many (the FCN's 16×16 phases,
    // 2×2 taps) the single conv wins on call overhead.
    const realTaps = kh * kw;
    const paddedTaps = allH.taps * allW.taps * sh * sw;
    let z: tf.Tensor4D;
    const perPhase = phaseSplit === 'auto' ? sh * sw > 1 && sh * sw <= 9 && paddedTaps > 1.2 * realTaps : phaseSplit === 'per-phase';
    if (perPhase) {
      const parts: tf.Tensor4D[] = [];
      for (const r of range(sh)) for (const q of range(sw)) parts.push(phaseConv(dy, wv, w.shape, planH([r]), planW([q])));
      z = tf.concat(parts, 3);
    } else {
      z = phaseConv(dy, wv, w.shape, allH, allW);
    }
    let out: tf.Tensor4D = z;
    if (sh * sw > 1) {
      const yq = allH.outBlocks;
      const xq = allW.outBlocks;
      // [(n, Y), X, r, (q, ci)] → [(n, Y), r, X, (q, ci)] is exactly [n, Y·sh + r, X·sw + q, ci] in memory.
      const t = tf.transpose(tf.reshape(z, [n * yq, xq, sh, sw * ci]), [0, 2, 1, 3]);
      out = tf.reshape(t, [n, yq * sh, xq * sw, ci]);
    }
    if (out.shape[1] !== h || out.shape[2] !== wd) {
      // Crop the bottom/right overhang; as [n, rows, row] so the copy moves whole rows.
      const rows = tf.slice(tf.reshape(out, [n, out.shape[1], out.shape[2] * ci]), [0, 0, 0], [n, h, wd * ci]);
      out = tf.reshape(rows, [n, h, wd, ci]);
    }
    return nchw ? tf.transpose(out, [0, 3, 1, 2]) : out;
  });
}

/** KernelFunc registered for ('Conv2DBackpropInput', 'wasm'). */
export const wasmConv2DBackpropInput: tf.KernelFunc = ({ inputs, attrs }) => {
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  return composeKernel({ dy, filter }, (t) =>
    conv2dBackpropInputComposed(t.dy as tf.Tensor4D, t.filter as tf.Tensor4D, attrs as unknown as Conv2DBackpropInputAttrs),
  );
};
