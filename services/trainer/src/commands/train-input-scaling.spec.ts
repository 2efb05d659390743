/**
 * `lvseg train --input-scaling`: checked before any data is read, recorded on the card (hyper-parameters and
 * `preprocessing.inputScaling`) and on the run, and honoured by the model `lvseg eval` loads back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { MODEL_INPUT_SIZE, loadDataset, maskToModelSize, toModelInput } from '@lvseg/imaging';
import {
  BackendInfo, DEFAULT_MASK_OPTIONS, buildModel, disposeLvModel, evaluateSplit, initBackend, loadLvModelByRef, predictLvProbabilities, segmentLv, segmentationLoss, trainConfigFor, trainModel,
  validateTrainConfig,
} from '@lvseg/model';
import { FileModelStore, FileRunStore } from '@lvseg/model-store';
import { describeWithSunnybrookPng, makeTinyDataset } from '../testing/tiny-dataset';
import { trainAndEvaluate, trainAndPublish } from './train';

describe('lvseg train --input-scaling: checked before any data is read', () => {
  it.each([
    ['fcn-paper', { inputScaling: 'raw-4096' }, /--input-scaling takes normalize or raw-1024, got raw-4096/],
    ['unet-small', { inputScaling: 'raw-1024' }, /--input-scaling takes raw-1024 only with --arch fcn-paper \(this stage is unet-small\), got raw-1024/],
  ])('%s with %j: INVALID_TRAIN_OPTION', (arch, override, message) => {
    expect(() => validateTrainConfig(trainConfigFor(arch, override as never))).toThrow(expect.objectContaining({ code: 'INVALID_TRAIN_OPTION', message: expect.stringMatching(message) }));
  });

  it('refuses raw-1024 with intensity augmentation (it clips at 1, raw DICOM inputs go above)', () => {
    const cfg = { ...trainConfigFor('fcn-paper', { inputScaling: 'raw-1024' }), augment: { ...trainConfigFor('unet-small').augment } };
    expect(() => validateTrainConfig(cfg)).toThrow(expect.objectContaining({ code: 'INVALID_TRAIN_OPTION', message: expect.stringMatching(/without intensity augmentation/) }));
  });

  it('accepts both scalings for fcn-paper, and normalize (or none given) for every architecture', () => {
    for (const inputScaling of ['normalize', 'raw-1024'] as const) expect(() => validateTrainConfig(trainConfigFor('fcn-paper', { inputScaling }))).not.toThrow();
    for (const arch of ['unet-small', 'unet-tiny']) expect(() => validateTrainConfig(trainConfigFor(arch, { inputScaling: 'normalize' }))).not.toThrow();
  });

  it('fails at once, before reading the data (no data folder needed), also for a cascade', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-train-scaling-'));
    try {
      await expect(trainAndEvaluate({ arch: 'unet-small', data: dir, overrides: { inputScaling: 'raw-1024' } }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION' });
      await expect(trainAndEvaluate({ arch: 'cascade', data: dir, overrides: { inputScaling: 'raw-1024' } }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION', message: expect.stringMatching(/--input-scaling/) });
      await expect(trainAndEvaluate({ arch: 'fcn-paper', data: dir, overrides: { inputScaling: 'bogus' as never } }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeWithSunnybrookPng('lvseg train --arch fcn-paper --input-scaling raw-1024 (two real PNGs: --epochs 0, and one step on one image)', () => {
  let root: string;
  let data: ReturnType<typeof makeTinyDataset>;
  let backend: BackendInfo;
  beforeAll(async () => {
    backend = await initBackend();
    root = mkdtempSync(join(tmpdir(), 'lvseg-train-scaling-store-'));
    data = makeTinyDataset({ train: 1, val: 1 });
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(data.dir, { recursive: true, force: true });
  });

  it('records raw-1024 on the card and the run, and the published model is served with it', async () => {
    const models = new FileModelStore({ root });
    const runs = new FileRunStore({ root });
    const overrides = { epochs: 0, inputScaling: 'raw-1024' as const, initializer: 'truncated-normal-0.1' as const, bias: 'none' as const };
    const { trained, card } = await trainAndPublish(models, backend, { arch: 'fcn-paper', data: data.dir, overrides, recording: { store: runs, heatmapEvery: 0, log: () => undefined } }, {});
    disposeLvModel(trained.lvModel);
    expect(card.preprocessing).toMatchObject({ inputScaling: 'raw-1024', normalize: expect.stringMatching(/^none: modality pixel value \/ 1024/) });
    expect(card.hyperParameters).toMatchObject({ arch: 'fcn-paper', inputScaling: 'raw-1024', initializer: 'truncated-normal-0.1', bias: 'none' });
    const { run } = await runs.getRun(card.runId!);
    expect(run.hyperParameters).toMatchObject({ inputScaling: 'raw-1024' });

    // What `lvseg eval --model <version>` loads: the card's scaling comes with the model.
    const { model, card: loadedCard } = await loadLvModelByRef(models, card.version);
    try {
      expect(model).toMatchObject({ kind: 'single', inputScaling: 'raw-1024' });
      if (model.kind !== 'single') throw new Error('expected a single network');
      const images = loadDataset(data.dir).items.map((i) => i.image);
      const served = await segmentLv(model, images, DEFAULT_MASK_OPTIONS);
      const raw = predictLvProbabilities(model.model, images.map((im) => toModelInput(im, MODEL_INPUT_SIZE, 'raw-1024')));
      const normalized = predictLvProbabilities(model.model, images.map((im) => toModelInput(im)));
      // The PNGs are 256 × 256: the served map is the network's output on the raw-1024 input itself.
      images.forEach((im, k) => {
        expect([im.rows, im.columns]).toEqual([MODEL_INPUT_SIZE, MODEL_INPUT_SIZE]);
        expect(Array.from(served[k].probability)).toEqual(Array.from(raw[k]));
        expect(Array.from(served[k].probability)).not.toEqual(Array.from(normalized[k]));
      });
      expect(loadedCard?.version).toBe(card.version);
    } finally {
      disposeLvModel(model);
    }
  });
  it('trains on the raw-1024 input: the first step\'s loss is the seeded network\'s cross-entropy on image / 1024 (one image, one step)', async () => {
    const { items } = loadDataset(data.dir);
    const train = items.filter((i) => i.split === 'train');
    const val = items.filter((i) => i.split === 'val');
    expect([train.length, val.length]).toEqual([1, 1]);
    const cfg = trainConfigFor('fcn-paper', { epochs: 1, batchSize: 1, inputScaling: 'raw-1024', initializer: 'truncated-normal-0.1', bias: 'none' });
    const lossOn = (input: Float32Array): number => {
      const net = buildModel('fcn-paper', { seed: cfg.seed, size: MODEL_INPUT_SIZE, initializer: cfg.initializer, bias: cfg.bias });
      try {
        const mask = maskToModelSize(train[0].mask).data;
        const onehot = new Float32Array(mask.length * 2);
        mask.forEach((v, p) => (onehot[p * 2 + v] = 1));
        return tf.tidy(() => segmentationLoss(net.predict(tf.tensor4d(input, [1, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 1])) as tf.Tensor4D, tf.tensor4d(onehot, [1, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 2]), cfg.loss).dataSync()[0]);
      } finally {
        net.dispose();
      }
    };
    const firstLoss: number[] = [];
    const result = await trainModel(train, val, cfg, { onStep: (s) => firstLoss.push(s.loss) });
    try {
      const expected = lossOn(toModelInput(train[0].image, MODEL_INPUT_SIZE, 'raw-1024'));
      const ifNormalized = lossOn(toModelInput(train[0].image));
      expect(firstLoss).toHaveLength(1);
      expect(Math.abs(firstLoss[0] - expected)).toBeLessThan(1e-4 * Math.max(1, expected));
      expect(Math.abs(firstLoss[0] - ifNormalized)).toBeGreaterThan(1e-3 * Math.max(1, expected));
      // Epoch selection scored val with the same scaling.
      expect(result.history[0].val).toEqual(evaluateSplit(result.model, val, cfg.mask, 'raw-1024'));
    } finally {
      result.model.dispose();
    }
  });
});
