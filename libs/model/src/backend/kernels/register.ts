/**
 * Registers the project's replacement kernels over tfjs' stock ones (or where tfjs has none), remembering the stock
 * configs so specs can put them back and show what they get wrong.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2DBackpropFilterKernel } from './conv2d-backprop-filter';
import { wasmMaxPoolGrad } from './wasm-max-pool-grad';
import { wasmConv2DBackpropInput } from './wasm-conv2d-backprop-input';
import { resizeBilinearGrad, resizeNearestNeighborGrad } from './resize-grad';
import { rememberStock, stockKernel } from './stock';
import { wasmSum } from './wasm-sum';
import { wasmIdentity } from './wasm-identity';
import { wasmConcat, wasmSplitV } from './wasm-concat-split';

/** One replacement: which kernel on which backend, and why it exists. */
export interface ProjectKernel {
  kernelName: string;
  backendName: string;
  kernelFunc: tf.KernelFunc;
  why: string;
}

/** Every kernel the project registers, in registration order. */
export const PROJECT_KERNELS: readonly ProjectKernel[] = [
  {
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: conv2DBackpropFilterKernel,
    why: 'missing in tfjs-backend-wasm 4.22 (conv filters cannot train)',
  },
  {
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'cpu',
    kernelFunc: conv2DBackpropFilterKernel,
    why: "speed: tfjs-cpu's kernel takes ~370 s for the FCN's second layer at batch 4; the im2col + matmul form ~5 s",
  },
  {
    kernelName: 'MaxPoolGrad',
    backendName: 'wasm',
    kernelFunc: wasmMaxPoolGrad,
    why: 'stock kernel mixes batch/channel elements and takes the last maximum on ties',
  },
  {
    kernelName: 'Conv2DBackpropInput',
    backendName: 'wasm',
    kernelFunc: wasmConv2DBackpropInput,
    why: 'stock kernel is a naive loop (conv x-gradients and conv2dTranspose ~10-40x slower than a conv)',
  },
  {
    kernelName: 'ResizeNearestNeighborGrad',
    backendName: 'cpu',
    kernelFunc: resizeNearestNeighborGrad,
    why: "stock kernel reads dy with the image's batch stride (wrong for batch > 1) and ignores halfPixelCenters",
  },
  {
    kernelName: 'ResizeNearestNeighborGrad',
    backendName: 'wasm',
    kernelFunc: resizeNearestNeighborGrad,
    why: 'stock kernel ignores halfPixelCenters',
  },
  {
    kernelName: 'ResizeBilinearGrad',
    backendName: 'cpu',
    kernelFunc: resizeBilinearGrad,
    why: 'stock kernel is wrong for batch > 1 and ignores halfPixelCenters',
  },
  {
    kernelName: 'ResizeBilinearGrad',
    backendName: 'wasm',
    kernelFunc: resizeBilinearGrad,
    why: 'stock kernel ignores halfPixelCenters',
  },
  {
    kernelName: 'Sum',
    backendName: 'wasm',
    kernelFunc: wasmSum,
    why: 'speed: conv bias gradients (sum over N,H,W) transpose first in tfjs-wasm; other sums use the stock kernel',
  },
  {
    kernelName: 'Identity',
    backendName: 'wasm',
    kernelFunc: wasmIdentity,
    why: 'speed: tf.clone copies on tfjs-wasm (every activation a custom gradient saves); share the data as cpu does',
  },
  {
    kernelName: 'Concat',
    backendName: 'wasm',
    kernelFunc: wasmConcat,
    why: 'speed: channel-axis concat (U-Net skips) copies one subarray per pixel in tfjs-wasm',
  },
  {
    kernelName: 'SplitV',
    backendName: 'wasm',
    kernelFunc: wasmSplitV,
    why: "speed: concat's gradient; tfjs-wasm slices, copying the whole source once per output",
  },
];

const key = (k: { kernelName: string; backendName: string }): string => `${k.backendName}/${k.kernelName}`;

/**
 * Registers every project kernel (replacing the stock one); idempotent. Returns the names `backend/kernel`. A stock
 * kernel's setupFunc is kept on ours, so a replacement that delegates to it works whether or not the backend had
 * started before this call.
 */
export function registerProjectKernels(): string[] {
  const done: string[] = [];
  for (const k of PROJECT_KERNELS) {
    const current = tf.getKernel(k.kernelName, k.backendName);
    if (current?.kernelFunc !== k.kernelFunc) {
      rememberStock(k.kernelName, k.backendName, current);
      if (current !== undefined) tf.unregisterKernel(k.kernelName, k.backendName);
      const stock = stockKernel(k.kernelName, k.backendName);
      tf.registerKernel({
        kernelName: k.kernelName,
        backendName: k.backendName,
        kernelFunc: k.kernelFunc,
        ...(stock?.setupFunc ? { setupFunc: stock.setupFunc } : {}),
      });
    }
    done.push(key(k));
  }
  return done;
}

/**
 * Puts tfjs' stock kernel back for one project kernel (or removes ours where tfjs has none). For specs that show
 * why a replacement exists; call registerProjectKernels() afterwards.
 */
export function restoreStockKernel(kernelName: string, backendName: string): void {
  const k = { kernelName, backendName };
  const mine = PROJECT_KERNELS.find((p) => key(p) === key(k));
  if (mine === undefined) throw new Error(`${key(k)} is not a project kernel`);
  const current = tf.getKernel(kernelName, backendName);
  if (current?.kernelFunc !== mine.kernelFunc) return; // stock already in place
  tf.unregisterKernel(kernelName, backendName);
  const original = stockKernel(kernelName, backendName);
  if (original) tf.registerKernel(original);
}
