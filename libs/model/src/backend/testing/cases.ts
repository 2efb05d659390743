/**
 * The gradient-parity cases: every op the project's models train through, with batch ≥ 2, channels ≥ 2 and
 * non-square, odd spatial sizes. References come from ./reference (loops from the forward definition, or float64
 * central differences of a plain-JS forward); resize references probe the backend's own forward with index images.
 */
import * as tf from '@tensorflow/tfjs';
import { GradCase } from './parity';
import {
  conv2dGradRef,
  conv2dRef,
  conv2dTransposeGradRef,
  conv2dTransposeRef,
  convGeom,
  finiteDiffGrad,
  gatherMapGrad,
  maxPoolRef,
  size,
} from './reference';

type Pad = 'same' | 'valid' | [[number, number], [number, number]];

function tfPad(pad: Pad): 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]] {
  return typeof pad === 'string' ? pad : [[0, 0], pad[0], pad[1], [0, 0]];
}

function conv2dCase(x: number[], w: number[], s: number | [number, number], pad: Pad): GradCase {
  const g = convGeom(x, w, s, pad);
  return {
    name: `conv2d x${JSON.stringify(x)} w${JSON.stringify(w)} s${JSON.stringify(s)} ${JSON.stringify(pad)}`,
    shapes: [x, w],
    op: (a, b) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, tfPad(pad)),
    forwardRef: ([a, b]) => conv2dRef(a, b, g),
    gradRef: ([a, b], dy) => {
      const r = conv2dGradRef(a, b, dy, g);
      return [r.dx, r.dw];
    },
  };
}

/** conv2d + bias + relu fused, as tf.layers.conv2d runs it (tf.fused.conv2d); gradients w.r.t. x, w and bias. */
function fusedConvCase(x: number[], w: number[], s: number, pad: 'same' | 'valid'): GradCase {
  const g = convGeom(x, w, s, pad);
  const co = w[3];
  const pre = (a: Float64Array, b: Float64Array, bias: Float64Array): Float64Array =>
    conv2dRef(a, b, g).map((v, i) => v + bias[i % co]);
  return {
    name: `fused conv2d+bias+relu x${JSON.stringify(x)} w${JSON.stringify(w)} s${s} ${pad}`,
    shapes: [x, w, [co]],
    op: (a, b, bias) =>
      tf.fused.conv2d({ x: a as tf.Tensor4D, filter: b as tf.Tensor4D, strides: s, pad, bias, activation: 'relu' }),
    forwardRef: ([a, b, bias]) => pre(a, b, bias).map((v) => Math.max(0, v)),
    gradRef: ([a, b, bias], dy) => {
      const p = pre(a, b, bias);
      const dPre = dy.map((d, i) => (p[i] > 0 ? d : 0));
      const r = conv2dGradRef(a, b, dPre, g);
      const db = new Float64Array(co);
      dPre.forEach((d, i) => (db[i % co] += d));
      return [r.dx, r.dw, db];
    },
  };
}

/** conv2dTranspose(input, w, outShape): geometry is that of the conv from outShape (its "x") to input (its "y"). */
function conv2dTransposeCase(input: number[], w: number[], out: number[], s: number, pad: 'same' | 'valid'): GradCase {
  const g = convGeom(out, w, s, pad);
  if (g.ho !== input[1] || g.wo !== input[2]) throw new Error(`bad conv2dTranspose case ${input} → ${out}`);
  return {
    name: `conv2dTranspose in${JSON.stringify(input)} w${JSON.stringify(w)} → ${JSON.stringify(out)} s${s} ${pad}`,
    shapes: [input, w],
    op: (a, b) => tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, out as [number, number, number, number], s, pad),
    forwardRef: ([a, b]) => conv2dTransposeRef(a, b, g),
    gradRef: ([a, b], dOut) => {
      const r = conv2dTransposeGradRef(a, b, dOut, g);
      return [r.dInput, r.dw];
    },
  };
}

