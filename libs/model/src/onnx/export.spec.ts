/**
 * The exported ONNX graph, run by the real onnxruntime-node, against the same tfjs model run by tfjs (the backend the
 * project picks: wasm here, cpu as fallback), on random inputs and on real normalised Sunnybrook DICOMs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { LvsegError, dataRoot, SeededRandom } from '@lvseg/common';
import { decodeDicom, toModelInput } from '@lvseg/imaging';
import { buildModel } from '../architectures';
import { initBackend } from '../backend';
import { exportToOnnx } from './export';

const TOLERANCE = 1e-4;
const DICOMS = ['SCD0000101/48.dcm', 'SCD0000201/80.dcm', 'SCD0000401/100.dcm'].map((f) => join(dataRoot(), 'sunnybrook-dicom', f));

/** SeededRandom (mulberry32): seeded inputs, so a failure reproduces. */
function seeded(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.next();
}

function tfjsPredict(model: tf.LayersModel, x: Float32Array, shape: number[]): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor(x, shape)) as tf.Tensor).dataSync() as Float32Array);
}

async function ortRun(session: ort.InferenceSession, x: Float32Array, shape: number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, shape) });
  const t = out[session.outputNames[0]];
  return { data: t.data as Float32Array, dims: t.dims };
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Non-zero biases everywhere (the initialisers leave them at 0, which would hide a bias mapped wrongly), then the
 * last (linear) layer scaled so the largest logit is about 5: a 1e-4 bound on outputs of 0.01 would prove little.
 */
function makeOutputsSignificant(model: tf.LayersModel, seed: number, probe: Float32Array, shape: number[]): void {
  const rand = seeded(seed);
  tf.tidy(() => {
    for (const layer of model.layers) {
      const weights = layer.getWeights();
      if (weights.length === 0) continue;
      layer.setWeights(weights.map((w, i) => (i === 1 && w.rank === 1 ? tf.tensor1d(Float32Array.from({ length: w.size }, () => (rand() - 0.5) * 0.2)) : w)));
    }
  });
  const m = maxAbs(tfjsPredict(model, probe, shape));
  const last = model.layers[model.layers.length - 1];
  tf.tidy(() => last.setWeights(last.getWeights().map((w) => w.mul(5 / m))));
}

const missingDicom = DICOMS.find((f) => !existsSync(f));
// A test that cannot run has passed nothing: skipped with the reason here, a failure under CI.
if (missingDicom) {
  const reason = `no ${missingDicom} (set LVSEG_DATA_DIR to the folder holding sunnybrook-dicom/)`;
  if (process.env.CI === 'true') throw new Error(`the real-DICOM ONNX parity cannot run under CI: ${reason}`);
  // eslint-disable-next-line no-console
  console.warn(`skipping the real-DICOM ONNX parity: ${reason}`);
}
const itWithDicoms = missingDicom ? it.skip : it;
const realInputs = (): Float32Array[] => DICOMS.map((f) => toModelInput(decodeDicom(readFileSync(f)).image));

