import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodePngRgba } from './testing/png-check';
import { BackendInfo, heatmapLayers, initBackend } from '@lvseg/model';
import type { Manifest } from '@lvseg/imaging';
import type { TrainConfig } from '@lvseg/model';
import { FileModelStore, FileRunStore, RunStepProgress } from '@lvseg/model-store';
import { trainAndPublish } from './commands/train';
import { RunRecorder, firstByManifestOrder, isHeatmapEpoch } from './run-recorder';
import { describeWithSunnybrookPng, makeTinyDataset } from './testing/tiny-dataset';

describe('isHeatmapEpoch', () => {
  it('picks the first, the last and every N-th epoch', () => {
    const picked = (epochs: number, every: number) => Array.from({ length: epochs }, (_, k) => k + 1).filter((e) => isHeatmapEpoch(e, epochs, every));
    expect(picked(12, 5)).toEqual([1, 5, 10, 12]);
    expect(picked(10, 5)).toEqual([1, 5, 10]);
    expect(picked(4, 0)).toEqual([1, 4]);
    expect(picked(1, 5)).toEqual([1]);
  });
});

describe('firstByManifestOrder', () => {
  it('picks the candidate listed first in the manifest, whatever order the candidates come in (e.g. a shuffled holdout)', () => {
    const rows = ['A/IM-0001-0020', 'A/IM-0001-0040', 'B/IM-0001-0010'].map((id) => ({ case: id.split('/')[0], image: `images/${id.split('/')[1]}.png`, label: 'x.png', split: 'val' }));
    const manifest = { dir: '/d', kind: 'png' as const, rows, sha256: 'e'.repeat(64) };
    const item = (id: string) => ({ id, case: id.split('/')[0], split: 'val', image: { rows: 1, columns: 1, data: new Float32Array(1) }, mask: { rows: 1, columns: 1, data: new Uint8Array(1) } });
    expect(firstByManifestOrder(manifest, [item('B/IM-0001-0010'), item('A/IM-0001-0040'), item('A/IM-0001-0020')])?.id).toBe('A/IM-0001-0020');
    expect(firstByManifestOrder(manifest, [])).toBeUndefined();
  });
});

/** A real file run store that also keeps every step report it was asked to write. */
class ProgressLoggingRunStore extends FileRunStore {
  readonly progressWrites: RunStepProgress[] = [];
  override async recordProgress(id: string, progress: RunStepProgress): Promise<void> {
    this.progressWrites.push(progress);
    return super.recordProgress(id, progress);
  }
}

describe('RunRecorder step progress', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'lvseg-recorder-progress-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  async function recorderWithClock(root: string) {
    const store = new ProgressLoggingRunStore({ root: join(scratch, root) });
    const clock = { ms: 0 };
    const recorder = await RunRecorder.start(
      { store, heatmapEvery: 0, log: () => {}, progressEveryMs: 1000, nowMs: () => clock.ms },
      { cfg: { arch: 'unet-small', epochs: 2 } as TrainConfig, manifest: { sha256: 'a'.repeat(64) } as Manifest, dataSource: 'test', valImage: undefined, hyperParameters: {} },
    );
    if (!recorder) throw new Error('the recorder did not start');
    return { store, clock, recorder, hooks: recorder.hooks() };
  }

  it('writes the step at most once a second of training time, and always the last step of an epoch', async () => {
    const { store, clock, recorder, hooks } = await recorderWithClock('throttle');
    hooks.onEpochStart!(1, 25);
    for (let step = 1; step <= 25; step++) {
      clock.ms += 300;
      hooks.onStep!({ epoch: 1, step, steps: 25, loss: 1 / step, learningRate: 1e-3 });
      await recorder.idle();
    }
    // 300 ms a step: written at 0.3 s, then whenever a second has passed since the last write (every 4th step); 25 is the last.
    expect(store.progressWrites.map((p) => p.step)).toEqual([1, 5, 9, 13, 17, 21, 25]);
    hooks.onEpochStart!(2, 25);
    clock.ms += 50;
    hooks.onStep!({ epoch: 2, step: 1, steps: 25, loss: 0.5, learningRate: 1e-3 });
    await recorder.idle();
    // 50 ms after the last write: not due yet, so the store still holds epoch 1's last step, with its elapsed time.
    expect((await store.getRun(recorder.runId)).progress).toMatchObject({ epoch: 1, step: 25, steps: 25, epochSeconds: 7.5, loss: 1 / 25 });
    await recorder.finish();
  });

  it('keeps one progress write queued at a time, and it carries the newest step', async () => {
    const { store, clock, recorder, hooks } = await recorderWithClock('coalesce');
    hooks.onEpochStart!(1, 40);
    // A store slower than training: 40 steps arrive before the first write runs.
    for (let step = 1; step <= 40; step++) {
      clock.ms += 2000;
      hooks.onStep!({ epoch: 1, step, steps: 40, loss: 1, learningRate: 1e-3 });
    }
    await recorder.finish();
    expect(store.progressWrites.map((p) => p.step)).toEqual([40]);
    expect((await store.getRun(recorder.runId)).progress).toMatchObject({ epoch: 1, step: 40, steps: 40, epochSeconds: 80 });
  });
});

