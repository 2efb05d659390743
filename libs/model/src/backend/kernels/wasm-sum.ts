/**
 * Sum for the wasm backend, fast path for reductions over leading axes — the bias gradient of every conv layer sums
 * dy [N,H,W,C] over N,H,W. tfjs-wasm transposes the reduced axes innermost first (~45 ms for [4,128,128,100]); a
 * column sum straight off the heap takes a few ms. Every other reduction goes to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { stockKernel } from './stock';
import { isWasmHeapBackend } from './tensor-util';

/** Σ over the leading `rows` rows of a [rows, cols] float32 view, accumulated in float64. */
export function sumLeadingRows(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
  const acc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) acc[c] += x[base + c];
  }
  for (let c = 0; c < cols; c++) out[c] = acc[c];
}

/** KernelFunc registered for ('Sum', 'wasm'). */
export const wasmSum: tf.KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { x } = inputs as { x: tf.TensorInfo };
  const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
  const rank = x.shape.length;
  const axes = tf.util.parseAxisParam(axis, x.shape).slice().sort((a, b) => a - b);
  const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
  if (x.dtype === 'float32' && leading && isWasmHeapBackend(backend)) {
    const rows = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
    const rest = x.shape.slice(axes.length);
    const cols = rest.reduce((a, b) => a * b, 1);
    const outShape = keepDims ? [...x.shape.slice(0, axes.length).map(() => 1), ...rest] : rest;
    const out = backend.makeOutput(outShape, 'float32');
    sumLeadingRows(backend.typedArrayFromHeap(x) as Float32Array, rows, cols, backend.typedArrayFromHeap(out) as Float32Array);
    return out;
  }
  const stock = stockKernel('Sum', 'wasm');
  if (!stock) throw new Error('stock wasm Sum kernel not found');
  return stock.kernelFunc(args);
};
