/**
 * The behaviour every RunStore implementation must show, run by each implementation's spec against the real thing
 * (a temp directory, an in-process S3 server). Test support only: not exported from the library index.
 */
import { PNG } from 'pngjs';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { LvsegError, refusalOf } from '@lvseg/common';
import type { NewTrainingRun, RunEpoch, RunStore } from '../run-store';

/** A run store under test, a second instance on the same storage, and the raw object keys it holds. */
export interface RunStoreUnderTest {
  store: RunStore;
  reopen(now: () => Date): RunStore;
  /** Every stored key under the store location, sorted (e.g. `runs/<id>/run.json`). */
  keys(): Promise<string[]>;
}

export type RunStoreFactory = (now: () => Date) => Promise<RunStoreUnderTest>;

/** A small real PNG whose pixels depend on `seed`. */
export function samplePng(seed: number, side = 8): Buffer {
  const png = new PNG({ width: side, height: side });
  for (let i = 0; i < side * side; i++) png.data.set([(i * 7 + seed) & 255, (i * 13 + seed * 3) & 255, seed & 255, 255], i * 4);
  return PNG.sync.write(png);
}

export function sampleRun(overrides: Partial<NewTrainingRun> = {}): NewTrainingRun {
  return {
    architecture: 'unet-small',
    hyperParameters: { learningRate: 0.002, epochs: 3, crop: 64 },
    manifestSha256: 'a'.repeat(64),
    valImageId: 'SC-HF-I-09/IM-0001-0020',
    layers: ['enc1', 'bottleneck', 'score'],
    epochs: 3,
    dataSource: 'sunnybrook-png',
    ...overrides,
  };
}

function epochRecord(epoch: number, withVal: boolean): RunEpoch {
  return {
    epoch,
    loss: 1 / epoch,
    train: { pixelAccuracy: 0.9 + epoch / 100, dice: 0.1 * epoch },
    ...(withVal ? { val: { pixelAccuracy: 0.95, dice: 0.05 * epoch } } : {}),
    learningRate: 0.002,
    seconds: 1.5,
  };
}

const rejection = refusalOf;