describeWithSunnybrookPng('lvseg train records its run (tiny real data set)', () => {
  let backend: BackendInfo;
  let data: ReturnType<typeof makeTinyDataset>;
  const scratch = mkdtempSync(join(tmpdir(), 'lvseg-trainer-runs-'));
  const overrides = { epochs: 3, crop: 64, batchSize: 4, valEvery: 1, seed: 7 };

  beforeAll(async () => {
    backend = await initBackend();
    data = makeTinyDataset({ train: 4, val: 2 });
  });
  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
    rmSync(data.dir, { recursive: true, force: true });
  });

  it('records every epoch, heatmaps of each layer for the first val image on heatmap epochs, and the published version', async () => {
    const root = join(scratch, 'store');
    const models = new FileModelStore({ root });
    const runs = new FileRunStore({ root });
    const log: string[] = [];
    const tensorsBefore = tf.memory().numTensors;
    const started = Date.now();
    const { trained, card } = await trainAndPublish(models, backend, { arch: 'unet-small', data: data.dir, overrides, recording: { store: runs, heatmapEvery: 2, log: (l) => log.push(l) } }, {});
    const elapsed = Date.now() - started;
    trained.result.model.dispose();
    // Heatmaps are rendered in tf.tidy: nothing leaks beyond what training itself leaves.
    expect(tf.memory().numTensors).toBeLessThanOrEqual(tensorsBefore + 1);

    const [summary] = await runs.listRuns();
    expect(card.runId).toBe(summary.id);
    const { run, epochs, heatmaps } = await runs.getRun(summary.id);
    expect(run).toMatchObject({ status: 'finished', version: card.version, architecture: 'unet-small', manifestSha256: trained.manifest.sha256, valImageId: data.valIds[0], layers: heatmapLayers('unet-small'), epochs: 3, dataSource: expect.stringMatching(/^lvseg-tiny-data-/) });
    expect(run.hyperParameters).toMatchObject({ ...overrides, arch: 'unet-small', protocol: 'by-patient' });
    // Exactly the trainer's history, epoch by epoch.
    expect(epochs).toEqual(
      trained.result.history.map((m) => ({
        epoch: m.epoch,
        loss: m.trainLoss,
        train: { pixelAccuracy: m.trainPixelAccuracy, dice: m.trainDice },
        val: { pixelAccuracy: m.val!.pixelAccuracy, dice: m.val!.dice },
        learningRate: m.learningRate,
        seconds: m.ms / 1000,
      })),
    );
    expect(heatmaps).toEqual([1, 2, 3].map((epoch) => ({ epoch, layers: heatmapLayers('unet-small') })));
    for (const { epoch, layers } of heatmaps) {
      for (const layer of layers) {
        const png = decodePngRgba(await runs.readHeatmap(run.id, epoch, layer));
        expect([png.width, png.height]).toEqual([256, 256]);
        expect(png.distinctColors).toBeGreaterThan(1);
      }
    }
    // Weights move between epochs, so the same layer's map differs from epoch 1 to epoch 3.
    expect((await runs.readHeatmap(run.id, 1, 'dec1')).equals(await runs.readHeatmap(run.id, 3, 'dec1'))).toBe(false);
    expect(log[0]).toMatch(new RegExp(`^recording run ${run.id} in file://.*/runs \\(heatmaps of ${data.valIds[0].replace(/[/-]/g, '\\$&')}\\)$`));
    // eslint-disable-next-line no-console
    console.log(`tiny recorded run: 3 epochs + publish in ${elapsed} ms; heatmap sets rendered in ${Math.round(trained.recorder!.meanRenderMs)} ms each on average`);
  });

  it('keeps training when the run store fails mid-run, logging the failure once, and still publishes', async () => {
    const root = join(scratch, 'broken');
    const models = new FileModelStore({ root });
    const runs = new FileRunStore({ root });
    const log: string[] = [];
    let broken = false;
    const breakStore = {
      onEpochEnd: async () => {
        if (broken) return;
        broken = true;
        // A real failure: the run's folder is replaced by a plain file, so every later read and write fails.
        const [{ id }] = await runs.listRuns();
        rmSync(join(root, 'runs', id), { recursive: true, force: true });
        writeFileSync(join(root, 'runs', id), 'not a folder');
      },
    };
    const { trained, card } = await trainAndPublish(models, backend, { arch: 'unet-small', data: data.dir, overrides: { ...overrides, epochs: 2 }, recording: { store: runs, heatmapEvery: 1, log: (l) => log.push(l) } }, breakStore);
    trained.result.model.dispose();
    expect(trained.result.history.map((m) => m.epoch)).toEqual([1, 2]);
    expect((await models.getCard(card.version)).runId).toBe(trained.recorder!.runId);
    const failures = log.filter((l) => l.includes('could not'));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toContain('training goes on');
    expect(log.some((l) => /\d+ run-store operations failed in all/.test(l))).toBe(true);
  });

  it('trains unrecorded when the run cannot even be created', async () => {
    const root = join(scratch, 'unwritable');
    writeFileSync(join(scratch, 'unwritable'), 'a file where the store folder should be');
    const log: string[] = [];
    const models = new FileModelStore({ root: join(scratch, 'models-only') });
    const { trained, card } = await trainAndPublish(models, backend, { arch: 'unet-small', data: data.dir, overrides: { ...overrides, epochs: 1 }, recording: { store: new FileRunStore({ root }), heatmapEvery: 1, log: (l) => log.push(l) } }, {});
    trained.result.model.dispose();
    expect(trained.recorder).toBeUndefined();
    expect(card.runId).toBeUndefined();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(/cannot create the run record, training goes on unrecorded/);
  });
});
