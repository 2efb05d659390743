/** initBackend: the ladder, a forced backend (LVSEG_BACKEND), idempotence, and that training works on the chosen backend. */
import * as tf from '@tensorflow/tfjs';
import { isLvsegError } from '@lvseg/common';
import { initBackend, resetBackendChoiceForTests } from './backend';

const nodeBackendInstalled = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'].some((p) => {
  try {
    require.resolve(p);
    return true;
  } catch {
    return false;
  }
});

afterEach(() => resetBackendChoiceForTests());

describe('initBackend', () => {
  it('walks the ladder to the best backend present and registers the project kernels', async () => {
    const info = await initBackend({});
    expect(tf.getBackend()).toBe(info.name);
    if (nodeBackendInstalled) {
      expect(info.name).toBe('tensorflow');
    } else {
      expect(info).toMatchObject({ name: 'wasm', kind: 'wasm', simd: true, threads: 1 });
      expect(info.reason).toMatch(/tfjs-node-gpu not installed/);
      expect(info.reason).toMatch(/tfjs-node not installed/);
    }
    expect(info.kernels).toEqual(expect.arrayContaining(['wasm/Conv2DBackpropFilter', 'wasm/MaxPoolGrad', 'cpu/ResizeNearestNeighborGrad']));
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it('is idempotent: later calls return the first choice, whatever they ask', async () => {
    const first = await initBackend({});
    const again = await initBackend({ prefer: 'cpu', forced: 'cpu' });
    expect(again).toBe(first);
    expect(tf.getBackend()).toBe(first.name);
  });

  it('LVSEG_BACKEND forces a backend', async () => {
    const info = await initBackend({ forced: 'cpu' });
    expect(info).toMatchObject({ name: 'cpu', kind: 'cpu' });
    expect(info.reason).toMatch(/forced by LVSEG_BACKEND=cpu/);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('prefer starts the ladder lower down', async () => {
    const info = await initBackend({ prefer: 'cpu' });
    expect(info.name).toBe('cpu');
  });

  (nodeBackendInstalled ? it.skip : it)('LVSEG_BACKEND=tensorflow fails with a config error when tfjs-node is absent', async () => {
    const err = await initBackend({ forced: 'tensorflow' }).catch((e: unknown) => e);
    expect(isLvsegError(err, 'config')).toBe(true);
    expect(err).toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    expect(String((err as Error).message)).toMatch(/tfjs-node not installed/);
  });

  it('rejects an unknown forced backend (a caller bypassing the config schema)', async () => {
    const err = await initBackend({ forced: 'gpu' as 'cpu' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'config', code: 'BACKEND_UNKNOWN' });
  });

  it('trains a conv + pool + transposed-conv net on the wasm backend without leaking tensors', async () => {
    await initBackend({ forced: 'wasm' });
    const x = tf.randomNormal([2, 16, 12, 1], 0, 1, 'float32', 3);
    const w1 = tf.variable(tf.randomNormal([5, 5, 1, 4], 0, 0.3, 'float32', 4));
    const w2 = tf.variable(tf.randomNormal([4, 4, 2, 4], 0, 0.3, 'float32', 5));
    const target = tf.randomUniform([2, 16, 12, 2], 0, 1, 'float32', 6);
    const opt = tf.train.sgd(0.05);
    const loss = (): tf.Scalar =>
      tf.tidy(() => {
        const h = tf.maxPool(tf.relu(tf.conv2d(x as tf.Tensor4D, w1 as unknown as tf.Tensor4D, 1, 'same')), 2, 2, 'same');
        const y = tf.conv2dTranspose(h, w2 as unknown as tf.Tensor4D, [2, 16, 12, 2], 2, 'same');
        return tf.losses.meanSquaredError(target, y) as tf.Scalar;
      });
    const value = (): number => {
      const l = loss();
      const v = l.arraySync() as number;
      l.dispose();
      return v;
    };
    const before = tf.memory().numTensors;
    const first = value();
    for (let i = 0; i < 20; i++) opt.minimize(loss);
    const last = value();
    expect(tf.memory().numTensors).toBe(before);
    expect(last).toBeLessThan(first); // gradients flow through our filter/input/pool kernels
    tf.dispose([x, w1, w2, target]);
    opt.dispose();
  });
});
