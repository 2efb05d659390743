/**
 * Concat and SplitV for the wasm backend, for U-Net skip connections (channel-axis concat, whose gradient is a
 * split). tfjs-wasm copies one subarray per pixel per input in JS, and its SplitV slices, which copies the whole
 * source per output: ~100 ms to split [4,256,256,32]. These memmove each run within the heap (copyWithin).
 * Non-float32 or empty tensors go to the stock kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { stockKernel } from './stock';
import { heapF32, isWasmHeapBackend } from './tensor-util';

const prod = (xs: number[]): number => xs.reduce((a, b) => a * b, 1);

/** KernelFunc registered for ('Concat', 'wasm'). */
export const wasmConcat: tf.KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const xs = (Array.isArray(inputs) ? inputs : Object.values(inputs)) as tf.TensorInfo[];
  const axis = tf.util.parseAxisParam((attrs as unknown as { axis: number | number[] }).axis, xs[0].shape)[0];
  const usable = isWasmHeapBackend(backend) && xs.length > 1 && xs.every((t) => t.dtype === 'float32' && prod(t.shape) > 0);
  if (!usable) {
    const stock = stockKernel('Concat', 'wasm');
    if (!stock) throw new Error('stock wasm Concat kernel not found');
    return stock.kernelFunc(args);
  }
  const outShape = tf.backend_util.computeOutShape(xs.map((t) => t.shape), axis);
  const outer = prod(outShape.slice(0, axis));
  const inner = xs.map((t) => prod(t.shape.slice(axis)));
  const total = inner.reduce((a, b) => a + b, 0);
  const out = backend.makeOutput(outShape, 'float32');
  const { heap, offset: to } = heapF32(backend, out);
  const froms = xs.map((t) => heapF32(backend, t).offset);
  for (let b = 0; b < outer; b++) {
    let dst = to + b * total;
    for (let i = 0; i < xs.length; i++) {
      const src = froms[i] + b * inner[i];
      heap.copyWithin(dst, src, src + inner[i]);
      dst += inner[i];
    }
  }
  return out;
};

/** KernelFunc registered for ('SplitV', 'wasm'). */
export const wasmSplitV: tf.KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { x } = inputs as { x: tf.TensorInfo };
  const a = attrs as unknown as { numOrSizeSplits: number | number[]; axis: number | number[] };
  const axis = tf.util.parseAxisParam(a.axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x, a.numOrSizeSplits, axis);
  if (!isWasmHeapBackend(backend) || x.dtype !== 'float32' || prod(x.shape) === 0 || sizes.some((s) => s === 0)) {
    const stock = stockKernel('SplitV', 'wasm');
    if (!stock) throw new Error('stock wasm SplitV kernel not found');
    return stock.kernelFunc(args);
  }
  const outer = prod(x.shape.slice(0, axis));
  const rest = prod(x.shape.slice(axis + 1));
  const total = x.shape[axis] * rest;
  const outs = sizes.map((s) => {
    const shape = x.shape.slice();
    shape[axis] = s;
    return backend.makeOutput(shape, 'float32');
  });
  const { heap, offset: from } = heapF32(backend, x); // after all allocations
  const tos = outs.map((o) => heapF32(backend, o).offset);
  for (let b = 0; b < outer; b++) {
    let src = from + b * total;
    for (let i = 0; i < sizes.length; i++) {
      const len = sizes[i] * rest;
      heap.copyWithin(tos[i] + b * len, src, src + len);
      src += len;
    }
  }
  return outs;
};
