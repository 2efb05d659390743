import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openModelStore } from '@lvseg/model-store';
import { sampleModelVersion } from '@lvseg/model-store/testing';
import { trainConfigFor, validateTrainConfig } from '@lvseg/model';
import { comparedWithProduction, trainAndEvaluate } from './train';

describe('lvseg train: options checked before any data is read', () => {
  it.each([
    [{ epochs: -1 }, /--epochs takes an integer ≥ 0 .*got -1/],
    [{ epochs: 2.5 }, /--epochs/],
    [{ batchSize: 0 }, /--batch-size takes an integer from 1 to 1024, got 0/],
    [{ learningRate: -0.1 }, /--learning-rate takes a number from 0 to 10, got -0.1/],
    [{ decayRate: 0 }, /--decay-rate takes a number in \(0, 1\], got 0/],
    [{ decaySteps: 0 }, /--decay-steps/],
    [{ crop: 100 }, /--crop takes 0 \(whole images\) or a multiple of 16/],
    [{ valEvery: 0 }, /--val-every/],
    [{ workers: 0 }, /--workers takes an integer from 1 to 64, got 0/],
    [{ seed: 1.5 }, /--seed takes an integer/],
  ])('refuses %j with INVALID_TRAIN_OPTION', (override, message) => {
    expect(() => validateTrainConfig(trainConfigFor('unet-small', override))).toThrow(expect.objectContaining({ code: 'INVALID_TRAIN_OPTION', message: expect.stringMatching(message) }));
  });

  it('accepts the recipes as they are', () => {
    for (const arch of ['fcn-paper', 'unet-small', 'unet-tiny']) expect(() => validateTrainConfig(trainConfigFor(arch))).not.toThrow();
  });

  it('fails at once on a bad option, before reading the data (no data folder needed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-train-opts-'));
    try {
      // An empty folder has no manifest: the option error must come first.
      await expect(trainAndEvaluate({ arch: 'unet-small', data: dir, overrides: { epochs: -1 } }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION' });
      await expect(trainAndEvaluate({ arch: 'cascade', data: dir, overrides: {}, localiserEpochs: -2 }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION' });
      await expect(trainAndEvaluate({ arch: 'cascade', data: dir, overrides: {}, segmenterSize: 100 }, {})).rejects.toMatchObject({ code: 'INVALID_SEGMENTER_SIZE' });
      await expect(trainAndEvaluate({ arch: 'cascade', data: dir, overrides: {}, localiserSize: 96 }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION', message: expect.stringContaining('--localiser-size') });
      await expect(trainAndEvaluate({ arch: 'unet-small', data: dir, overrides: {}, localiserSize: 128 }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION' });
      await expect(trainAndEvaluate({ arch: 'cascade', data: dir, overrides: {}, roiSideMm: 20 }, {})).rejects.toMatchObject({ code: 'INVALID_ROI_SIZE' });
      await expect(trainAndEvaluate({ arch: 'unet-small', data: dir, overrides: {}, roiSideMm: 98 }, {})).rejects.toMatchObject({ code: 'INVALID_ROI_SIZE' });
      await expect(trainAndEvaluate({ arch: 'cascade', data: dir, overrides: {}, zoom: { factor: 0.5, minSideMm: 48, maxShare: 0.85 } }, {})).rejects.toMatchObject({ code: 'INVALID_ZOOM' });
      await expect(trainAndEvaluate({ arch: 'cascade', data: dir, overrides: {}, zoom: { factor: 3.5, minSideMm: 48, maxShare: 1.5 } }, {})).rejects.toMatchObject({ code: 'INVALID_ZOOM' });
      await expect(trainAndEvaluate({ arch: 'unet-small', data: dir, overrides: {}, zoom: { factor: 3.5, minSideMm: 48, maxShare: 0.85 } }, {})).rejects.toMatchObject({ code: 'INVALID_ZOOM' });
      await expect(trainAndEvaluate({ arch: 'cascade', data: dir, overrides: {}, smallLvRepeats: 1.5 }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION' });
      await expect(trainAndEvaluate({ arch: 'unet-small', data: dir, overrides: {}, smallLvRepeats: 1 }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION' });
      await expect(trainAndEvaluate({ arch: 'cascade', data: dir, overrides: {}, localiserCoverage: 1.5 }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION', message: expect.stringContaining('--localiser-coverage') });
      await expect(trainAndEvaluate({ arch: 'unet-small', data: dir, overrides: {}, localiserCoverage: 0.25 }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION' });
      await expect(trainAndEvaluate({ arch: 'cascade', data: dir, overrides: {}, localiserNegatives: 1 }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION', message: expect.stringContaining('--localiser-negatives') });
      await expect(trainAndEvaluate({ arch: 'unet-small', data: dir, overrides: {}, localiserNegatives: 0.1 }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION' });
      await expect(trainAndEvaluate({ arch: 'unet-small', data: dir, overrides: {}, localiserOverrides: { learningRate: 0.001 } }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION', message: expect.stringContaining('--localiser-learning-rate') });
      await expect(trainAndEvaluate({ arch: 'cascade', data: dir, overrides: {}, localiserOverrides: { learningRate: -1 } }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION', message: expect.stringContaining('--localiser-learning-rate') });
      // A size the CLI's own rule allows but a loaded version would refuse (above 512) is refused before training.
      await expect(trainAndEvaluate({ arch: 'cascade', data: dir, overrides: {}, segmenterSize: 528 }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION', message: expect.stringContaining('segmenterSize') });
      await expect(trainAndEvaluate({ arch: 'unet-small', data: dir, overrides: { epochs: 5, averageFrom: 6 } }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION', message: expect.stringContaining('--average-from') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('comparedWithProduction (the warning after lvseg train publishes)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lvseg-train-warn-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('warns when the new version is far below production on the same val split, or learned nothing', async () => {
    const store = openModelStore(`file://${dir}`);
    const production = await store.publish(sampleModelVersion({ valDice: 0.87 }));
    await store.setAlias('production', production.version);
    const close = await store.publish(sampleModelVersion({ valDice: 0.84 }));
    const far = await store.publish(sampleModelVersion({ valDice: 0.6 }));
    const zero = await store.publish(sampleModelVersion({ valDice: 0 }));
    expect(await comparedWithProduction(store, close)).toBeUndefined();
    expect(await comparedWithProduction(store, far)).toMatch(new RegExp(`^${far.version} scores val Dice 0\\.6000, far below production \\(${production.version}: 0\\.8700 on the same sunnybrook val split\\)`));
    expect(await comparedWithProduction(store, zero)).toMatch(/has val Dice 0\.000: it finds no LV at all/);
  });

  it('compares nothing across data sources or protocols, or without production', async () => {
    const store = openModelStore(`file://${dir}`);
    const lone = await store.publish(sampleModelVersion({ valDice: 0.5 }));
    expect(await comparedWithProduction(store, lone)).toBeUndefined(); // no production alias yet
    const production = await store.publish(sampleModelVersion({ valDice: 0.87 }));
    await store.setAlias('production', production.version);
    const elsewhere = await store.publish(sampleModelVersion({ valDice: 0.5, source: 'site-import' }));
    const paper = await store.publish(sampleModelVersion({ valDice: 0.5, protocol: 'paper' }));
    expect(await comparedWithProduction(store, elsewhere)).toBeUndefined();
    expect(await comparedWithProduction(store, paper)).toBeUndefined();
  });
});