function maxPoolCase(x: number[], k: number, s: number, pad: 'same' | 'valid', ties = false): GradCase {
  return {
    name: `maxPool x${JSON.stringify(x)} ${k}x${k}/${s} ${pad}${ties ? ' with ties' : ''}`,
    shapes: [x],
    // Ties: values on a coarse grid so many windows hold equal maxima (as after relu); TF sends the gradient to the
    // first maximum in the window.
    init: ties ? (shape, _i, rand) => Float64Array.from({ length: size(shape) }, () => Math.floor(rand() * 3)) : undefined,
    op: (a) => tf.maxPool(a as tf.Tensor4D, k, s, pad),
    forwardRef: ([a]) => maxPoolRef(a, x, [k, k], [s, s], pad).y,
    gradRef: ([a], dy) => [maxPoolRef(a, x, [k, k], [s, s], pad, dy).dx],
  };
}

/**
 * Source element of every output of a resize, read off the active backend's own forward applied to an image holding
 * each element's flat index (exact in float32 for these sizes) — the forward mapping, independent of any gradient code.
 */
function nearestSourceMap(x: number[], outHW: [number, number], alignCorners: boolean, halfPixelCenters: boolean): Float32Array {
  return tf.tidy(() => {
    const idx = tf.range(0, size(x), 1, 'float32').reshape(x) as tf.Tensor4D;
    return tf.image.resizeNearestNeighbor(idx, outHW, alignCorners, halfPixelCenters).dataSync() as Float32Array;
  });
}

function resizeNearestCase(x: number[], outHW: [number, number], alignCorners = false, halfPixelCenters = false): GradCase {
  return {
    name: `resizeNearestNeighbor x${JSON.stringify(x)} → ${JSON.stringify(outHW)} align=${alignCorners} half=${halfPixelCenters}`,
    shapes: [x],
    op: (a) => tf.image.resizeNearestNeighbor(a as tf.Tensor4D, outHW, alignCorners, halfPixelCenters),
    gradRef: (_xs, dy) => [gatherMapGrad(nearestSourceMap(x, outHW, alignCorners, halfPixelCenters), dy, size(x))],
  };
}

/**
 * Bilinear resize is linear in its input: the exact gradient is Jᵀdy, with J's columns read off the active backend's
 * forward applied to one-hot images (every input element separately, batch and channel included).
 */
function resizeBilinearCase(x: number[], outHW: [number, number], alignCorners = false, halfPixelCenters = false): GradCase {
  return {
    name: `resizeBilinear x${JSON.stringify(x)} → ${JSON.stringify(outHW)} align=${alignCorners} half=${halfPixelCenters}`,
    shapes: [x],
    op: (a) => tf.image.resizeBilinear(a as tf.Tensor4D, outHW, alignCorners, halfPixelCenters),
    gradRef: (_xs, dy) => {
      const n = size(x);
      const cols = tf.tidy(() => {
        const oneHots = tf.oneHot(tf.range(0, n, 1, 'int32'), n).cast('float32').reshape([n * x[0], x[1], x[2], x[3]]);
        return tf.image.resizeBilinear(oneHots as tf.Tensor4D, outHW, alignCorners, halfPixelCenters).dataSync();
      });
      const m = dy.length;
      const dx = new Float64Array(n);
      for (let k = 0; k < n; k++) {
        let s = 0;
        for (let o = 0; o < m; o++) s += cols[k * m + o] * dy[o];
        dx[k] = s;
      }
      return [dx];
    },
  };
}

/** A case whose reference is float64 central differences of a plain-JS forward. */
function fdCase(name: string, shapes: number[][], op: GradCase['op'], forward: (xs: Float64Array[]) => Float64Array, init?: GradCase['init']): GradCase {
  return {
    name,
    shapes,
    init,
    op,
    forwardRef: forward,
    gradRef: (xs, dy) => xs.map((_, i) => finiteDiffGrad(forward, xs.map((v) => Float64Array.from(v)), dy, i)),
  };
}

/** Channel-last 4-D helpers for the plain-JS forwards. */
const lastAxisGroups = (v: Float64Array, c: number): number => v.length / c;

