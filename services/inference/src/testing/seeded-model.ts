/** Test support: publishing real (untrained, seeded) tfjs models into a real model store, as the trainer would. */
import * as tf from '@tensorflow/tfjs';
import { sha256Hex } from '@lvseg/common';
import { CASCADE_ARCHITECTURE, DEFAULT_CASCADE_SPEC, LvModel, buildModel, lvModelToFiles, lvParameterCount, disposeLvModel } from '@lvseg/model';
import { resizeBilinear } from '@lvseg/imaging';
import type { ModelCard, ModelStore } from '@lvseg/model-store';

/** Builds `architecture` with seeded weights and publishes it; the card says plainly that it is untrained. */
export async function publishSeededModel(
  store: ModelStore,
  opts: {
    architecture?: string;
    seed?: number;
    /** Make the untrained net's masks structured (see makeDecisive), calibrated on `probe` (a model input) if given. */
    decisive?: boolean;
    probe?: Float32Array;
  } = {},
): Promise<ModelCard> {
  const architecture = opts.architecture ?? 'fcn-paper';
  const seed = opts.seed ?? 1;
  const model = buildSeeded(architecture, seed, opts.decisive ? (opts.probe ?? syntheticProbe(256)) : undefined);
  try {
    const files = await lvModelToFiles(model);
    return await store.publish({
      architecture,
      parameterCount: lvParameterCount(model),
      inputShape: [256, 256, 1],
      classes: ['background', 'lv'],
      preprocessing: { normalize: { lowPercentile: 0.5, highPercentile: 99.5 }, resize: 'bilinear 256x256' },
      hyperParameters: { seed },
      data: { manifestSha256: sha256Hex(`untrained seed ${seed}`), trainImages: 0, valImages: 0 },
      metrics: { val: { dice: 0, pixelAccuracy: 0 } },
      backend: tf.getBackend(),
      trainingTimeMs: 0,
      gitCommit: 'test',
      notes: `untrained ${architecture}, seed ${seed}${opts.decisive ? ', decisive (random biases, scaled score)' : ''}: test fixture`,
      files,
    });
  } finally {
    disposeLvModel(model);
  }
}

/**
 * A seeded model of an architecture; a `cascade` is an unet-tiny localiser and an unet-small segmenter (both
 * size-agnostic). With a probe (a 256² model input), each network is made decisive on it at its own input size.
 */
function buildSeeded(architecture: string, seed: number, probe?: Float32Array): LvModel {
  const at = (size: number) => (probe ? resizeBilinear(probe, 256, 256, size, size) : undefined);
  if (architecture !== CASCADE_ARCHITECTURE) {
    const model = buildModel(architecture, { seed });
    if (probe) makeDecisive(model, seed, probe, 256);
    return { kind: 'single', architecture, model };
  }
  const spec = DEFAULT_CASCADE_SPEC;
  const localiser = buildModel('unet-tiny', { seed, size: null });
  const segmenter = buildModel('unet-small', { seed: seed + 1, size: null });
  if (probe) {
    makeDecisive(localiser, seed, at(spec.localiserSize), spec.localiserSize);
    makeDecisive(segmenter, seed + 1, at(spec.segmenterSize), spec.segmenterSize);
  }
  return { kind: 'cascade', localiser, segmenter, spec };
}

/**
 * An untrained net's logits are ~0.01 (zero biases, variance-preserving init), so its LV probability is 0.5 ± 0.003
 * everywhere and the 0.5 threshold draws noise. Seeded biases of ±0.1, then the last (linear) layer scaled so the
 * LV-minus-background logit has a standard deviation of 4 on a probe image and shifted so 20 % of the probe is LV:
 * masks with real structure, most pixels far from the threshold.
 */
function makeDecisive(model: tf.LayersModel, seed: number, probe: Float32Array | undefined, size: number): void {
  let t = seed >>> 0;
  const rand = () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
  tf.tidy(() => {
    for (const layer of model.layers) {
      const w = layer.getWeights();
      if (w.length === 2 && w[1].rank === 1) layer.setWeights([w[0], tf.tensor1d(Float32Array.from({ length: w[1].size }, () => (rand() - 0.5) * 0.2))]);
    }
  });
  const input = probe ?? syntheticProbe(size);
  const lvMinusBackground = () =>
    tf.tidy(() => {
      const logits = model.predict(tf.tensor4d(input, [1, size, size, 1])) as tf.Tensor;
      return tf.sub(logits.slice([0, 0, 0, 1], [-1, -1, -1, 1]), logits.slice([0, 0, 0, 0], [-1, -1, -1, 1])).dataSync() as Float32Array;
    });
  const last = model.layers[model.layers.length - 1];
  const d = lvMinusBackground();
  const mean = d.reduce((a, b) => a + b, 0) / d.length;
  const std = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / d.length);
  tf.tidy(() => last.setWeights(last.getWeights().map((w) => w.mul(4 / std))));
  const shift = Float32Array.from(lvMinusBackground()).sort()[Math.floor(0.8 * d.length)];
  tf.tidy(() => {
    const [kernel, bias] = last.getWeights();
    last.setWeights([kernel, bias.sub(tf.tensor1d([0, shift]))]);
  });
}

/** A bright disc on a dim ramp: something like a blood pool in a field (when no real image is given). */
function syntheticProbe(size: number): Float32Array {
  const data = new Float32Array(size * size);
  for (let i = 0; i < data.length; i++) data[i] = Math.hypot((i % size) - size / 2, Math.floor(i / size) - size / 2) < size / 8 ? 1 : (i % size) / size / 2;
  return data;
}