/** Registers the RunStore contract for one implementation. */
export function describeRunStoreContract(name: string, factory: RunStoreFactory): void {
  describe(`RunStore contract: ${name}`, () => {
    let at: Date;
    const now = () => at;
    let sut: RunStoreUnderTest;
    let store: RunStore;

    beforeEach(async () => {
      at = new Date('2026-12-02T07:00:00.000Z');
      sut = await factory(now);
      store = sut.store;
    });

    it('creates a running run with an empty history, listed with no latest epoch', async () => {
      expect(await store.listRuns()).toEqual([]);
      const run = await store.createRun(sampleRun());
      expect(run.id).toMatch(/^run-20261202T070000-[0-9a-f]{6}$/);
      expect(run).toMatchObject({ status: 'running', architecture: 'unet-small', createdAt: at.toISOString(), layers: ['enc1', 'bottleneck', 'score'], valImageId: 'SC-HF-I-09/IM-0001-0020' });
      expect(await store.getRun(run.id)).toEqual({ run, epochs: [], heatmaps: [] });
      const [listed] = await store.listRuns();
      expect(listed).toEqual({ ...run, latestEpoch: null, latest: null });
    });

    it('records epochs in order, replaces a re-recorded epoch, keeps val absent where there was none', async () => {
      const { id } = await store.createRun(sampleRun());
      await store.recordEpoch(id, epochRecord(1, false));
      await store.recordEpoch(id, epochRecord(3, true));
      await store.recordEpoch(id, epochRecord(2, false));
      await store.recordEpoch(id, { ...epochRecord(2, true), loss: Number.NaN });
      const { epochs } = await store.getRun(id);
      expect(epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
      expect(epochs[0]).toEqual(epochRecord(1, false));
      expect(epochs[0].val).toBeUndefined();
      expect(epochs[1]).toEqual({ ...epochRecord(2, true), loss: null }); // NaN is not JSON: stored as null
      expect((await store.listRuns())[0]).toMatchObject({ latestEpoch: 3, latest: epochRecord(3, true) });
      // What a restarted process (or the inference service) sees.
      expect((await sut.reopen(now).getRun(id)).epochs).toEqual(epochs);
    });

    it('stores heatmaps by epoch and layer and lists an epoch once its images are stored', async () => {
      const { id } = await store.createRun(sampleRun());
      const first = new Map([['enc1', samplePng(1)], ['score', samplePng(2)]]);
      await store.recordHeatmaps(id, 1, first);
      await store.recordHeatmaps(id, 5, new Map([['enc1', samplePng(3)]]));
      expect((await store.getRun(id)).heatmaps).toEqual([
        { epoch: 1, layers: ['enc1', 'score'] },
        { epoch: 5, layers: ['enc1'] },
      ]);
      expect((await store.readHeatmap(id, 1, 'score')).equals(samplePng(2))).toBe(true);
      expect((await sut.reopen(now).readHeatmap(id, 5, 'enc1')).equals(samplePng(3))).toBe(true);
      for (const [epoch, layer] of [[2, 'enc1'], [1, 'bottleneck']] as const) {
        const err = await rejection(store.readHeatmap(id, epoch, layer));
        expect(err.kind).toBe('not-found');
        expect(err.code).toBe('RUN_HEATMAP_NOT_FOUND');
      }
      expect((await rejection(store.recordHeatmaps(id, 2, new Map([['enc1', Buffer.from('not a png')]])))).kind).toBe('invalid-input');
      expect((await store.getRun(id)).heatmaps.map((h) => h.epoch)).toEqual([1, 5]);
    });

    it('keeps the latest step progress of a run (overwritten), stamped with the store clock, and refuses nonsense', async () => {
      const { id } = await store.createRun(sampleRun());
      expect((await store.getRun(id)).progress).toBeUndefined();
      await store.recordProgress(id, { epoch: 1, step: 3, steps: 10, epochSeconds: 4.5, loss: 0.7 });
      at = new Date('2026-12-02T07:00:09.000Z');
      await store.recordProgress(id, { epoch: 1, step: 7, steps: 10, epochSeconds: 10.5, loss: Number.NaN });
      const expected = { epoch: 1, step: 7, steps: 10, epochSeconds: 10.5, loss: null, updatedAt: '2026-12-02T07:00:09.000Z' };
      expect((await store.getRun(id)).progress).toEqual(expected);
      expect((await sut.reopen(now).getRun(id)).progress).toEqual(expected);
      for (const bad of [{ step: 11 }, { step: 1.5 }, { steps: 0 }, { epoch: 0 }, { epochSeconds: -1 }]) {
        expect((await rejection(store.recordProgress(id, { epoch: 1, step: 1, steps: 10, epochSeconds: 1, loss: 1, ...bad })))).toMatchObject({ kind: 'invalid-input' });
      }
      expect((await rejection(store.recordProgress('run-20991231T000000-abcdef', { epoch: 1, step: 1, steps: 2, epochSeconds: 0, loss: 1 }))).code).toBe('RUN_NOT_FOUND');
      expect((await store.getRun(id)).progress).toEqual(expected);
    });

    it('finishes a run with its version, or fails it with a reason', async () => {
      const a = await store.createRun(sampleRun());
      at = new Date('2026-12-02T07:05:00.000Z');
      const done = await store.finishRun(a.id, { status: 'finished', version: 'unet-small-20261202T070500-abcdef' });
      expect(done).toMatchObject({ status: 'finished', version: 'unet-small-20261202T070500-abcdef', finishedAt: at.toISOString(), createdAt: '2026-12-02T07:00:00.000Z' });
      expect((await store.getRun(a.id)).run).toEqual(done);
      const b = await store.createRun(sampleRun());
      const failed = await store.finishRun(b.id, { status: 'failed', error: 'out of memory' });
      expect(failed).toMatchObject({ status: 'failed', error: 'out of memory' });
      expect(failed.version).toBeUndefined();
      expect((await rejection(store.finishRun(b.id, { status: 'running' as 'failed' }))).kind).toBe('invalid-input');
    });

    it('lists runs newest first with their status and latest epoch', async () => {
      const ids: string[] = [];
      for (const t of ['2026-12-02T07:00:00.000Z', '2026-12-01T07:00:00.000Z', '2026-12-03T07:00:00.000Z']) {
        at = new Date(t);
        ids.push((await store.createRun(sampleRun())).id);
      }
      await store.recordEpoch(ids[1], epochRecord(1, true));
      await store.finishRun(ids[0], { status: 'failed', error: 'x' });
      const listed = await store.listRuns();
      expect(listed.map((r) => r.id)).toEqual([ids[2], ids[0], ids[1]]);
      expect(listed.map((r) => [r.status, r.latestEpoch])).toEqual([['running', null], ['failed', null], ['running', 1]]);
    });

    it('refuses bad ids, epochs and layer names with invalid-input, and unknown runs with not-found', async () => {
      const { id } = await store.createRun(sampleRun());
      const png = new Map([['enc1', samplePng(1)]]);
      for (const bad of ['../evil', '..', 'a/b', 'a\\b', '', '.hidden', 'x'.repeat(200), '%2e%2e', 'a b']) {
        for (const call of [
          () => store.getRun(bad),
          () => store.readHeatmap(bad, 1, 'enc1'),
          () => store.recordEpoch(bad, epochRecord(1, false)),
          () => store.recordHeatmaps(bad, 1, png),
          () => store.finishRun(bad, { status: 'failed' }),
        ]) {
          const err = await rejection(call());
          expect(err.kind).toBe('invalid-input');
          expect(err.code).toBe('RUN_ID_INVALID');
        }
      }
      for (const layer of ['../x', 'a/b', 'score.png', '']) {
        expect((await rejection(store.readHeatmap(id, 1, layer))).code).toBe('RUN_LAYER_INVALID');
        expect((await rejection(store.recordHeatmaps(id, 1, new Map([[layer, samplePng(1)]])))).code).toBe('RUN_LAYER_INVALID');
      }
      for (const epoch of [0, -1, 1.5, Number.NaN]) {
        expect((await rejection(store.readHeatmap(id, epoch, 'enc1'))).code).toBe('RUN_EPOCH_INVALID');
        expect((await rejection(store.recordEpoch(id, { ...epochRecord(1, false), epoch }))).code).toBe('RUN_EPOCH_INVALID');
      }
      expect((await rejection(store.createRun(sampleRun({ architecture: '../x' })))).code).toBe('RUN_RECORD_INVALID');
      expect((await rejection(store.createRun(sampleRun({ manifestSha256: 'nope' })))).code).toBe('RUN_RECORD_INVALID');
      expect((await rejection(store.createRun(sampleRun({ layers: ['ok', '../x'] })))).code).toBe('RUN_LAYER_INVALID');

      const unknown = 'run-20991231T000000-abcdef';
      for (const call of [() => store.getRun(unknown), () => store.readHeatmap(unknown, 1, 'enc1'), () => store.recordEpoch(unknown, epochRecord(1, false)), () => store.finishRun(unknown, { status: 'finished' })]) {
        const err = await rejection(call());
        expect(err.kind).toBe('not-found');
        expect(err.code).toBe('RUN_NOT_FOUND');
      }
      expect((await store.listRuns()).map((r) => r.id)).toEqual([id]);
    });

    it('keeps one run per folder under runs/, as documented', async () => {
      const { id } = await store.createRun(sampleRun());
      await store.recordEpoch(id, epochRecord(1, true));
      await store.recordHeatmaps(id, 1, new Map([['enc1', samplePng(1)]]));
      expect(await sut.keys()).toEqual([`runs/${id}/epochs.json`, `runs/${id}/heatmaps.json`, `runs/${id}/heatmaps/1/enc1.png`, `runs/${id}/run.json`]);
    });

    it('loses no epoch when a trainer records many at once', async () => {
      const { id } = await store.createRun(sampleRun());
      await Promise.all(Array.from({ length: 12 }, (_, k) => store.recordEpoch(id, epochRecord(k + 1, k % 2 === 0))));
      expect((await store.getRun(id)).epochs.map((e) => e.epoch)).toEqual(Array.from({ length: 12 }, (_, k) => k + 1));
    });
  });
}
