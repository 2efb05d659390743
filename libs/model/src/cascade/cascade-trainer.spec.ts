import * as tf from '@tensorflow/tfjs';
import { NO_AUGMENTATION } from '@lvseg/imaging';
import { initBackend } from '../backend';
import { buildModel } from '../architectures';
import { syntheticSet } from '../testing/synthetic';
import { SeededRandom } from '@lvseg/common';
import { zoomSideMm } from './cascade';
import { cascadeConfigFor, downsampleMask, epochImages, evaluateLvSplit, imageWithoutLv, trainCascade, trainingRoi } from './cascade-trainer';
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
      expect(segmenterStart.getWeights().every((w, i) => tf.util.arraysEqual(w.dataSync(), startWeights[i]))).toBe(true);
      expect(r.model.segmenter.getWeights().some((w, i) => !tf.util.arraysEqual(w.dataSync(), startWeights[i]))).toBe(true);
      // Training ROIs are 128² crops of the 131.25 mm ROI; the localiser sees 64² images.
      expect(r.model.spec).toMatchObject({ localiserSize: 64, segmenterSize: 128, roiSideMm: 131.25 });
    } finally {
      disposeLvModel(r.model);
      segmenterStart.dispose();
    }
  }, 300_000);

  it('fine-tuning both stages: the localiser is selected by the cascade\'s val Dice with the given segmenter', async () => {
    const train = syntheticSet(8, 3);
    const val = syntheticSet(3, 4);
    const cfg = cascadeConfigFor({
      seed: 6,
      localiserCoverage: 0.25,
      smallLvRepeats: 1,
      localiser: { epochs: 2, batchSize: 4, valEvery: 1, augment: NO_AUGMENTATION },
      segmenter: { epochs: 0, batchSize: 4, valEvery: 1, augment: NO_AUGMENTATION },
    });
    const localiserStart = buildModel('unet-tiny', { seed: 7, size: null });
    const segmenterStart = buildModel('unet-small', { seed: 8, size: null });
    const r = await trainCascade(train, val, cfg, {}, { localiser: localiserStart, segmenter: segmenterStart });
    try {
      // What val measured for the kept localiser is the whole cascade's Dice with the given (unchanged) segmenter.
      const kept = r.localiser.history.find((h) => h.epoch === r.localiser.bestEpoch)!.val!;
      const cascade = await evaluateLvSplit({ ...r.model, segmenter: segmenterStart }, val, cfg.segmenter.mask);
      expect(cascade.dice).toBeCloseTo(kept.dice, 10);
      expect(r.model.segmenter.getWeights().every((w, i) => tf.util.arraysEqual(w.dataSync(), segmenterStart.getWeights()[i].dataSync()))).toBe(true);
    } finally {
      r.model.localiser.dispose();
      r.model.segmenter.dispose();
      localiserStart.dispose();
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

describe('trainingRoi', () => {
  const n = 256;
  const grid = { rows: n, columns: n, pixelSpacingMm: [1, 1] as [number, number] };
  // An LV disc of radius 10 px at (100, 150): 317 px = 317 mm² at 1 mm per pixel.
  const mask = Uint8Array.from({ length: n * n }, (_, i) => (Math.hypot(Math.floor(i / n) - 100, (i % n) - 150) <= 10 ? 1 : 0));
  const area = mask.reduce((a, v) => a + v, 0);
  const zoom = { factor: 3.5, minSideMm: 48, maxShare: 0.85 };

  it('draws first-pass regions (jittered centre, side ± scaleJitter) and, with spec.zoom, second-look regions from the LV area', () => {
    const cfg = cascadeConfigFor({ spec: { zoom }, negativeRoiProbability: 0 });
    const rng = new SeededRandom(5);
    let zoomed = 0;
    for (let t = 0; t < 400; t++) {
      const roi = trainingRoi(mask, grid, cfg, rng);
      expect(roi.height).toBe(roi.width);
      if (roi.height >= cfg.spec.roiSideMm * 0.9 - 1e-9) {
        // First pass: side 131.25 ± 10 %, centre within ±10 mm.
        expect(roi.height).toBeLessThanOrEqual(cfg.spec.roiSideMm * 1.1 + 1e-9);
        expect(Math.abs(roi.centerRow - 100)).toBeLessThanOrEqual(cfg.centreJitterMm);
        expect(Math.abs(roi.centerColumn - 150)).toBeLessThanOrEqual(cfg.centreJitterMm);
      } else {
        zoomed++;
        expect(roi.height).toBeGreaterThanOrEqual(zoomSideMm(area * 0.7, zoom, cfg.spec.roiSideMm) - 1e-9);
        expect(roi.height).toBeLessThanOrEqual(zoomSideMm(area * 1.3, zoom, cfg.spec.roiSideMm) + 1e-9);
        expect(Math.abs(roi.centerRow - 100)).toBeLessThanOrEqual(0.1 * roi.height + 1e-9);
        expect(Math.abs(roi.centerColumn - 150)).toBeLessThanOrEqual(0.1 * roi.height + 1e-9);
      }
    }
    // zoomShare 0.5: about half of 400 (binomial sd 10).
    expect(zoomed).toBeGreaterThan(160);
    expect(zoomed).toBeLessThan(240);
  });

  it('without spec.zoom, or with zoomShare 0, draws only first-pass regions', () => {
    const plain = cascadeConfigFor({});
    const none = cascadeConfigFor({ spec: { zoom }, zoomShare: 0 });
    const a = new SeededRandom(9), b = new SeededRandom(9);
    for (let t = 0; t < 50; t++) {
      const ra = trainingRoi(mask, grid, plain, a);
      expect(ra.height).toBeGreaterThanOrEqual(plain.spec.roiSideMm * 0.9 - 1e-9);
      const rb = trainingRoi(mask, grid, none, b);
      expect(rb.height).toBeGreaterThanOrEqual(none.spec.roiSideMm * 0.9 - 1e-9);
    }
  });

  it('places negative regions anywhere, of a side between minSideMm and roiSideMm for second looks', () => {
    const cfg = cascadeConfigFor({ spec: { zoom }, negativeRoiProbability: 1, zoomShare: 1 });
    const rng = new SeededRandom(3);
    for (let t = 0; t < 100; t++) {
      const roi = trainingRoi(mask, grid, cfg, rng);
      expect(roi.height).toBeGreaterThanOrEqual(zoom.minSideMm);
      expect(roi.height).toBeLessThanOrEqual(cfg.spec.roiSideMm);
    }
    const empty = new Uint8Array(n * n);
    const first = cascadeConfigFor({ negativeRoiProbability: 0 });
    const r = trainingRoi(empty, grid, first, new SeededRandom(1));
    expect(r.height).toBeGreaterThanOrEqual(first.spec.roiSideMm * 0.9 - 1e-9);
  });
});

describe('epochImages', () => {
  // LV areas 0 (no LV), 1, 2, …, 8 pixels: the 25th percentile of the 8 with an LV is 3, so areas 1 and 2 are small.
  const masks = Array.from({ length: 9 }, (_, k) => Uint8Array.from({ length: 16 }, (_, i) => (i < k ? 1 : 0)));

  it('is every image once without repeats', () => {
    expect(epochImages(masks, 0)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('adds the smallest quarter of LVs (never an image without LV) `repeats` more times', () => {
    expect(epochImages(masks, 2)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 1, 2]);
  });
});

describe('downsampleMask (the localiser\'s target)', () => {
  // A 3×3 LV at rows/columns 5–7 of a 16² mask, downsampled by 4: it covers 3×3 = 9 of block (1, 1)'s 16 pixels and
  // none of the others fully; a 2×2 LV at rows/columns 2–3 covers 4 of block (0, 0)'s 16.
  const n = 16;
  const at = (cells: Array<[number, number]>) => {
    const m = new Uint8Array(n * n);
    for (const [r, c] of cells) m[r * n + c] = 1;
    return m;
  };
  const three = at([5, 6, 7].flatMap((r) => [5, 6, 7].map((c) => [r, c] as [number, number])));
  const two = at([[2, 2], [2, 3], [3, 2], [3, 3]]);
  it('marks a pixel LV where at least `coverage` of it is LV (0.5 by default), never an empty one', () => {
    expect(Array.from(downsampleMask(three, n, 4)).map((v, i) => (v ? i : -1)).filter((i) => i >= 0)).toEqual([5]);
    expect(Array.from(downsampleMask(two, n, 4)).some((v) => v)).toBe(false);
    expect(Array.from(downsampleMask(two, n, 4, 0.25)).map((v, i) => (v ? i : -1)).filter((i) => i >= 0)).toEqual([0]);
    expect(Array.from(downsampleMask(two, n, 4, 0)).map((v, i) => (v ? i : -1)).filter((i) => i >= 0)).toEqual([0]);
    expect(Array.from(downsampleMask(new Uint8Array(n * n), n, 4, 0)).some((v) => v)).toBe(false);
  });
});

describe('imageWithoutLv (the localiser\'s negatives)', () => {
  // A 64×48 image with an LV block in its upper-left quarter, drawn twice from the same seed: once with each pixel's
  // row (+ 1000) as its value, once with its column (+ 1000). A region crop's centre sample then reads back where in
  // the image it was taken; noise holds values below 1000.
  const rows = 64, columns = 48;
  const lv = (r: number, c: number) => r < 32 && c < 24;
  const mask = { rows, columns, data: Uint8Array.from({ length: rows * columns }, (_, i) => (lv(Math.floor(i / columns), i % columns) ? 1 : 0)) };
  const itemOf = (value: (r: number, c: number) => number) => ({ id: 'x', case: 'x', split: 'train', mask, image: { rows, columns, data: Float32Array.from({ length: rows * columns }, (_, i) => value(Math.floor(i / columns), i % columns)) } });
  const byRow = itemOf((r) => r + 1000), byColumn = itemOf((_, c) => c + 1000);

  it('draws noise or a region of the image away from its LV, square at the shorter side, seeded', () => {
    const a = new SeededRandom(3), b = new SeededRandom(3);
    let regions = 0, noise = 0;
    for (let t = 0; t < 200; t++) {
      const g = imageWithoutLv(byRow, a);
      const h = imageWithoutLv(byColumn, b);
      expect([g.rows, g.columns, g.data.length]).toEqual([48, 48, 48 * 48]);
      if (g.data.every((v) => v < 1000)) {
        noise++;
        expect(Array.from(h.data)).toEqual(Array.from(g.data)); // the same seeded noise
        continue;
      }
      regions++;
      const centre = 24 * 48 + 24;
      expect(lv(Math.round(g.data[centre] - 1000), Math.round(h.data[centre] - 1000))).toBe(false);
    }
    expect(regions).toBeGreaterThan(60);
    expect(noise).toBeGreaterThan(60);
  });
});
