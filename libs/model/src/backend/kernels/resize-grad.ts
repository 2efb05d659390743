/**
 * ResizeNearestNeighborGrad and ResizeBilinearGrad for cpu and wasm. tfjs 4.22's cpu kernels index dy with the
 * image's batch stride (wrong for batch > 1) and, like wasm's, ignore halfPixelCenters (measured by the parity spec).
 * Both gradients are the transpose of the forward's sampling map, so they are written from the forward's own index
 * arithmetic (tfjs' cpu forward kernels): rows and columns are separable, channels innermost.
 */
import * as tf from '@tensorflow/tfjs';
import { isWasmHeapBackend } from './tensor-util';

interface ResizeGradAttrs {
  alignCorners: boolean;
  halfPixelCenters: boolean;
}

/** Source row/column of every output row/column for nearest-neighbour resize (tfjs' forward arithmetic). */
export function nearestSources(inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): Int32Array {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effIn / effOut;
  const src = new Int32Array(outSize);
  for (let r = 0; r < outSize; r++) {
    const frac = halfPixelCenters ? ratio * (r + 0.5) : ratio * r;
    let s = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
    if (halfPixelCenters) s = Math.max(0, s);
    src[r] = s;
  }
  return src;
}

/** Two source rows/columns and the weight of the second, for bilinear resize (tfjs' forward arithmetic). */
export function bilinearSources(
  inSize: number,
  outSize: number,
  alignCorners: boolean,
  halfPixelCenters: boolean,
): { lo: Int32Array; hi: Int32Array; frac: Float64Array } {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effIn / effOut;
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float64Array(outSize);
  for (let r = 0; r < outSize; r++) {
    const f = halfPixelCenters ? ratio * (r + 0.5) - 0.5 : ratio * r;
    lo[r] = Math.max(0, Math.floor(f));
    hi[r] = Math.min(inSize - 1, Math.ceil(f));
    frac[r] = f - lo[r];
  }
  return { lo, hi, frac };
}

/** Reads a float32 input and allocates a float32 output on cpu or wasm without copying through tensors. */
function withIo(
  backend: tf.KernelBackend,
  dy: tf.TensorInfo,
  outShape: number[],
  fill: (dyv: Float32Array, out: Float32Array) => void,
): tf.TensorInfo {
  if (isWasmHeapBackend(backend)) {
    const out = backend.makeOutput(outShape, 'float32');
    const o = backend.typedArrayFromHeap(out) as Float32Array;
    o.fill(0);
    fill(backend.typedArrayFromHeap(dy) as Float32Array, o);
    return out;
  }
  const cpu = backend as tf.KernelBackend & {
    makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
  };
  if (typeof cpu.makeTensorInfo !== 'function') throw new Error('resize gradient kernels support cpu and wasm only');
  const o = new Float32Array(outShape.reduce((a, b) => a * b, 1));
  fill(cpu.readSync(dy.dataId) as Float32Array, o);
  return cpu.makeTensorInfo(outShape, 'float32', o);
}

/** Both resize gradients' inputs and attributes: the forward's input `images` (N,H,W,C) and `dy` (N,OH,OW,C). */
function resizeGradArgs(inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap | undefined) {
  const { images, dy } = inputs as { images: tf.TensorInfo; dy: tf.TensorInfo };
  const { alignCorners, halfPixelCenters } = attrs as unknown as ResizeGradAttrs;
  const [n, h, w, c] = images.shape;
  const [, oh, ow] = dy.shape;
  return { images, dy, alignCorners, halfPixelCenters, n, h, w, c, oh, ow };
}

/** KernelFunc for ResizeNearestNeighborGrad: dx[src(y), src(x)] += dy[y, x]. */
export const resizeNearestNeighborGrad: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { images, dy, alignCorners, halfPixelCenters, n, h, w, c, oh, ow } = resizeGradArgs(inputs, attrs);
  const rows = nearestSources(h, oh, alignCorners, halfPixelCenters);
  const cols = nearestSources(w, ow, alignCorners, halfPixelCenters);
  return withIo(backend as tf.KernelBackend, dy, images.shape, (d, dx) => {
    let o = 0;
    for (let b = 0; b < n; b++)
      for (let y = 0; y < oh; y++) {
        const rowBase = (b * h + rows[y]) * w;
        for (let x = 0; x < ow; x++) {
          const base = (rowBase + cols[x]) * c;
          for (let ch = 0; ch < c; ch++) dx[base + ch] += d[o++];
        }
      }
  });
};

/** KernelFunc for ResizeBilinearGrad: each dy spreads over its four source pixels with the forward's weights. */
export const resizeBilinearGrad: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { images, dy, alignCorners, halfPixelCenters, n, h, w, c, oh, ow } = resizeGradArgs(inputs, attrs);
  const rs = bilinearSources(h, oh, alignCorners, halfPixelCenters);
  const cs = bilinearSources(w, ow, alignCorners, halfPixelCenters);
  return withIo(backend as tf.KernelBackend, dy, images.shape, (d, dx) => {
    let o = 0;
    for (let b = 0; b < n; b++)
      for (let y = 0; y < oh; y++) {
        const top = (b * h + rs.lo[y]) * w;
        const bot = (b * h + rs.hi[y]) * w;
        const fy = rs.frac[y];
        for (let x = 0; x < ow; x++) {
          const fx = cs.frac[x];
          // forward: v = tl + (tr − tl)·fx + ((bl + (br − bl)·fx) − (tl + (tr − tl)·fx))·fy
          const wtl = (1 - fx) * (1 - fy);
          const wtr = fx * (1 - fy);
          const wbl = (1 - fx) * fy;
          const wbr = fx * fy;
          const tl = (top + cs.lo[x]) * c;
          const tr = (top + cs.hi[x]) * c;
          const bl = (bot + cs.lo[x]) * c;
          const br = (bot + cs.hi[x]) * c;
          for (let ch = 0; ch < c; ch++) {
            const g = d[o++];
            dx[tl + ch] += wtl * g;
            dx[tr + ch] += wtr * g;
            dx[bl + ch] += wbl * g;
            dx[br + ch] += wbr * g;
          }
        }
      }
  });
};
