import * as tf from '@tensorflow/tfjs';
import { NO_AUGMENTATION } from '@lvseg/imaging';
import { initBackend } from '../backend';
import { buildModel } from '../architectures';
import { syntheticSet } from '../testing/synthetic';
import { cascadeConfigFor, evaluateLvSplit, trainCascade } from './cascade-trainer';
import { disposeLvModel } from './lv-model';

describe('trainCascade (real tfjs training, synthetic discs)', () => {
  beforeAll(async () => {
    await initBackend();
  });

  it('trains the localiser, then the segmenter selected by the whole cascade on val; epochs numbered in one sequence', async () => {
    const train = syntheticSet(8, 1);
    const val = syntheticSet(3, 2);
    const cfg = cascadeConfigFor({
      seed: 5,
      localiser: { epochs: 2, batchSize: 4, valEvery: 1, augment: NO_AUGMENTATION },
      segmenter: { epochs: 1, batchSize: 4, valEvery: 1, augment: NO_AUGMENTATION },
    });
    const segmenterStart = buildModel('unet-small', { seed: 9, size: null });
    const startWeights = segmenterStart.getWeights().map((w) => w.dataSync().slice());
    const epochs: number[] = [];
    const r = await trainCascade(train, val, cfg, { onEpochEnd: (m) => void epochs.push(m.epoch) }, { segmenter: segmenterStart });
    try {
      expect(epochs).toEqual([1, 2, 3]);
      expect(r.localiser.history.map((h) => h.epoch)).toEqual([1, 2]);
      expect(r.segmenter.history.map((h) => h.epoch)).toEqual([3]);
      // Both stages were selected on val: the segmenter by the cascade's Dice, recomputable through the serving path.
      expect(r.localiser.history.every((h) => h.val !== undefined)).toBe(true);
      const selected = r.segmenter.history[0].val!;
      const again = await evaluateLvSplit(r.model, val, cfg.segmenter.mask);
      expect(again.dice).toBeCloseTo(selected.dice, 10);
      // The segmenter started from the given weights (copied), and the caller's model was left intact.
      expect(segmenterStart.getWeights().map((w) => w.dataSync().slice())).toEqual(startWeights);
      expect(r.model.segmenter.getWeights().some((w, i) => !tf.util.arraysEqual(w.dataSync(), startWeights[i]))).toBe(true);
      // Training ROIs are 128² crops of the 131.25 mm ROI; the localiser sees 64² images.
      expect(r.model.spec).toMatchObject({ localiserSize: 64, segmenterSize: 128, roiSideMm: 131.25 });
    } finally {
      disposeLvModel(r.model);
      segmenterStart.dispose();
    }
  }, 300_000);

  it('reads undefined overrides as "not set" (the recipe stays)', () => {
    const cfg = cascadeConfigFor({ localiser: { epochs: undefined }, segmenter: { learningRate: undefined, epochs: 7 } });
    expect(cfg.localiser.epochs).toBe(40);
    expect(cfg.segmenter.learningRate).toBe(0.001);
    expect(cfg.segmenter.epochs).toBe(7);
    expect(cfg.localiser.arch).toBe('unet-tiny');
  });
});
