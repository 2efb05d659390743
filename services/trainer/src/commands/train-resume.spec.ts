/**
 * `lvseg train --resume <version>`: the run goes on from the version's kept epoch with the recipe on its card; the
 * new card says where it resumed and its history holds both parts. (That the continued run equals the uninterrupted
 * one is trainer.spec's "resumes an interrupted plain-SGD run exactly".)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendInfo, EpochMetrics, disposeLvModel, initBackend } from '@lvseg/model';
import { FileModelStore, FileRunStore } from '@lvseg/model-store';
import { sampleModelVersion } from '@lvseg/model-store/testing';
import { describeWithSunnybrookPng, makeTinyDataset } from '../testing/tiny-dataset';
import { loadResume, trainAndEvaluate, trainAndPublish } from './train';

describe('lvseg train --resume: refused before any training', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'lvseg-resume-refused-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('refuses a cascade and a card that does not say which epoch its weights are from (RESUME_UNSUPPORTED)', async () => {
    const store = new FileModelStore({ root });
    const cascade = await store.publish(sampleModelVersion({ architecture: 'cascade' }));
    const noEpoch = await store.publish(sampleModelVersion({ architecture: 'unet-small' }));
    await expect(loadResume(store, cascade.version, {})).rejects.toMatchObject({ code: 'RESUME_UNSUPPORTED', message: expect.stringMatching(/is a cascade; only a single network's run can be resumed/) });
    await expect(loadResume(store, noEpoch.version, {})).rejects.toMatchObject({ code: 'RESUME_UNSUPPORTED', message: expect.stringMatching(/does not say which epoch its weights are from/) });
  });

  it('refuses a total of epochs not beyond the resumed ones, before reading the data (no data folder needed)', async () => {
    const overrides = { epochs: 34, startEpoch: 34, initFrom: 'fcn-paper-x' };
    await expect(trainAndEvaluate({ arch: 'fcn-paper', data: root, overrides }, {})).rejects.toMatchObject({ code: 'INVALID_TRAIN_OPTION', message: expect.stringMatching(/--epochs must exceed the 34 epochs already run by the resumed version, got 34/) });
  });
});

describeWithSunnybrookPng('lvseg train --resume (real PNGs: 2 train, 1 val)', () => {
  let root: string;
  let data: ReturnType<typeof makeTinyDataset>;
  let backend: BackendInfo;
  beforeAll(async () => {
    backend = await initBackend();
    root = mkdtempSync(join(tmpdir(), 'lvseg-resume-'));
    data = makeTinyDataset({ train: 2, val: 1 });
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(data.dir, { recursive: true, force: true });
  });

  it('goes on from the kept epoch with the card\'s recipe; the new card and history say so', async () => {
    const store = new FileModelStore({ root });
    const recipe = { epochs: 2, batchSize: 1, valEvery: 1, optimizer: 'sgd' as const, learningRate: 0.02, decayRate: 0.5, decaySteps: 3, seed: 7, crop: 64 };
    const first = await trainAndPublish(store, backend, { arch: 'unet-tiny', data: data.dir, overrides: recipe }, {});
    disposeLvModel(first.trained.lvModel);
    const kept = first.card.hyperParameters.bestEpoch as number;
    expect([1, 2]).toContain(kept);

    // A later --epochs wins over the card's; everything else comes from the card.
    const resumed = await loadResume(store, first.card.version, { epochs: 4, learningRate: undefined });
    expect(resumed).toMatchObject({ arch: 'unet-tiny', protocol: 'by-patient', init: { version: first.card.version, architecture: 'unet-tiny' } });
    expect(resumed.overrides).toMatchObject({ ...recipe, epochs: 4, startEpoch: kept });
    expect(resumed.resumedHistory!.map((h) => h.epoch)).toEqual(kept === 1 ? [1] : [1, 2]);

    const runs = new FileRunStore({ root });
    const recording = { store: runs, heatmapEvery: 0, log: () => undefined };
    const second = await trainAndPublish(store, backend, { data: data.dir, ...resumed, arch: resumed.arch, overrides: resumed.overrides, recording }, {});
    disposeLvModel(second.trained.lvModel);
    disposeLvModel(resumed.init!.model);
    expect(second.card.hyperParameters).toMatchObject({ arch: 'unet-tiny', epochs: 4, startEpoch: kept, initFrom: first.card.version, steps: 8 });
    const history = JSON.parse((await store.load(second.card.version)).files.get('history.json')!.toString('utf8')) as EpochMetrics[];
    const firstHistory = JSON.parse((await store.load(first.card.version)).files.get('history.json')!.toString('utf8')) as EpochMetrics[];
    expect(history.map((h) => h.epoch)).toEqual([1, 2, 3, 4]);
    expect(history.slice(0, kept)).toEqual(firstHistory.slice(0, kept));
    // The monitor's run record holds the whole curve too: the resumed epochs, then the new ones.
    const { epochs } = await runs.getRun(second.card.runId!);
    expect(epochs.map((e) => [e.epoch, e.loss])).toEqual(history.map((h) => [h.epoch, h.trainLoss]));
    // The schedule went on: epoch 3 ended at step 5 of the whole run, i.e. one decay (every 3 steps) in.
    expect(history[2].learningRate).toBeCloseTo(0.02 * 0.5 ** Math.floor(5 / 3), 12);
  });
});
