/**
 * Kernel-level checks the gradient-parity spec does not reach: both phase modes of the Conv2DBackpropInput
 * decomposition, NCHW, and the wasm speed replacements (Sum, Identity, Concat/SplitV) against the cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilterComposed } from './kernels/conv2d-backprop-filter';
import { conv2dBackpropInputComposed } from './kernels/wasm-conv2d-backprop-input';
import { prepareBackends } from './testing/parity';
import { randomValues, relErr, rng, size } from './testing/reference';

const TOL = 1e-4;

beforeAll(async () => {
  const b = await prepareBackends();
  expect(b.available).toEqual(expect.arrayContaining(['wasm', 'cpu']));
});

/** Runs `f` on a backend with fresh tensors of the given values; returns the result's values. */
async function on(backend: string, f: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const r = f();
    return (Array.isArray(r) ? r : [r]).map((t) => t.dataSync() as Float32Array);
  });
}

const vals = (shape: number[], seed: number): Float32Array => Float32Array.from(randomValues(size(shape), rng(seed)));

describe('Conv2DBackpropInput decomposition (conv2dTranspose forward)', () => {
  const cases: { dy: number[]; w: number[]; inShape: [number, number, number, number]; s: number | [number, number]; pad: 'same' | 'valid' }[] = [
    { dy: [2, 4, 5, 3], w: [5, 5, 2, 3], inShape: [2, 8, 10, 2], s: 2, pad: 'same' },
    { dy: [2, 4, 3, 3], w: [3, 3, 2, 3], inShape: [2, 9, 7, 2], s: 2, pad: 'valid' },
    { dy: [2, 3, 3, 2], w: [7, 7, 2, 2], inShape: [2, 12, 12, 2], s: 4, pad: 'same' },
    { dy: [2, 4, 3, 3], w: [3, 4, 2, 3], inShape: [2, 8, 9, 2], s: [2, 3], pad: 'same' },
    { dy: [2, 4, 4, 3], w: [1, 1, 2, 3], inShape: [2, 8, 8, 2], s: 2, pad: 'same' }, // kernel < stride: empty phases
  ];
  for (const c of cases) {
    for (const mode of ['single', 'per-phase'] as const) {
      it(`${mode}: dy${JSON.stringify(c.dy)} w${JSON.stringify(c.w)} s${JSON.stringify(c.s)} ${c.pad} equals tfjs-cpu on wasm and cpu`, async () => {
        const dy = vals(c.dy, 1);
        const w = vals(c.w, 2);
        const [ref] = await on('cpu', () => tf.conv2dTranspose(tf.tensor4d(dy, c.dy as never), tf.tensor4d(w, c.w as never), c.inShape, c.s, c.pad));
        for (const b of ['wasm', 'cpu']) {
          const [got] = await on(b, () =>
            conv2dBackpropInputComposed(tf.tensor4d(dy, c.dy as never), tf.tensor4d(w, c.w as never), { strides: c.s, pad: c.pad, dataFormat: 'NHWC', inputShape: c.inShape }, mode),
          );
          expect({ backend: b, err: relErr(got, ref) <= TOL ? 'ok' : relErr(got, ref) }).toEqual({ backend: b, err: 'ok' });
        }
      });
    }
  }

  it('NCHW input and output equal the NHWC result transposed', async () => {
    const dy = vals([2, 4, 5, 3], 3);
    const w = vals([3, 3, 2, 3], 4);
    const [ref] = await on('cpu', () => tf.conv2dTranspose(tf.tensor4d(dy, [2, 4, 5, 3]), tf.tensor4d(w, [3, 3, 2, 3]), [2, 8, 10, 2], 2, 'same').transpose([0, 3, 1, 2]));
    const [got] = await on('wasm', () =>
      conv2dBackpropInputComposed(tf.tensor4d(dy, [2, 4, 5, 3]).transpose([0, 3, 1, 2]) as tf.Tensor4D, tf.tensor4d(w, [3, 3, 2, 3]), {
        strides: 2,
        pad: 'same',
        dataFormat: 'NCHW',
        inputShape: [2, 2, 8, 10],
      }),
    );
    expect(relErr(got, ref)).toBeLessThanOrEqual(TOL);
  });
});

