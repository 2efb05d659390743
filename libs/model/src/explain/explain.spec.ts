import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { SeededRandom } from '@lvseg/common';
import { initBackend } from '../backend';
import { buildModel, heatmapLayers } from '../architectures';
import { assertLayerNames, layerActivationMaps } from './activations';
import { gradCam } from './grad-cam';
import { feedInputs, modelOutputs, runLayers } from './graph-executor';
import { colorizeRgba, jetColor, overlayRgba, scaleToUnit } from './colormap';
import { renderHeatmap } from './render';

function randomInput(size: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: size * size }, () => rng.next());
}

/** input (size×size×1) → 1×1 conv 'feat' (linear, given per-channel weights) → 1×1 conv 'score' (2 classes, given weights). */
function linearModel(size: number, featWeights: number[], scoreWeights: number[][]): tf.LayersModel {
  const input = tf.input({ shape: [size, size, 1], name: 'image' });
  const feat = tf.layers.conv2d({ name: 'feat', filters: featWeights.length, kernelSize: 1, useBias: false });
  const score = tf.layers.conv2d({ name: 'score', filters: 2, kernelSize: 1, useBias: false });
  const out = score.apply(feat.apply(input)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  feat.setWeights([tf.tensor4d(featWeights, [1, 1, 1, featWeights.length])]);
  score.setWeights([tf.tensor4d(scoreWeights.flat(), [1, 1, featWeights.length, 2])]);
  return model;
}

describe('explain', () => {
  beforeAll(async () => {
    await initBackend();
  });

  describe('graph executor', () => {
    /** input → conv → batch norm (non-trivial moving statistics) → relu, and a skip joined back by concatenation. */
    function batchNormModel(size: number): tf.LayersModel {
      const input = tf.input({ shape: [size, size, 1], name: 'image' });
      const conv = tf.layers.conv2d({ name: 'conv', filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
      const bnLayer = tf.layers.batchNormalization({ name: 'bn' });
      const bn = bnLayer.apply(conv) as tf.SymbolicTensor;
      const act = tf.layers.reLU({ name: 'act' }).apply(bn) as tf.SymbolicTensor;
      const joined = tf.layers.concatenate({ name: 'skip' }).apply([act, input]) as tf.SymbolicTensor;
      const out = tf.layers.conv2d({ name: 'score', filters: 2, kernelSize: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(joined) as tf.SymbolicTensor;
      const model = tf.model({ inputs: input, outputs: out });
      // gamma, beta, moving mean, moving variance far from their defaults, so training-mode statistics would differ.
      bnLayer.setWeights([tf.tensor1d([1.5, 0.5, 2, 1]), tf.tensor1d([0.1, -0.2, 0.3, 0]), tf.tensor1d([0.4, -0.3, 0.2, 0.1]), tf.tensor1d([2, 0.5, 3, 1.5])]);
      return model;
    }

    it.each([
      ['unet-small', 32],
      ['fcn-paper', 64],
      ['batch norm + skip', 16],
    ])('running %s layer by layer gives model.predict’s output', (arch, size) => {
      const model = arch === 'batch norm + skip' ? batchNormModel(size) : buildModel(arch, { seed: 3, size });
      const input = randomInput(size, 5);
      const before = tf.memory().numTensors;
      const [viaPredict, viaExecutor] = tf.tidy(() => {
        const x = tf.tensor4d(input, [1, size, size, 1]);
        const expected = model.predict(x) as tf.Tensor;
        const [got] = modelOutputs(model, runLayers(model, feedInputs(model, [x])));
        return [expected.dataSync().slice(), got.dataSync().slice()];
      });
      expect(tf.memory().numTensors).toBe(before);
      let maxDiff = 0;
      for (let i = 0; i < viaPredict.length; i++) maxDiff = Math.max(maxDiff, Math.abs(viaPredict[i] - viaExecutor[i]));
      expect(maxDiff).toBeLessThan(1e-5);
      model.dispose();
    });
  });

  describe('layerActivationMaps', () => {
    it('is the channel mean (or max) of the layer output', () => {
      const size = 8;
      const model = linearModel(size, [1, 2, 3], [[0, 1], [0, 1], [0, 1]]);
      const input = randomInput(size, 1);
      const [mean] = layerActivationMaps(model, input, ['feat'], { size });
      const [max] = layerActivationMaps(model, input, ['feat'], { size, reduce: 'max' });
      expect([mean.rows, mean.columns, mean.channels]).toEqual([8, 8, 3]);
      for (let i = 0; i < input.length; i++) {
        expect(mean.data[i]).toBeCloseTo(2 * input[i], 5); // (1 + 2 + 3) / 3
        expect(max.data[i]).toBeCloseTo(3 * input[i], 5); // inputs are ≥ 0
      }
      model.dispose();
    });

    it('gives every fcn-paper heatmap layer at the resolution its strides imply, leaking no tensors', () => {
      const model = buildModel('fcn-paper', { seed: 1 });
      const input = randomInput(256, 2);
      const before = tf.memory().numTensors;
      const maps = layerActivationMaps(model, input, heatmapLayers('fcn-paper'));
      expect(tf.memory().numTensors).toBe(before);
      // conv1 /2, pool1 /4, conv2 /8, pool2 /16, conv3..score stay /16, upscore ×16 back to 256.
      expect(maps.map((m) => [m.layer, m.rows, m.columns, m.channels])).toEqual([
        ['conv1', 128, 128, 100],
        ['pool1', 64, 64, 100],
        ['conv2', 32, 32, 200],
        ['pool2', 16, 16, 200],
        ['conv3', 16, 16, 300],
        ['conv4', 16, 16, 300],
        ['score', 16, 16, 2],
        ['upscore', 256, 256, 2],
      ]);
      for (const m of maps) expect(m.data.every(Number.isFinite)).toBe(true);
      model.dispose();
    });

    it('names the unknown layers and the valid ones', () => {
      const model = buildModel('unet-small', { seed: 1, size: 32 });
      expect(() => assertLayerNames(model, ['enc1', 'nope'], heatmapLayers('unet-small'))).toThrow(/unknown layer "nope"; valid layers: enc1, enc2/);
      model.dispose();
    });
  });

  describe('gradCam', () => {
    it('matches the closed form for a linear model: ReLU(|R|/HW · Σ_k a_k w_k · x)', () => {
      const size = 8;
      // feat = [1·x, -1·x]; LV logit = 2·feat0 + 0.5·feat1, so d(score)/d(feat_k) = a_k on the region.
      const model = linearModel(size, [1, -1], [[0, 2], [0, 0.5]]);
      const input = randomInput(size, 9);
      const region = new Uint8Array(size * size);
      for (let i = 0; i < 16; i++) region[i * 3] = 1;
      const cam = gradCam(model, input, 'feat', region, { size });
      expect(cam.region).toBe('predicted');
      expect(cam.regionPixels).toBe(16);
      const coefficient = (16 / 64) * (2 * 1 + 0.5 * -1);
      for (let i = 0; i < input.length; i++) expect(cam.data[i]).toBeCloseTo(Math.max(0, coefficient * input[i]), 5);

      const whole = gradCam(model, input, 'feat', new Uint8Array(size * size), { size });
      expect(whole.region).toBe('whole-image');
      for (let i = 0; i < input.length; i++) expect(whole.data[i]).toBeCloseTo(Math.max(0, 1.5 * input[i]), 5);
      model.dispose();
    });

    it('at fcn-paper’s score layer equals finite differences through upscore (computed with the public layer API)', () => {
      const size = 64;
      const model = buildModel('fcn-paper', { seed: 2, size });
      const input = randomInput(size, 4);
      const region = new Uint8Array(size * size);
      for (let r = 20; r < 40; r++) for (let c = 24; c < 44; c++) region[r * size + c] = 1;
      const before = tf.memory().numTensors;
      const cam = gradCam(model, input, 'score', region, { size });
      expect(tf.memory().numTensors).toBe(before);

      // Independent check: upscore is linear in the score map, so the spatial mean of the gradient for channel k is
      // exactly (S(A + ε·1_k) − S(A)) / (ε·h·w), with S = Σ_region LV logit.
      const expected = tf.tidy(() => {
        const x = tf.tensor4d(input, [1, size, size, 1]);
        const a = tf.model({ inputs: model.inputs, outputs: model.getLayer('score').output as tf.SymbolicTensor }).predict(x) as tf.Tensor4D;
        const upscore = model.getLayer('upscore');
        const w = tf.tensor4d(Float32Array.from(region), [1, size, size, 1]);
        const s = (t: tf.Tensor) => (upscore.apply(t) as tf.Tensor).slice([0, 0, 0, 1], [-1, -1, -1, 1]).mul(w).sum().dataSync()[0];
        const [, h, wd, channels] = a.shape;
        const eps = 1;
        const alphas = Array.from({ length: channels }, (_, k) => {
          const bump = tf.oneHot(tf.fill([1, h, wd], k, 'int32'), channels).toFloat().mul(eps);
          return (s(a.add(bump)) - s(a)) / (eps * h * wd);
        });
        return tf.relu(a.mul(tf.tensor1d(alphas)).sum(-1)).dataSync().slice();
      });
      expect([cam.rows, cam.columns]).toEqual([4, 4]);
      expect(Math.max(...expected)).toBeGreaterThan(0); // a non-trivial map, not 0 = 0
      const scale = Math.max(...expected, 1e-6);
      for (let i = 0; i < expected.length; i++) expect(Math.abs(cam.data[i] - expected[i]) / scale).toBeLessThan(1e-3);
      model.dispose();
    });

    it('at the logits layer is ReLU(|R|/HW · LV logit)', () => {
      const size = 64;
      const model = buildModel('fcn-paper', { seed: 7, size });
      const input = randomInput(size, 8);
      const region = new Uint8Array(size * size);
      region.fill(1, 0, 1024);
      const cam = gradCam(model, input, 'upscore', region, { size });
      const logits = tf.tidy(() => (model.predict(tf.tensor4d(input, [1, size, size, 1])) as tf.Tensor).slice([0, 0, 0, 1], [-1, -1, -1, 1]).dataSync().slice());
      for (let i = 0; i < logits.length; i++) expect(cam.data[i]).toBeCloseTo(Math.max(0, (1024 / 4096) * logits[i]), 4);
      model.dispose();
    });

    it('works through the U-Net (skip connections) without leaking tensors', () => {
      const model = buildModel('unet-small', { seed: 1, size: 32 });
      const before = tf.memory().numTensors;
      for (const layer of ['enc2', 'bottleneck', 'dec1']) {
        const cam = gradCam(model, randomInput(32, 3), layer, null, { size: 32 });
        expect(cam.data.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
      }
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    });
  });

  describe('colour mapping and rendering', () => {
    it('jet runs dark blue → green-ish middle → dark red (MATLAB jet end points)', () => {
      expect(jetColor(0)).toEqual([0, 0, 128]);
      expect(jetColor(0.5)).toEqual([128, 255, 128]);
      expect(jetColor(1)).toEqual([128, 0, 0]);
      expect(jetColor(-3)).toEqual(jetColor(0));
    });

    it('scales to [0, 1], constant maps to zeros', () => {
      expect(Array.from(scaleToUnit(Float32Array.from([2, 4, 6])))).toEqual([0, 0.5, 1]);
      expect(Array.from(scaleToUnit(Float32Array.from([2, 4]), { zeroBased: true }))).toEqual([0.5, 1]);
      expect(Array.from(scaleToUnit(Float32Array.from([3, 3])))).toEqual([0, 0]);
    });

    it('overlays: no heat shows the image, full heat mixes 60 % colour', () => {
      const out = overlayRgba(Float32Array.from([0.5, 0.5]), Float32Array.from([0, 1]));
      expect(Array.from(out.slice(0, 4))).toEqual([128, 128, 128, 255]);
      expect(Array.from(out.slice(4, 8))).toEqual([Math.round(127.5 * 0.4 + 128 * 0.6), Math.round(127.5 * 0.4), Math.round(127.5 * 0.4), 255]);
      expect(colorizeRgba(Float32Array.from([1])).length).toBe(4);
    });

    it('renders a layer map upsampled to the image as two PNGs', () => {
      const image = { rows: 6, columns: 10, data: Float32Array.from({ length: 60 }, (_, i) => i) };
      const map = { rows: 2, columns: 2, data: Float32Array.from([0, 1, 0, 1]) }; // cold left, hot right
      const { png, overlayPng } = renderHeatmap(map, image);
      for (const bytes of [png, overlayPng]) {
        const decoded = PNG.sync.read(bytes);
        expect([decoded.height, decoded.width]).toEqual([6, 10]);
      }
      const heat = PNG.sync.read(png).data;
      const px = (r: number, c: number) => Array.from(heat.subarray((r * 10 + c) * 4, (r * 10 + c) * 4 + 3));
      expect(px(3, 0)).toEqual(jetColor(0));
      expect(px(3, 9)).toEqual(jetColor(1));
    });
  });
});

describe('gradCam on a size-agnostic model (trained on crops, declared input null×null)', () => {
  beforeAll(async () => {
    await initBackend();
  });

  it('takes the predicted region at the input size instead of refusing it', () => {
    const model = buildModel('unet-small', { seed: 3, size: null });
    const size = 64;
    const input = Float32Array.from({ length: size * size }, (_, i) => ((i * 37) % 101) / 100);
    const region = new Uint8Array(size * size);
    for (let r = 20; r < 40; r++) for (let c = 20; c < 40; c++) region[r * size + c] = 1;
    const cam = gradCam(model, input, 'dec1', region, { size });
    expect([cam.rows, cam.columns]).toEqual([size, size]);
    expect(cam.regionPixels).toBe(400);
    expect(cam.data.some((v) => v > 0)).toBe(true);
    model.dispose();
  });
});