function softmaxJs(v: Float64Array, c: number, log: boolean): Float64Array {
  const out = new Float64Array(v.length);
  for (let g = 0; g < lastAxisGroups(v, c); g++) {
    let m = -Infinity;
    for (let k = 0; k < c; k++) m = Math.max(m, v[g * c + k]);
    let s = 0;
    for (let k = 0; k < c; k++) s += Math.exp(v[g * c + k] - m);
    for (let k = 0; k < c; k++) out[g * c + k] = log ? v[g * c + k] - m - Math.log(s) : Math.exp(v[g * c + k] - m) / s;
  }
  return out;
}

/** Batch norm in training mode as tf.layers.batchNormalization does it: moments over all axes but channels. */
function batchNormTrainJs([x, gamma, beta]: Float64Array[], c: number, eps: number): Float64Array {
  const groups = x.length / c;
  const out = new Float64Array(x.length);
  for (let k = 0; k < c; k++) {
    let mean = 0;
    for (let g = 0; g < groups; g++) mean += x[g * c + k];
    mean /= groups;
    let v = 0;
    for (let g = 0; g < groups; g++) v += (x[g * c + k] - mean) ** 2;
    v /= groups;
    const inv = 1 / Math.sqrt(v + eps);
    for (let g = 0; g < groups; g++) out[g * c + k] = (x[g * c + k] - mean) * inv * gamma[k] + beta[k];
  }
  return out;
}

/** Away from relu's kink so central differences are exact there. */
const awayFromZero: GradCase['init'] = (shape, _i, rand) =>
  Float64Array.from({ length: size(shape) }, () => {
    const v = 0.05 + 0.95 * rand();
    return rand() < 0.5 ? -v : v;
  });

const X = [2, 5, 7, 3]; // batch 2, odd non-square, 3 channels