describe('Conv2DBackpropFilter decomposition', () => {
  it('NCHW equals the NHWC result', async () => {
    const x = vals([2, 9, 7, 3], 5);
    const dy = vals([2, 5, 4, 4], 6);
    const attrs = { strides: 2, pad: 'same' as const, filterShape: [3, 3, 3, 4] as [number, number, number, number] };
    // tfjs-cpu's own filter gradient (NHWC): d/dw Σ dy · conv2d(x, w)
    const [ref] = await on('cpu', () =>
      tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(tf.tensor4d(x, [2, 9, 7, 3]), w as tf.Tensor4D, 2, 'same'), tf.tensor4d(dy, [2, 5, 4, 4]))))(
        tf.zeros([3, 3, 3, 4]),
      ),
    );
    const [got] = await on('wasm', () =>
      conv2dBackpropFilterComposed(tf.tensor4d(x, [2, 9, 7, 3]).transpose([0, 3, 1, 2]) as tf.Tensor4D, tf.tensor4d(dy, [2, 5, 4, 4]).transpose([0, 3, 1, 2]) as tf.Tensor4D, {
        ...attrs,
        dataFormat: 'NCHW',
      }),
    );
    expect(relErr(got, ref)).toBeLessThanOrEqual(TOL);
  });
});

describe('wasm speed replacements equal tfjs-cpu', () => {
  const x = vals([3, 5, 4, 6], 7);
  const sums: [string, number | number[], boolean][] = [
    ['N,H,W (fast path)', [0, 1, 2], false],
    ['N,H,W keepDims (fast path)', [2, 1, 0], true],
    ['N (fast path)', 0, false],
    ['H,W (stock)', [1, 2], true],
    ['all (stock)', [0, 1, 2, 3], false],
    ['C (stock)', -1, false],
  ];
  for (const [name, axis, keepDims] of sums) {
    it(`Sum over ${name}`, async () => {
      const f = (): tf.Tensor => tf.sum(tf.tensor4d(x, [3, 5, 4, 6]), axis, keepDims);
      const [ref] = await on('cpu', f);
      await tf.setBackend('wasm');
      const shape = tf.tidy(() => f().shape);
      const [got] = await on('wasm', f);
      expect(shape).toEqual(tf.tidy(() => tf.sum(tf.zeros([3, 5, 4, 6]), axis, keepDims).shape));
      expect(relErr(got, ref)).toBeLessThanOrEqual(1e-6);
    });
  }

  it('Sum of int32 goes to the stock kernel and stays int32', async () => {
    await tf.setBackend('wasm');
    const s = tf.tidy(() => tf.sum(tf.tensor3d([1, 2, 3, 4, 5, 6], [3, 1, 2], 'int32'), 0));
    expect(s.dtype).toBe('int32');
    expect(Array.from(s.dataSync())).toEqual([9, 12]);
    s.dispose();
  });

  it('Identity shares data: a clone outlives its source and frees the buffer with its last holder', async () => {
    await tf.setBackend('wasm');
    const buffers = tf.backend().numDataIds();
    const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const b = tf.clone(a);
    expect(tf.backend().numDataIds()).toBe(buffers + 1); // shared, not copied
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3, 4]);
    b.dispose();
    expect(tf.backend().numDataIds()).toBe(buffers);
  });

  const splits: [string, number[], number | number[], number][] = [
    ['channel axis, uneven sizes', [2, 3, 4, 7], [2, 5], 3],
    ['channel axis, -1 size, long runs', [2, 2, 2, 150], [70, -1, 10], 3],
    ['height axis, 3 equal parts', [2, 6, 3, 2], 3, 1],
  ];
  for (const [name, shape, sizes, axis] of splits) {
    it(`SplitV (${name}) and Concat back`, async () => {
      const v = vals(shape, 8);
      const f = (): tf.Tensor[] => {
        const parts = tf.split(tf.tensor(v, shape), sizes, axis);
        return [...parts, tf.concat(parts, axis)];
      };
      const ref = await on('cpu', f);
      const got = await on('wasm', f);
      expect(got.length).toBe(ref.length);
      got.forEach((g, i) => expect(relErr(g, ref[i])).toBe(0));
      expect(Array.from(got[got.length - 1])).toEqual(Array.from(v));
    });
  }
});