describe('exportToOnnx', () => {
  let backend = '';
  beforeAll(async () => {
    backend = (await initBackend({ prefer: 'wasm' })).name;
  });

  describe.each(['fcn-paper', 'unet-small'])('%s (seeded weights, random biases)', (arch) => {
    let model: tf.LayersModel;
    let session: ort.InferenceSession;
    const size = 256;
    const random = (n: number, seed: number) => {
      const r = seeded(seed);
      return Float32Array.from({ length: n * size * size }, () => r());
    };

    beforeAll(async () => {
      model = buildModel(arch, { seed: 11 });
      makeOutputsSignificant(model, 5, random(1, 99), [1, size, size, 1]);
      session = await ort.InferenceSession.create(exportToOnnx(model), { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
    });
    afterAll(async () => {
      await session?.release();
      model?.dispose();
    });

    it.each([1, 3])('gives the tfjs logits within 1e-4 on random inputs, batch %i', async (n) => {
      const x = random(n, 100 + n);
      const shape = [n, size, size, 1];
      const expected = tfjsPredict(model, x, shape);
      const got = await ortRun(session, x, shape);
      expect(got.dims).toEqual([n, size, size, 2]);
      const diff = maxAbsDiff(got.data, expected);
      // eslint-disable-next-line no-console
      console.log(`${arch} random batch ${n} on ${backend}: max |onnx - tfjs| = ${diff.toExponential(2)}, max |logit| = ${maxAbs(expected).toFixed(2)}`);
      expect(maxAbs(expected)).toBeGreaterThan(1);
      expect(diff).toBeLessThanOrEqual(TOLERANCE);
    });

    itWithDicoms.each([1, 3])('gives the tfjs logits within 1e-4 on real normalised DICOMs, batch %i', async (n) => {
      const inputs = realInputs();
      const x = new Float32Array(n * size * size);
      inputs.slice(0, n).forEach((a, k) => x.set(a, k * size * size));
      const shape = [n, size, size, 1];
      const expected = tfjsPredict(model, x, shape);
      const diff = maxAbsDiff((await ortRun(session, x, shape)).data, expected);
      // eslint-disable-next-line no-console
      console.log(`${arch} real DICOMs batch ${n} on ${backend}: max |onnx - tfjs| = ${diff.toExponential(2)}, max |logit| = ${maxAbs(expected).toFixed(2)}`);
      expect(diff).toBeLessThanOrEqual(TOLERANCE);
    });

    it('with output class-probability gives the softmax LV channel as [N, H, W]', async () => {
      const probSession = await ort.InferenceSession.create(exportToOnnx(model, { output: { kind: 'class-probability', classIndex: 1 } }));
      try {
        const x = random(2, 7);
        const shape = [2, size, size, 1];
        const expected = tf.tidy(() => tf.softmax(model.predict(tf.tensor(x, shape)) as tf.Tensor, -1).slice([0, 0, 0, 1], [-1, -1, -1, 1]).dataSync() as Float32Array);
        const got = await ortRun(probSession, x, shape);
        expect(got.dims).toEqual([2, size, size]);
        expect(maxAbsDiff(got.data, expected)).toBeLessThanOrEqual(TOLERANCE);
      } finally {
        await probSession.release();
      }
    });
  });

  it('class-probability matches the tfjs softmax for 3 classes and logits of ±200 (no NaN, no overflow)', async () => {
    const input = tf.input({ shape: [4, 5, 1] });
    const conv = tf.layers.conv2d({ filters: 3, kernelSize: 1, kernelInitializer: tf.initializers.constant({ value: 0 }) });
    const model = tf.model({ inputs: input, outputs: conv.apply(input) as tf.SymbolicTensor });
    tf.tidy(() => conv.setWeights([tf.tensor4d([200, -200, 1], [1, 1, 1, 3]), tf.tensor1d([0, 0, 0.5])]));
    const session = await ort.InferenceSession.create(exportToOnnx(model, { output: { kind: 'class-probability', classIndex: 2 } }));
    try {
      const x = Float32Array.from({ length: 20 }, (_, i) => (i - 10) / 5); // -2 … 1.8: logits from -400 to +360
      const expected = tf.tidy(() => tf.softmax(model.predict(tf.tensor4d(x, [1, 4, 5, 1])) as tf.Tensor, -1).slice([0, 0, 0, 2], [-1, -1, -1, 1]).dataSync() as Float32Array);
      const got = await ortRun(session, x, [1, 4, 5, 1]);
      expect(got.dims).toEqual([1, 4, 5]);
      expect(got.data.every(Number.isFinite)).toBe(true);
      expect(maxAbsDiff(got.data, expected)).toBeLessThanOrEqual(1e-6);
    } finally {
      await session.release();
      model.dispose();
    }
  });

  it('writes a well-formed ONNX file (opset 13, NHWC in and out) with TF "same" pads: more at the end', () => {
    const model = buildModel('fcn-paper', { seed: 1 });
    try {
      const decoded = onnx.ModelProto.decode(exportToOnnx(model));
      expect(Number(decoded.irVersion)).toBe(7);
      expect(decoded.opsetImport.map((o) => Number(o.version))).toEqual([13]);
      const g = decoded.graph as onnx.GraphProto;
      const dims = (v: onnx.IValueInfoProto) => v.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue));
      expect(g.input.map(dims)).toEqual([['batch', 256, 256, 1]]);
      expect(g.output.map(dims)).toEqual([['batch', 256, 256, 2]]);
      const attr = (opType: string, name: string) => {
        const node = g.node.filter((n) => n.opType === opType);
        return node.map((n) => n.attribute?.find((a) => a.name === name)?.ints?.map(Number));
      };
      // conv1: 5×5 stride 2 on 256: TF pads 3 in total (out 128, (128-1)·2 + 5 - 256 = 3), 1 before and 2 after.
      // conv2: 5×5/2 on 64 → 32: (32-1)·2 + 5 - 64 = 3 → 1, 2. 3×3/1 convs: 1, 1. 1×1: none.
      expect(attr('Conv', 'pads')).toEqual([[1, 1, 2, 2], [1, 1, 2, 2], [1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]]);
      expect(attr('MaxPool', 'pads')).toEqual([[0, 0, 0, 0], [0, 0, 0, 0]]);
      // upscore: 31×31 stride 16, 16 → 256. TF crops max(31 - 16, 0) = 15 of the (16-1)·16 + 31 = 271: 7 before, 8 after.
      expect(attr('ConvTranspose', 'pads')).toEqual([[7, 7, 8, 8]]);
      expect(attr('ConvTranspose', 'output_padding')).toEqual([[0, 0]]);
      expect(g.node[0].opType).toBe('Transpose');
      expect(g.node[g.node.length - 1].opType).toBe('Transpose');
      const weights = g.initializer.find((t) => t.name === 'upscore_W');
      expect(weights?.dims?.map(Number)).toEqual([2, 2, 31, 31]);
    } finally {
      model.dispose();
    }
  });

  it('maps the other supported layers at odd sizes (asymmetric pads, k < stride, BN, pools, activations, Add)', async () => {
    const rand = seeded(3);
    const init = () => tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: Math.floor(rand() * 1e6) });
    const input = tf.input({ shape: [37, 41, 2] });
    const conv = (x: tf.SymbolicTensor, args: Partial<Parameters<typeof tf.layers.conv2d>[0]>) =>
      tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: init(), biasInitializer: init(), ...args }).apply(x) as tf.SymbolicTensor;
    let x = conv(input, { strides: 2, kernelSize: 4, activation: 'elu' }); // 19×21, pads 1/2 and 1/2
    const bn = tf.layers.batchNormalization({ epsilon: 0.01, movingMeanInitializer: init(), gammaInitializer: init(), betaInitializer: init(), movingVarianceInitializer: tf.initializers.ones() });
    x = bn.apply(x) as tf.SymbolicTensor;
    x = tf.layers.leakyReLU({ alpha: 0.2 }).apply(x) as tf.SymbolicTensor;
    const a = tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor; // 10×11
    const m = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.add().apply([a, m]) as tf.SymbolicTensor;
    x = conv(x, { dilationRate: 2, activation: 'tanh' });
    x = tf.layers.dropout({ rate: 0.5 }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reLU({ maxValue: 0.3 }).apply(x) as tf.SymbolicTensor;
    const up = tf.layers.conv2dTranspose({ filters: 3, kernelSize: 2, strides: 3, padding: 'same', kernelInitializer: init(), biasInitializer: init() }).apply(x) as tf.SymbolicTensor; // k < stride
    const upValid = tf.layers.conv2dTranspose({ filters: 3, kernelSize: 5, strides: 3, padding: 'valid', kernelInitializer: init(), activation: 'relu6' }).apply(x) as tf.SymbolicTensor;
    const crop = conv(upValid, { filters: 3, kernelSize: 3, padding: 'valid', activation: 'sigmoid' }); // 32×35 → 30×33
    x = tf.layers.concatenate().apply([up, crop]) as tf.SymbolicTensor;
    x = tf.layers.activation({ activation: 'softmax' }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: x });
    expect(model.outputs[0].shape).toEqual([null, 30, 33, 6]);
    const session = await ort.InferenceSession.create(exportToOnnx(model));
    try {
      const shape = [3, 37, 41, 2];
      const xs = Float32Array.from({ length: 3 * 37 * 41 * 2 }, () => rand() * 4 - 2);
      const expected = tfjsPredict(model, xs, shape);
      const got = await ortRun(session, xs, shape);
      expect(got.dims).toEqual([3, 30, 33, 6]);
      expect(maxAbsDiff(got.data, expected)).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      await session.release();
      model.dispose();
    }
  });

  it('exports a size-agnostic model (auto_pad for unknown sizes) that runs at other sizes', async () => {
    const model = buildModel('unet-small', { seed: 2, size: null });
    const session = await ort.InferenceSession.create(exportToOnnx(model));
    try {
      const shape = [2, 64, 96, 1];
      const r = seeded(8);
      const x = Float32Array.from({ length: 2 * 64 * 96 }, () => r());
      const got = await ortRun(session, x, shape);
      expect(got.dims).toEqual([2, 64, 96, 2]);
      expect(maxAbsDiff(got.data, tfjsPredict(model, x, shape))).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      await session.release();
      model.dispose();
    }
  });

  it.each([
    ['a Dense layer', () => tf.layers.dense({ units: 2 }), 'ONNX_UNSUPPORTED_LAYER', /"[^"]+" is a Dense/],
    ['an UpSampling2D layer', () => tf.layers.upSampling2d({ size: [2, 2] }), 'ONNX_UNSUPPORTED_LAYER', /is a UpSampling2D/],
    ['an unmapped activation', () => tf.layers.conv2d({ filters: 2, kernelSize: 1, activation: 'selu' }), 'ONNX_UNSUPPORTED_LAYER', /activation "selu"/],
    ['channels-first data', () => tf.layers.conv2d({ filters: 2, kernelSize: 1, dataFormat: 'channelsFirst' }), 'ONNX_UNSUPPORTED_LAYER', /channelsFirst/],
  ])('refuses %s with a typed LvsegError', (_what, layer, code, message) => {
    const input = tf.input({ shape: [8, 8, 1] });
    const model = tf.model({ inputs: input, outputs: layer().apply(input) as tf.SymbolicTensor });
    try {
      let err: unknown;
      try {
        exportToOnnx(model);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(LvsegError);
      expect(err).toMatchObject({ kind: 'unsupported', code });
      expect((err as Error).message).toMatch(message);
    } finally {
      model.dispose();
    }
  });

  it('refuses a model with two outputs', () => {
    const input = tf.input({ shape: [8, 8, 1] });
    const a = tf.layers.conv2d({ filters: 1, kernelSize: 1 }).apply(input) as tf.SymbolicTensor;
    const b = tf.layers.conv2d({ filters: 1, kernelSize: 1 }).apply(input) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: [a, b] });
    try {
      expect(() => exportToOnnx(model)).toThrow(expect.objectContaining({ kind: 'unsupported', code: 'ONNX_EXPORT_UNSUPPORTED' }));
    } finally {
      model.dispose();
    }
  });
});
