/**
 * Conv2DBackpropFilter for wasm, which has none in tfjs 4.22 (conv filters cannot train there), and for cpu, whose
 * stock kernel is ~70× slower than this on the FCN's layers.
 *
 * dW[a,b,ci,co] = Σ_{n,i,j} x[n, i·sh + a − pt, j·sw + b − pl, ci] · dy[n,i,j,co]
 *
 * Built as one XNNPACK matmul, im2col [kh·kw·ci, n·ho·wo] × dy [n·ho·wo, co]. Stride phases are moved into channels
 * first (x padded to a grid of sh·Hq × sw·Wq, then [N·Hq, sh, Wq·sw·Ci] → [sh, sw·Ci, N·Hq·Wq] with two cheap
 * transposes), after which every tap (a, b) is a plain ho×wo window of phase (a mod sh, b mod sw) at offset
 * (a div sh, b div sw), copied row by row. Avoided on purpose: tfjs-wasm's transposed matmul (a naive loop), its
 * gather (per element) and its slice (copies the whole source per call).
 */
import * as tf from '@tensorflow/tfjs';
import { composeKernel, gatherWindows, WindowSegment } from './tensor-util';

/** Attributes tfjs passes to Conv2DBackpropFilter. */
export interface Conv2DBackpropFilterAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/** Filter gradient of a 2-D convolution, composed from pad / transpose / row copies / one matmul. */
export function conv2dBackpropFilterComposed(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  attrs: Conv2DBackpropFilterAttrs,
): tf.Tensor4D {
  return tf.tidy(() => {
    if (attrs.dataFormat === 'NCHW') {
      x = tf.transpose(x, [0, 2, 3, 1]);
      dy = tf.transpose(dy, [0, 2, 3, 1]);
    }
    const [kh, kw, ci, co] = attrs.filterShape;
    const info = tf.backend_util.computeConv2DInfo(
      x.shape,
      attrs.filterShape,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
    const [n, h, w] = x.shape;
    const [, ho, wo] = dy.shape;
    if (dy.shape[3] !== co || x.shape[3] !== ci) {
      throw new Error(`Conv2DBackpropFilter: channels of x ${x.shape} / dy ${dy.shape} do not fit filter ${attrs.filterShape}`);
    }
    const sh = info.strideHeight;
    const sw = info.strideWidth;
    const pt = info.padInfo.top;
    const pl = info.padInfo.left;
    const mh = Math.ceil(kh / sh);
    const mw = Math.ceil(kw / sw);
    const hq = ho + mh - 1;
    const wq = wo + mw - 1;

    // x on the phase grid: rows −pt … sh·hq − pt − 1 (crop what no tap reads, pad the rest with zeros).
    const xg = padOrCrop(x, pt, sh * hq - pt - h, pl, sw * wq - pl - w);
    let phased: tf.Tensor4D; // [(r, q, ci), n, hq, wq]
    if (sh === 1 && sw === 1) {
      phased = tf.reshape(tf.transpose(tf.reshape(xg, [n * hq * wq, ci])), [ci, n, hq, wq]);
    } else {
      const rowsFirst = tf.transpose(tf.reshape(xg, [n * hq, sh, wq * sw * ci]), [1, 0, 2]); // [r, (n,I), (J,q,ci)]
      phased = tf.reshape(tf.transpose(tf.reshape(rowsFirst, [sh, n * hq * wq, sw * ci]), [0, 2, 1]), [sh * sw * ci, n, hq, wq]);
    }

    // im2col rows in (a, b, ci) order, so the matmul result is already the filter layout. Tap (a, b) reads phase
    // (a mod sh, b mod sw) shifted by (a div sh, b div sw); consecutive b of one shift are consecutive phase rows.
    const segments: WindowSegment[] = [];
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const row = ((a % sh) * sw + (b % sw)) * ci;
        const dy0 = Math.floor(a / sh);
        const dx0 = Math.floor(b / sw);
        const last = segments[segments.length - 1];
        if (last !== undefined && last.dy === dy0 && last.dx === dx0 && last.row + last.count === row) last.count += ci;
        else segments.push({ row, count: ci, dy: dy0, dx: dx0 });
      }
    }
    const cols = gatherWindows(phased, segments, ho, wo); // [kh·kw·ci, n·ho·wo]
    const dy2 = tf.reshape(dy, [n * ho * wo, co]);
    // tfjs-wasm's matmul repacks its right operand on every call (~10 ns/element) and has no fast transposed mode;
    // put the smaller of dy / im2col on the right, transposing both when that is im2col (e.g. the 1-channel input layer).
    if (co > 2 * kh * kw * ci) {
      const dw = tf.matMul(tf.transpose(dy2), tf.transpose(cols)); // [co, kh·kw·ci]
      return tf.reshape(tf.transpose(dw), [kh, kw, ci, co]);
    }
    return tf.reshape(tf.matMul(cols, dy2), [kh, kw, ci, co]);
  });
}

/** Pads (positive) or crops (negative) rows/columns of an NHWC tensor. */
function padOrCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const cropTop = Math.max(0, -top);
  const cropBottom = Math.max(0, -bottom);
  const cropLeft = Math.max(0, -left);
  const cropRight = Math.max(0, -right);
  let y = x;
  if (cropTop + cropBottom + cropLeft + cropRight > 0) {
    y = tf.slice(y, [0, cropTop, cropLeft, 0], [n, h - cropTop - cropBottom, w - cropLeft - cropRight, c]);
  }
  const pads: [number, number][] = [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]];
  return pads.some(([p, q]) => p + q > 0) ? tf.pad(y, pads) : y;
}

/** KernelFunc registered for Conv2DBackpropFilter on wasm (where tfjs has none) and cpu (where it is very slow). */
export const conv2DBackpropFilterKernel: tf.KernelFunc = ({ inputs, attrs }) => {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  return composeKernel({ x, dy }, (t) =>
    conv2dBackpropFilterComposed(t.x as tf.Tensor4D, t.dy as tf.Tensor4D, attrs as unknown as Conv2DBackpropFilterAttrs),
  );
};
