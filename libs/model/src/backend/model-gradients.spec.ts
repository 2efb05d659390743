/**
 * End-to-end check of the kernels under the project's real networks: the gradient of every trainable weight of
 * fcn-paper and unet-small (training mode, softmax cross-entropy) on wasm equals the one on cpu, whose conv input
 * gradients, pooling and concat gradients are tfjs' stock kernels (cpu's wrong resize gradients are not used here).
 */
import * as tf from '@tensorflow/tfjs';
import { buildModel } from '../architectures';
import { prepareBackends } from './testing/parity';
import { randomValues, relErr, rng } from './testing/reference';

beforeAll(async () => {
  const b = await prepareBackends();
  expect(b.available).toEqual(expect.arrayContaining(['wasm', 'cpu']));
});

for (const arch of ['fcn-paper', 'unet-small']) {
  it(`${arch}: weight gradients on wasm equal those on cpu (32×32, batch 2)`, async () => {
    await tf.setBackend('cpu');
    const model = buildModel(arch, { seed: 3, size: 32 });
    const rand = rng(11);
    const xv = Float32Array.from(randomValues(2 * 32 * 32, rand, 0, 1));
    const labels = Float32Array.from({ length: 2 * 32 * 32 * 2 }, (_, i) => ((i >> 1) % 7 < 3) === (i % 2 === 0) ? 1 : 0);
    const grads = async (backend: string): Promise<Map<string, Float32Array>> => {
      await tf.setBackend(backend); // variables follow lazily
      const x = tf.tensor4d(xv, [2, 32, 32, 1]);
      const y = tf.tensor4d(labels, [2, 32, 32, 2]);
      const { value, grads: g } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
        model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val),
      );
      const out = new Map(Object.entries(g).map(([k, t]) => [k, t.dataSync() as Float32Array]));
      tf.dispose([x, y, value, ...Object.values(g)]);
      return out;
    };
    const ref = await grads('cpu');
    const got = await grads('wasm');
    model.dispose();
    expect([...got.keys()].sort()).toEqual([...ref.keys()].sort());
    const bad = [...ref.entries()]
      .map(([name, r]) => ({ name, err: relErr(got.get(name) as Float32Array, r) }))
      .filter((e) => !(e.err <= 1e-4)); // measured ≤ 2e-6: float32 sums in different orders
    expect(bad).toEqual([]);
  });
}
