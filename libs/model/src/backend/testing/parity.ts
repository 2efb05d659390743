/**
 * Harness for the gradient-parity specs: which backends this process can run, and one case's comparison of tfjs'
 * gradients (through whatever kernels are registered) with an independent float64 reference.
 */
import * as tf from '@tensorflow/tfjs';
import { prepareWasm } from '../backend';
import { registerProjectKernels } from '../kernels/register';
import { randomValues, relErr, rng, size } from './reference';

/** Backends to test in this process, and why others are absent. */
export interface BackendsUnderTest {
  available: string[];
  skipped: Record<string, string>;
}

/** Starts every backend this process has (tensorflow if tfjs-node is installed, wasm, cpu) and registers our kernels. */
export async function prepareBackends(): Promise<BackendsUnderTest> {
  const available: string[] = [];
  const skipped: Record<string, string> = {};
  let node: string | undefined;
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require.resolve(pkg);
      node = pkg;
      break;
    } catch {
      // not installed: try the next one
    }
  }
  if (node === undefined) skipped.tensorflow = '@tensorflow/tfjs-node(-gpu) not installed';
  else {
    try {
      require(node);
      if (await tf.setBackend('tensorflow')) available.push('tensorflow');
      else skipped.tensorflow = `${node} installed but the backend did not start`;
    } catch (e) {
      skipped.tensorflow = `${node} failed to load: ${String(e).split('\n')[0]}`;
    }
  }
  const wasm = prepareWasm();
  if (typeof wasm === 'string') skipped.wasm = wasm;
  else if (await tf.setBackend('wasm')) available.push('wasm');
  else skipped.wasm = 'wasm backend did not start';
  if (await tf.setBackend('cpu')) available.push('cpu');
  registerProjectKernels();
  return { available, skipped };
}

/** One op under test: its inputs, the tfjs call, and a reference gradient for every input. */
export interface GradCase {
  name: string;
  shapes: number[][];
  /** Custom input values (default uniform in [-1, 1)). Values are rounded to float32. */
  init?: (shape: number[], index: number, rand: () => number) => Float64Array;
  op: (...xs: tf.Tensor[]) => tf.Tensor;
  /** Float64 forward from the op's definition; checked against tfjs' forward before gradients are compared. */
  forwardRef?: (xs: Float64Array[]) => Float64Array;
  /** Reference gradient w.r.t. each input for upstream dy (same order as shapes). */
  gradRef: (xs: Float64Array[], dy: Float64Array, yShape: number[]) => Float64Array[];
}

/** Errors of one case on the current backend: forward (if checked) and one per input, as max|Δ| / max|ref|. */
export interface CaseResult {
  forward?: number;
  grads: number[];
  leakedTensors: number;
  leakedData: number;
}

/** Runs one case on the active backend with a seeded random upstream gradient. */
export function runGradCase(c: GradCase, seed = 1): CaseResult {
  const rand = rng(seed);
  const xs = c.shapes.map((s, i) => (c.init ? c.init(s, i, rand).map(Math.fround) : randomValues(size(s), rand)));
  // Warm-up call: variables an op creates on first use (tf.layers weights) are state, not leaks.
  tf.tidy(() => {
    c.op(...xs.map((v, i) => tf.tensor(Float32Array.from(v), c.shapes[i])));
  });
  const before = tf.memory().numTensors;
  const dataBefore = tf.backend().numDataIds();
  const inputs = xs.map((v, i) => tf.tensor(Float32Array.from(v), c.shapes[i]));
  const y = tf.tidy(() => c.op(...inputs));
  const yShape = y.shape.slice();
  const yVals = Float64Array.from(y.dataSync());
  y.dispose();
  const dy = randomValues(size(yShape), rand);
  const dyT = tf.tensor(Float32Array.from(dy), yShape);
  const grads = tf.grads((...a: tf.Tensor[]) => c.op(...a))(inputs, dyT);
  const got = grads.map((g) => Float64Array.from(g.dataSync()));
  tf.dispose([...grads, dyT, ...inputs]);
  // Tensors the engine tracks, and data the backend holds (kernels that allocate outside tensors would show here).
  const leakedTensors = tf.memory().numTensors - before;
  const leakedData = tf.backend().numDataIds() - dataBefore;
  const ref = c.gradRef(xs, dy, yShape);
  return {
    forward: c.forwardRef ? relErr(yVals, c.forwardRef(xs)) : undefined,
    grads: ref.map((r, i) => relErr(got[i], r)),
    leakedTensors,
    leakedData,
  };
}
