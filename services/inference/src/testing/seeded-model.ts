/** Test support: publishing real (untrained, seeded) tfjs models into a real model store, as the trainer would. */
import * as tf from '@tensorflow/tfjs';
import { sha256Hex } from '@lvseg/common';
import { buildModel, modelToFiles } from '@lvseg/model';
import type { ModelCard, ModelStore } from '@lvseg/model-store';

/** Builds `architecture` with seeded weights and publishes it; the card says plainly that it is untrained. */
export async function publishSeededModel(store: ModelStore, opts: { architecture?: string; seed?: number } = {}): Promise<ModelCard> {
  const architecture = opts.architecture ?? 'fcn-paper';
  const seed = opts.seed ?? 1;
  const model = buildModel(architecture, { seed });
  try {
    const files = await modelToFiles(model);
    return await store.publish({
      architecture,
      parameterCount: model.countParams(),
      inputShape: [256, 256, 1],
      classes: ['background', 'lv'],
      preprocessing: { normalize: { lowPercentile: 0.5, highPercentile: 99.5 }, resize: 'bilinear 256x256' },
      hyperParameters: { seed },
      data: { manifestSha256: sha256Hex(`untrained seed ${seed}`), trainImages: 0, valImages: 0 },
      metrics: { val: { dice: 0, pixelAccuracy: 0 } },
      backend: tf.getBackend(),
      trainingTimeMs: 0,
      gitCommit: 'test',
      notes: `untrained ${architecture}, seed ${seed}: test fixture`,
      files,
    });
  } finally {
    model.dispose();
  }
}