/** All cases, grouped by the op (and so the gradient kernels) they exercise. */
export const CASES: Record<string, GradCase[]> = {
  conv2d: [
    conv2dCase([2, 7, 6, 3], [1, 1, 3, 4], 1, 'valid'),
    conv2dCase([2, 7, 6, 3], [1, 1, 3, 4], 2, 'same'),
    conv2dCase([2, 7, 6, 3], [3, 3, 3, 4], 1, 'same'),
    conv2dCase([2, 9, 7, 3], [3, 3, 3, 2], 2, 'same'),
    conv2dCase([2, 9, 8, 3], [3, 3, 3, 4], 2, 'valid'),
    conv2dCase([2, 11, 9, 2], [5, 5, 2, 3], 2, 'same'),
    conv2dCase([2, 9, 7, 2], [5, 5, 2, 3], 1, 'valid'),
    conv2dCase([2, 8, 9, 2], [5, 5, 2, 3], 1, 'same'),
    conv2dCase([2, 7, 6, 2], [3, 3, 2, 3], 1, [[1, 2], [2, 0]]),
    conv2dCase([2, 10, 9, 2], [3, 3, 2, 3], [2, 3], 'same'),
    conv2dCase([2, 10, 9, 2], [3, 2, 2, 3], 2, 'same'),
    // Not [3,2] kernel with strides [2,3] 'same': tfjs-wasm 4.22's *forward* conv is wrong there (measured), unused here.

    conv2dCase([2, 12, 10, 1], [5, 5, 1, 24], 2, 'same'), // 1-channel input layer: the other matmul orientation
    fusedConvCase([2, 9, 7, 3], [5, 5, 3, 4], 2, 'same'),
    fusedConvCase([2, 7, 6, 3], [3, 3, 3, 4], 1, 'same'),
  ],
  conv2dTranspose: [
    conv2dTransposeCase([2, 4, 5, 3], [2, 2, 2, 3], [2, 8, 10, 2], 2, 'same'),
    conv2dTransposeCase([2, 4, 5, 3], [3, 3, 2, 3], [2, 7, 9, 2], 2, 'same'),
    conv2dTransposeCase([2, 5, 7, 3], [3, 3, 2, 3], [2, 5, 7, 2], 1, 'same'),
    conv2dTransposeCase([2, 4, 3, 3], [3, 3, 2, 3], [2, 9, 7, 2], 2, 'valid'),
    conv2dTransposeCase([2, 2, 3, 2], [31, 31, 2, 2], [2, 32, 48, 2], 16, 'same'), // the FCN's upsampling layer
  ],
  maxPool: [
    maxPoolCase([2, 8, 6, 3], 2, 2, 'valid'),
    maxPoolCase([2, 7, 9, 3], 2, 2, 'same'),
    maxPoolCase([2, 7, 9, 3], 2, 2, 'valid'),
    maxPoolCase([2, 7, 8, 2], 3, 2, 'same'),
    maxPoolCase([2, 8, 6, 3], 2, 2, 'valid', true),
  ],
  resizeNearestNeighbor: [
    resizeNearestCase([2, 3, 5, 3], [6, 10]),
    resizeNearestCase([2, 4, 3, 2], [7, 8]),
    resizeNearestCase([2, 4, 3, 2], [7, 8], true, false),
    resizeNearestCase([2, 4, 3, 2], [7, 8], false, true),
    resizeNearestCase([2, 6, 5, 2], [3, 2]),
  ],
  resizeBilinear: [
    resizeBilinearCase([2, 3, 5, 3], [6, 10]),
    resizeBilinearCase([2, 4, 3, 2], [7, 8], true, false),
    resizeBilinearCase([2, 4, 3, 2], [7, 8], false, true),
  ],
  elementwise: [
    fdCase('relu', [X], (a) => tf.relu(a), ([a]) => a.map((v) => Math.max(0, v)), awayFromZero),
    fdCase('sigmoid', [X], (a) => tf.sigmoid(a), ([a]) => a.map((v) => 1 / (1 + Math.exp(-v)))),
    fdCase('add (same shape)', [X, X], (a, b) => tf.add(a, b), ([a, b]) => a.map((v, i) => v + b[i])),
    fdCase('add (channel bias broadcast)', [X, [3]], (a, b) => tf.add(a, b), ([a, b]) => a.map((v, i) => v + b[i % 3])),
    fdCase(
      'concat on the channel axis',
      [[2, 5, 7, 2], [2, 5, 7, 3]],
      (a, b) => tf.concat([a, b], 3),
      ([a, b]) => {
        const out = new Float64Array(a.length + b.length);
        for (let p = 0; p < a.length / 2; p++) {
          out.set(a.subarray(p * 2, p * 2 + 2), p * 5);
          out.set(b.subarray(p * 3, p * 3 + 3), p * 5 + 2);
        }
        return out;
      },
    ),
    fdCase(
      'concat of three on the channel axis',
      [[2, 3, 4, 1], [2, 3, 4, 70], [2, 3, 4, 2]], // 70: a run long enough for the bulk-copy path
      (a, b, c) => tf.concat([a, b, c], 3),
      ([a, b, c]) => {
        const out = new Float64Array(a.length + b.length + c.length);
        for (let p = 0; p < 24; p++) {
          out.set(a.subarray(p, p + 1), p * 73);
          out.set(b.subarray(p * 70, p * 70 + 70), p * 73 + 1);
          out.set(c.subarray(p * 2, p * 2 + 2), p * 73 + 71);
        }
        return out;
      },
    ),
    fdCase(
      'concat on the height axis',
      [[2, 2, 3, 2], [2, 3, 3, 2]],
      (a, b) => tf.concat([a, b], 1),
      ([a, b]) => {
        const out = new Float64Array(a.length + b.length);
        for (let n = 0; n < 2; n++) {
          out.set(a.subarray(n * 12, n * 12 + 12), n * 30);
          out.set(b.subarray(n * 18, n * 18 + 18), n * 30 + 12);
        }
        return out;
      },
    ),
  ],
  normalisation: [
    fdCase(
      'batchNorm (training mode, moments over N,H,W)',
      [X, [3], [3]],
      (x, gamma, beta) => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        return tf.batchNorm(x, mean, variance, beta, gamma, 1e-3);
      },
      (xs) => batchNormTrainJs(xs, 3, 1e-3),
      (shape, i, rand) => Float64Array.from({ length: size(shape) }, () => (i === 1 ? 0.5 + rand() : 2 * rand() - 1)),
    ),
    fdCase(
      'tf.layers.batchNormalization, training mode (gamma 1, beta 0 at init)',
      [X],
      (() => {
        const layer = tf.layers.batchNormalization({ axis: -1 });
        return (x: tf.Tensor) => layer.apply(x, { training: true }) as tf.Tensor;
      })(),
      ([x]) => batchNormTrainJs([x, new Float64Array(3).fill(1), new Float64Array(3)], 3, 1e-3),
    ),
    fdCase('softmax (channel axis)', [X], (a) => tf.softmax(a), ([a]) => softmaxJs(a, 3, false)),
    fdCase('logSoftmax (channel axis)', [X], (a) => tf.logSoftmax(a), ([a]) => softmaxJs(a, 3, true)),
  ],
  loss: [
    (() => {
      // Per-pixel 2-class softmax cross-entropy, mean over pixels, as the trainer uses it.
      const labelShape = [2, 5, 7, 2];
      const labels = new Float64Array(size(labelShape));
      for (let p = 0; p < labels.length / 2; p++) labels[p * 2 + ((p * 7) % 3 === 0 ? 0 : 1)] = 1;
      return fdCase(
        'softmaxCrossEntropy (one-hot, 2 classes, mean)',
        [labelShape],
        (logits) => tf.losses.softmaxCrossEntropy(tf.tensor(Float32Array.from(labels), labelShape), logits),
        ([z]) => {
          const logp = softmaxJs(z, 2, true);
          let s = 0;
          for (let i = 0; i < z.length; i++) s -= labels[i] * logp[i];
          return Float64Array.of(s / (z.length / 2));
        },
      );
    })(),
  ],
  reductions: [
    fdCase('mean over all', [X], (a) => tf.mean(a), ([a]) => Float64Array.of(a.reduce((s, v) => s + v, 0) / a.length)),
    fdCase('sum over H,W', [X], (a) => tf.sum(a, [1, 2]), ([a]) => {
      const out = new Float64Array(2 * 3);
      a.forEach((v, i) => (out[Math.floor(i / (5 * 7 * 3)) * 3 + (i % 3)] += v));
      return out;
    }),
    fdCase('sum over N,H,W (bias gradient)', [X], (a) => tf.sum(a, [0, 1, 2]), ([a]) => {
      const out = new Float64Array(3);
      a.forEach((v, i) => (out[i % 3] += v));
      return out;
    }),
    fdCase('sum over N,H,W keepDims', [X], (a) => tf.sum(a, [0, 1, 2], true), ([a]) => {
      const out = new Float64Array(3);
      a.forEach((v, i) => (out[i % 3] += v));
      return out;
    }),
    fdCase('mean over channels (keepDims)', [X], (a) => tf.mean(a, 3, true), ([a]) => {
      const out = new Float64Array(a.length / 3);
      a.forEach((v, i) => (out[Math.floor(i / 3)] += v / 3));
      return out;
    }),
  ],
};

/** Forward-only check of our Conv2DBackpropInput replacement: conv2dTranspose shapes the models use. */
export const CONV_TRANSPOSE_FORWARD: { input: number[]; w: number[]; out: number[]; s: number; pad: 'same' | 'valid' }[] = [
  { input: [3, 16, 16, 2], w: [31, 31, 2, 2], out: [3, 256, 256, 2], s: 16, pad: 'same' },
  { input: [2, 8, 7, 6], w: [2, 2, 4, 6], out: [2, 16, 14, 4], s: 2, pad: 'same' },
  { input: [2, 8, 7, 6], w: [3, 3, 4, 6], out: [2, 15, 13, 4], s: 2, pad: 'same' },
  { input: [2, 9, 7, 6], w: [3, 3, 4, 6], out: [2, 9, 7, 4], s: 1, pad: 'same' },
  { input: [2, 4, 3, 5], w: [5, 5, 3, 5], out: [2, 11, 9, 3], s: 2, pad: 'valid' },
];
