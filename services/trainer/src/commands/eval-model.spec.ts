import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@lvseg/common';
import { dice, disposeLvModel, initBackend, loadLvModelByRef, maskOptionsOf, segmentCases } from '@lvseg/model';
import { loadDataset } from '@lvseg/imaging';
import { openModelStore } from '@lvseg/model-store';
import { evaluateModel, PAPER_HOLDOUT_SPLIT } from './eval';
import { protocolSplits } from './train';

const FIXTURE = join(repoRoot(), 'libs', 'imaging', 'test-fixtures', 'sunnybrook', 'png');

/** A PNG data set of the two fixture pairs, each copied under 20 names (40 images, 2 cases, all in split val). */
function dataset(dir: string, split = 'val'): void {
  mkdirSync(join(dir, 'images'));
  mkdirSync(join(dir, 'labels'));
  const rows = ['case,image,label,split'];
  for (const [k, name] of ['SC-HF-I-01-IM-0001-0048', 'SC-HF-I-05-IM-0001-0100'].entries()) {
    for (let i = 0; i < 20; i++) {
      copyFileSync(join(FIXTURE, 'images', `${name}.png`), join(dir, 'images', `${k}-${i}.png`));
      copyFileSync(join(FIXTURE, 'labels', `${name}.png`), join(dir, 'labels', `${k}-${i}.png`));
      rows.push(`C${k},images/${k}-${i}.png,labels/${k}-${i}.png,${split}`);
    }
  }
  writeFileSync(join(dir, 'manifest.csv'), rows.join('\n') + '\n');
}

describe('evaluateModel (lvseg eval) with the shipped production model', () => {
  let dir: string;
  let storeDir: string;
  beforeAll(async () => {
    await initBackend();
    dir = mkdtempSync(join(tmpdir(), 'lvseg-eval-data-'));
    storeDir = mkdtempSync(join(tmpdir(), 'lvseg-eval-store-'));
    dataset(dir);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('reports progress in pieces and gives the masks of one whole call, alone and as series', async () => {
    const store = openModelStore(`file://${storeDir}`, { seedFrom: join(repoRoot(), 'models') });
    const { items } = loadDataset(dir, { splits: ['val'] });
    const { model, card } = await loadLvModelByRef(store, 'production');
    const whole = await segmentCases(model, items, maskOptionsOf(card));
    disposeLvModel(model);
    const seen: Array<[number, number]> = [];
    const r = await evaluateModel(store, 'production', dir, 'val', { onProgress: (d, t) => seen.push([d, t]) });
    expect(seen).toEqual([[0, 40], [16, 40], [32, 40], [40, 40]]);
    // The same masks as one call over all 40 images: every image's Dice agrees exactly.
    expect(r.report.images).toBe(40);
    expect(r.report.perImage.map((e) => e.dice)).toEqual(whole.map((w, k) => dice(w.mask, items[k].mask)));
    expect(r.report.meanDice).toBeGreaterThan(0.8);
    const series: Array<[number, number]> = [];
    await evaluateModel(store, 'production', dir, 'val', { series: true, onProgress: (d, t) => series.push([d, t]) });
    expect(series).toEqual([[0, 40], [20, 40], [40, 40]]);
  }, 300_000);

  it('names the splits that exist when asked for one that does not', async () => {
    const store = openModelStore(`file://${storeDir}`, { seedFrom: join(repoRoot(), 'models') });
    await expect(evaluateModel(store, 'production', dir, 'test')).rejects.toMatchObject({ code: 'SPLIT_NOT_FOUND', message: `${dir} has no images in split "test"; its splits: val` });
  });

  it('paper-holdout: the paper protocol\'s per-image holdout of split=train, the images `train --protocol paper` selects on', async () => {
    const store = openModelStore(`file://${storeDir}`, { seedFrom: join(repoRoot(), 'models') });
    const trainDir = mkdtempSync(join(tmpdir(), 'lvseg-eval-train-'));
    try {
      dataset(trainDir, 'train');
      const r = await evaluateModel(store, 'production', trainDir, PAPER_HOLDOUT_SPLIT);
      const expected = protocolSplits(trainDir, 'paper').select.map((i) => i.id);
      expect(expected).toHaveLength(4); // 10 % of 40
      expect(r.split).toBe(PAPER_HOLDOUT_SPLIT);
      expect(r.report.perImage.map((e) => e.id).sort()).toEqual([...expected].sort());
      // The val-only set has no train split, so it has no holdout either: the error names what exists.
      await expect(evaluateModel(store, 'production', dir, PAPER_HOLDOUT_SPLIT)).rejects.toMatchObject({ code: 'SPLIT_NOT_FOUND' });
    } finally {
      rmSync(trainDir, { recursive: true, force: true });
    }
  }, 300_000);
});
