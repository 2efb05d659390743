import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { buildModel } from './index';

/** Sample standard deviation of a tensor's values. */
function std(t: tf.Tensor): number {
  const v = t.dataSync();
  let s = 0, s2 = 0;
  for (const x of v) (s += x), (s2 += x * x);
  const m = s / v.length;
  return Math.sqrt(s2 / v.length - m * m);
}

describe('fcn-paper variants (issue 14: the NVIDIA DLI lab the paper follows)', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'cpu' });
  });

  it('draws every kernel from a truncated normal with stddev 0.1 when asked (Glorot otherwise)', () => {
    const lab = buildModel('fcn-paper', { seed: 3, size: 64, initializer: 'truncated-normal-0.1' });
    const glorot = buildModel('fcn-paper', { seed: 3, size: 64 });
    for (const name of ['conv1', 'conv2', 'conv3', 'conv4', 'score', 'upscore']) {
      const kernel = lab.getLayer(name).getWeights()[0];
      const values = kernel.dataSync();
      // A normal cut at 2 stddev has stddev 0.1 · 0.880 ≈ 0.088 and no value beyond ±0.2.
      expect(std(kernel)).toBeGreaterThan(0.08);
      expect(std(kernel)).toBeLessThan(0.096);
      expect((values as Float32Array).reduce((m: number, x: number) => Math.max(m, Math.abs(x)), 0)).toBeLessThanOrEqual(0.2 + 1e-6);
    }
    // Glorot uniform on conv4 (fan-in = fan-out = 3·3·300): limit sqrt(6 / 5400) ≈ 0.033, far below the lab's spread.
    expect(std(glorot.getLayer('conv4').getWeights()[0])).toBeLessThan(0.025);
    lab.dispose();
    glorot.dispose();
  });

  it('has no bias terms in the `none` variant, zero-initialised ones by default', () => {
    const none = buildModel('fcn-paper', { seed: 1, size: 64, bias: 'none' });
    const zero = buildModel('fcn-paper', { seed: 1, size: 64 });
    for (const name of ['conv1', 'conv2', 'conv3', 'conv4', 'score', 'upscore']) {
      expect(none.getLayer(name).getWeights()).toHaveLength(1);
      const [, bias] = zero.getLayer(name).getWeights();
      expect(Array.from(bias.dataSync()).every((b) => b === 0)).toBe(true);
    }
    // The variant survives serialisation: the layer config says so.
    expect((none.getLayer('conv1').getConfig() as { useBias: boolean }).useBias).toBe(false);
    none.dispose();
    zero.dispose();
  });

  it('refuses the variants for architectures that do not implement them', () => {
    expect(() => buildModel('unet-small', { size: 64, initializer: 'truncated-normal-0.1' })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_VARIANT' }));
    expect(() => buildModel('unet-tiny', { size: 64, bias: 'none' })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_VARIANT' }));
  });
});
