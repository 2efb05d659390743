/**
 * The behaviour every ModelStore implementation must show, written once and run by each implementation's spec
 * against the real thing (a temp directory, an in-process S3 server, MinIO in Docker). Test support only: not
 * exported from the library index.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { LvsegError, refusalOf } from '@lvseg/common';
import { FileModelStore } from '../file-model-store';
import type { ModelCard, NewModelVersion } from '../model-card';
import type { ModelStore } from '../model-store';
import { promote } from '../promote';

/** A store under test plus ways to damage its storage behind its back. */
export interface StoreUnderTest {
  store: ModelStore;
  /** A second instance on the same storage, e.g. to see what a restarted process sees. */
  reopen(opts: StoreFactoryOptions): ModelStore;
  /** Replaces the bytes of one stored model file. */
  overwriteFile(version: string, name: string, bytes: Buffer): Promise<void>;
  deleteFile(version: string, name: string): Promise<void>;
  /** Leaves what a publish that crashed before completion would leave: the files, but no visible version. */
  leaveCrashedPublish(version: string, files: Map<string, Buffer>): Promise<void>;
}

export interface StoreFactoryOptions {
  now: () => Date;
  seedFrom?: string;
}

/** Makes a fresh, empty store on fresh storage. */
export type StoreFactory = (opts: StoreFactoryOptions) => Promise<StoreUnderTest>;

/** A publish request with fresh random weights; `valDice: null` leaves the val split out. */
export function sampleModelVersion(opts: { architecture?: string; valDice?: number | null; weightBytes?: number; source?: string; protocol?: string } = {}): NewModelVersion {
  const weights = randomBytes(opts.weightBytes ?? 4096);
  const modelJson = Buffer.from(JSON.stringify({ format: 'layers-model', weightsManifest: [{ paths: ['weights.bin'] }] }));
  const valDice = opts.valDice === undefined ? 0.9 : opts.valDice;
  return {
    architecture: opts.architecture ?? 'unet-small',
    parameterCount: 123_456,
    inputShape: [256, 256, 1],
    classes: ['background', 'lv'],
    preprocessing: { normalize: { lowPercentile: 0.5, highPercentile: 99.5 } },
    hyperParameters: { learningRate: 0.001, epochs: 3, batchSize: 8, ...(opts.protocol ? { protocol: opts.protocol } : {}) },
    data: { manifestSha256: createHash('sha256').update('manifest.csv').digest('hex'), source: opts.source ?? 'sunnybrook', trainImages: 200, valImages: 40 },
    metrics: {
      train: { dice: 0.95, pixelAccuracy: 0.99 },
      ...(valDice === null ? {} : { val: { dice: valDice, pixelAccuracy: 0.98, images: 40 } }),
    },
    backend: 'tensorflow',
    trainingTimeMs: 60_000,
    gitCommit: '0123456789abcdef0123456789abcdef01234567',
    files: new Map([
      ['model.json', modelJson],
      ['weights.bin', weights],
    ]),
  };
}

function filesOf(v: NewModelVersion): Map<string, Buffer> {
  const entries = v.files instanceof Map ? [...v.files] : Object.entries(v.files);
  return new Map(entries.map(([k, b]) => [k, Buffer.from(b)]));
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

const rejection = refusalOf;

/** Registers the shared behaviour suite for one implementation. */
export function describeModelStoreContract(label: string, factory: StoreFactory): void {
  describe(`ModelStore contract: ${label}`, () => {
    let clock: number;
    const now = () => new Date(clock);
    const setClock = (iso: string) => {
      clock = Date.parse(iso);
    };
    let sut: StoreUnderTest;
    let store: ModelStore;
    let scratch: string;

    beforeAll(async () => {
      scratch = await mkdtemp(join(tmpdir(), 'lvseg-contract-'));
    });
    afterAll(async () => {
      await rm(scratch, { recursive: true, force: true });
    });
    beforeEach(async () => {
      setClock('2025-03-01T10:00:00.000Z');
      sut = await factory({ now });
      store = sut.store;
    });

    it('publishes a version and loads it back byte for byte', async () => {
      const request = sampleModelVersion();
      const files = filesOf(request);
      const card = await store.publish(request);

      // Version id: <arch>-<UTC stamp>-<6 hex of the sha over sorted "name:sha256" lines>.
      const contentSha = sha256([...files.keys()].sort().map((n) => `${n}:${sha256(files.get(n)!)}\n`).join(''));
      expect(card.version).toBe(`unet-small-20250301T100000-${contentSha.slice(0, 6)}`);
      expect(card.createdAt).toBe('2025-03-01T10:00:00.000Z');
      expect(card.files).toEqual({
        'model.json': { sha256: sha256(files.get('model.json')!), bytes: files.get('model.json')!.length },
        'weights.bin': { sha256: sha256(files.get('weights.bin')!), bytes: 4096 },
      });
      expect(card.metrics.val.dice).toBe(0.9);
      expect(card.hyperParameters).toEqual({ learningRate: 0.001, epochs: 3, batchSize: 8 });

      expect(await store.list()).toEqual([card]);
      expect(await store.getCard(card.version)).toEqual(card);
      expect(await store.resolve(card.version)).toBe(card.version);
      const loaded = await store.load(card.version);
      expect(loaded.card).toEqual(card);
      expect([...loaded.files.keys()].sort()).toEqual(['model.json', 'weights.bin']);
      for (const [name, bytes] of files) expect(loaded.files.get(name)!.equals(bytes)).toBe(true);

      // A second instance (a restarted process) sees the same thing.
      const again = await sut.reopen({ now }).load(card.version);
      expect(again.card).toEqual(card);
      expect(again.files.get('weights.bin')!.equals(files.get('weights.bin')!)).toBe(true);
    });

    it('accepts files as a plain object of Uint8Arrays', async () => {
      const weights = new Uint8Array(randomBytes(100));
      const card = await store.publish({ ...sampleModelVersion(), files: { 'weights.bin': weights } });
      const loaded = await store.load(card.version);
      expect(Buffer.compare(loaded.files.get('weights.bin')!, Buffer.from(weights))).toBe(0);
    });

    it('never overwrites a version: republishing the same id is a conflict and the original stays', async () => {
      const request = sampleModelVersion();
      const first = await store.publish(request);
      const err = await rejection(store.publish(request));
      expect(err.kind).toBe('conflict');
      expect(err.code).toBe('MODEL_VERSION_EXISTS');
      expect(err.message).toContain(first.version);

      // Same instant, different weights: a different id, no conflict.
      const other = await store.publish(sampleModelVersion());
      expect(other.version).not.toBe(first.version);
      expect((await store.load(first.version)).files.get('weights.bin')!.equals(filesOf(request).get('weights.bin')!)).toBe(true);
      expect((await store.list()).map((c) => c.version).sort()).toEqual([first.version, other.version].sort());
    });

    it('refuses a tampered file, naming it (same size, one byte flipped)', async () => {
      const card = await store.publish(sampleModelVersion());
      const tampered = Buffer.from((await store.load(card.version)).files.get('weights.bin')!);
      tampered[100] ^= 0xff;
      await sut.overwriteFile(card.version, 'weights.bin', tampered);

      const err = await rejection(store.load(card.version));
      expect(err.kind).toBe('integrity');
      expect(err.code).toBe('MODEL_INTEGRITY');
      expect(err.message).toContain('weights.bin');
      expect(err.message).toContain('sha256');
      expect(err.details).toEqual({ version: card.version, file: 'weights.bin' });
      // The card itself is still readable, so operators can see what was expected.
      expect((await store.getCard(card.version)).files['weights.bin'].bytes).toBe(4096);
    });

    it('refuses a file whose size differs from the card', async () => {
      const card = await store.publish(sampleModelVersion());
      await sut.overwriteFile(card.version, 'weights.bin', randomBytes(10));
      const err = await rejection(store.load(card.version));
      expect(err.code).toBe('MODEL_INTEGRITY');
      expect(err.message).toMatch(/weights\.bin has 10 bytes.*4096/);
    });

    it('refuses a version with a missing file, naming it', async () => {
      const card = await store.publish(sampleModelVersion());
      await sut.deleteFile(card.version, 'model.json');
      const err = await rejection(store.load(card.version));
      expect(err.kind).toBe('integrity');
      expect(err.code).toBe('MODEL_INTEGRITY');
      expect(err.message).toContain('model.json');
      expect(err.message).toContain('missing');
    });

    it('reports unknown refs as not-found', async () => {
      await store.publish(sampleModelVersion());
      for (const ref of ['unet-small-20990101T000000-abcdef', 'production']) {
        for (const call of [() => store.load(ref), () => store.getCard(ref), () => store.resolve(ref)]) {
          const err = await rejection(call());
          expect(err.kind).toBe('not-found');
          expect(err.code).toBe('MODEL_NOT_FOUND');
        }
      }
      const err = await rejection(store.setAlias('production', 'unet-small-20990101T000000-abcdef'));
      expect(err.kind).toBe('not-found');
      expect(await store.aliases()).toEqual({});
    });

    it('moves aliases, records who and why, and rolls back step by step', async () => {
      const v1 = (await store.publish(sampleModelVersion())).version;
      setClock('2025-03-02T10:00:00.000Z');
      const v2 = (await store.publish(sampleModelVersion())).version;
      setClock('2025-03-03T10:00:00.000Z');
      const v3 = (await store.publish(sampleModelVersion())).version;

      setClock('2025-03-04T08:00:00.000Z');
      expect(await store.setAlias('production', v1, { by: 'alice', reason: 'first release' })).toEqual({ alias: 'production', current: v1 });
      expect(await store.resolve('production')).toBe(v1);
      expect((await store.load('production')).card.version).toBe(v1);
      expect((await store.getCard('production')).version).toBe(v1);

      setClock('2025-03-04T09:00:00.000Z');
      expect(await store.setAlias('production', v2, { by: 'bob' })).toEqual({ alias: 'production', previous: v1, current: v2 });
      setClock('2025-03-04T10:00:00.000Z');
      await store.setAlias('production', v3, { reason: 'better val Dice' });
      await store.setAlias('staging', v3);
      expect(await store.aliases()).toEqual({ production: v3, staging: v3 });

      // Pointing at the current target changes nothing and records nothing.
      expect(await store.setAlias('production', v3)).toEqual({ alias: 'production', previous: v3, current: v3 });

      setClock('2025-03-04T11:00:00.000Z');
      expect(await store.rollback('production', { by: 'carol', reason: 'regression on site B' })).toEqual({ alias: 'production', previous: v3, current: v2 });
      expect(await store.resolve('production')).toBe(v2);
      expect(await store.rollback('production')).toEqual({ alias: 'production', previous: v2, current: v1 });
      const err = await rejection(store.rollback('production'));
      expect(err.kind).toBe('conflict');
      expect(err.code).toBe('MODEL_ALIAS_NO_PREVIOUS');
      expect(await store.resolve('production')).toBe(v1);
      expect(await store.resolve('staging')).toBe(v3);

      const history = await store.aliasHistory('production');
      expect(history).toEqual([
        { alias: 'production', action: 'set', version: v1, at: '2025-03-04T08:00:00.000Z', by: 'alice', reason: 'first release' },
        { alias: 'production', action: 'set', version: v2, previous: v1, at: '2025-03-04T09:00:00.000Z', by: 'bob' },
        { alias: 'production', action: 'set', version: v3, previous: v2, at: '2025-03-04T10:00:00.000Z', reason: 'better val Dice' },
        { alias: 'production', action: 'rollback', version: v2, previous: v3, at: '2025-03-04T11:00:00.000Z', by: 'carol', reason: 'regression on site B' },
        { alias: 'production', action: 'rollback', version: v1, previous: v2, at: '2025-03-04T11:00:00.000Z' },
      ]);
      expect(await store.aliasHistory('never-set')).toEqual([]);
      expect((await rejection(store.rollback('never-set'))).code).toBe('MODEL_ALIAS_NOT_FOUND');

      // What a restarted process sees.
      const reopened = sut.reopen({ now });
      expect(await reopened.aliases()).toEqual({ production: v1, staging: v3 });
      expect(await reopened.aliasHistory('production')).toEqual(history);
    });

    it('loses no alias move when many are made at once', async () => {
      const v = (await store.publish(sampleModelVersion())).version;
      const names = Array.from({ length: 8 }, (_, i) => `canary-${i}`);
      await Promise.all(names.map((a) => store.setAlias(a, v)));
      expect(await store.aliases()).toEqual(Object.fromEntries(names.map((a) => [a, v])));
      for (const a of names) expect(await store.aliasHistory(a)).toHaveLength(1);
    });

    it('refuses names that could escape the store or confuse refs', async () => {
      const v = (await store.publish(sampleModelVersion())).version;
      const bad = ['../evil', '..', 'a/b', 'a\\b', '/etc/passwd', '', '.hidden', 'a b', 'x'.repeat(200), 'v1/../../etc', '%2e%2e'];
      for (const name of bad) {
        for (const call of [() => store.resolve(name), () => store.getCard(name), () => store.load(name)]) {
          expect((await rejection(call())).kind).toBe('invalid-input');
        }
        expect((await rejection(store.setAlias(name, v))).code).toBe('MODEL_ALIAS_INVALID');
        expect((await rejection(store.setAlias('ok', name))).code).toBe('MODEL_VERSION_INVALID');
        expect((await rejection(store.aliasHistory(name))).kind).toBe('invalid-input');
        expect((await rejection(store.rollback(name))).kind).toBe('invalid-input');
      }
      // An alias shaped like a version id would shadow that version.
      expect((await rejection(store.setAlias('unet-small-20250301T100000-abcdef', v))).code).toBe('MODEL_ALIAS_INVALID');

      const base = sampleModelVersion();
      const badFiles: Record<string, Buffer>[] = [{ '../x.bin': Buffer.from('x') }, { 'a/b.bin': Buffer.from('x') }, { 'card.json': Buffer.from('{}') }];
      for (const files of badFiles) {
        expect((await rejection(store.publish({ ...base, files }))).code).toBe('MODEL_FILE_NAME_INVALID');
      }
      expect((await rejection(store.publish({ ...base, architecture: '../unet' }))).code).toBe('MODEL_CARD_INVALID');
      expect((await rejection(store.publish({ ...base, parent: '../x' }))).code).toBe('MODEL_VERSION_INVALID');
      expect((await store.list()).map((c) => c.version)).toEqual([v]);
      expect(await store.aliases()).toEqual({});
    });

    it('deletes a version no alias needs, and refuses one an alias points at or would roll back to', async () => {
      const versions: string[] = [];
      for (let k = 0; k < 4; k++) {
        setClock(`2025-03-0${k + 1}T10:00:00.000Z`);
        versions.push((await store.publish(sampleModelVersion())).version);
      }
      const [a, b, c, d] = versions;
      await store.setAlias('production', a);
      await store.setAlias('production', b); // rollback target: a
      await store.setAlias('staging', c);
      expect(await rejection(store.delete(b))).toMatchObject({ kind: 'conflict', code: 'MODEL_VERSION_IN_USE', message: `cannot delete ${b}: alias production points at it` });
      expect(await rejection(store.delete(a))).toMatchObject({ kind: 'conflict', code: 'MODEL_VERSION_IN_USE', message: `cannot delete ${a}: alias production would roll back to it` });
      expect(await rejection(store.delete(c))).toMatchObject({ code: 'MODEL_VERSION_IN_USE' });
      await store.delete(d);
      expect((await store.list()).map((x) => x.version).sort()).toEqual([a, b, c].sort());
      expect((await rejection(store.load(d))).kind).toBe('not-found');
      expect(await rejection(store.delete(d))).toMatchObject({ kind: 'not-found', code: 'MODEL_NOT_FOUND' });
      expect((await rejection(store.delete('../aliases'))).code).toBe('MODEL_VERSION_INVALID');
      // Nothing else moved, and the deleted id can be published again.
      expect(await store.aliases()).toEqual({ production: b, staging: c });
      expect((await store.load(a)).card.version).toBe(a);
    });

    it('lists newest first whatever the publish order', async () => {
      const publishedAt = ['2025-03-02T00:00:00.000Z', '2025-01-15T00:00:00.000Z', '2025-05-30T23:59:59.000Z', '2025-03-02T00:00:01.000Z'];
      for (const at of publishedAt) {
        setClock(at);
        await store.publish(sampleModelVersion());
      }
      const listed = await store.list();
      expect(listed.map((c) => c.createdAt)).toEqual([...publishedAt].sort().reverse());
      expect(listed[0].version).toMatch(/^unet-small-20250530T235959-[0-9a-f]{6}$/);
    });

    it('treats a crashed publish as absent and lets the version be published afterwards', async () => {
      const request = sampleModelVersion();
      const probe = await (await factory({ now })).store.publish(request); // same clock + files => same id here
      await sut.leaveCrashedPublish(probe.version, filesOf(request));

      expect(await store.list()).toEqual([]);
      expect((await rejection(store.load(probe.version))).kind).toBe('not-found');
      const card = await store.publish(request);
      expect(card.version).toBe(probe.version);
      expect((await store.load(card.version)).files.get('weights.bin')!.equals(filesOf(request).get('weights.bin')!)).toBe(true);
    });

    describe('promote', () => {
      it('refuses a version below the Dice bar unless forced, and records the override', async () => {
        const good = (await store.publish(sampleModelVersion({ valDice: 0.86 }))).version;
        const weak = (await store.publish(sampleModelVersion({ valDice: 0.71 }))).version;

        expect(await promote(store, { alias: 'production', version: good, minDice: 0.8, reason: 'nightly' })).toEqual({
          alias: 'production',
          current: good,
          valDice: 0.86,
          forced: false,
        });

        const err = await rejection(promote(store, { alias: 'production', version: weak, minDice: 0.8 }));
        expect(err.kind).toBe('conflict');
        expect(err.code).toBe('MODEL_BELOW_DICE_BAR');
        expect(err.message).toContain('0.71');
        expect(err.message).toContain('0.8');
        expect(await store.resolve('production')).toBe(good);

        expect(await promote(store, { alias: 'production', version: weak, minDice: 0.8, force: true, reason: 'hotfix', by: 'alice' })).toEqual({
          alias: 'production',
          previous: good,
          current: weak,
          valDice: 0.71,
          forced: true,
        });
        const last = (await store.aliasHistory('production')).at(-1);
        expect(last).toMatchObject({ action: 'set', version: weak, previous: good, reason: 'hotfix', by: 'alice', forced: true });
      });

      it('refuses a version with no recorded val Dice, accepts any without a bar, and promotes through an alias', async () => {
        const noVal = (await store.publish(sampleModelVersion({ valDice: null }))).version;
        const err = await rejection(promote(store, { alias: 'production', version: noVal, minDice: 0.5 }));
        expect(err.code).toBe('MODEL_BELOW_DICE_BAR');
        expect(err.message).toContain('no recorded validation Dice');

        expect((await promote(store, { alias: 'staging', version: noVal })).forced).toBe(false);
        const r = await promote(store, { alias: 'production', version: 'staging', minDice: 0.5, force: true });
        expect(r).toEqual({ alias: 'production', current: noVal, forced: true });
        expect((await rejection(promote(store, { alias: 'x', version: noVal, minDice: 1.5 }))).code).toBe('MODEL_DICE_BAR_INVALID');
      });
    });

    describe('seedFrom', () => {
      let seedDir: string;
      let seedCards: ModelCard[];
      let seedFiles: Map<string, Map<string, Buffer>>;

      beforeEach(async () => {
        seedDir = await mkdtemp(join(scratch, 'seed-'));
        const seed = new FileModelStore({ root: seedDir, now });
        seedFiles = new Map();
        seedCards = [];
        for (const at of ['2025-02-01T00:00:00.000Z', '2025-02-02T00:00:00.000Z']) {
          setClock(at);
          const request = sampleModelVersion({ architecture: 'fcn-paper' });
          const card = await seed.publish(request);
          seedCards.unshift(card);
          seedFiles.set(card.version, filesOf(request));
        }
        await seed.setAlias('production', seedCards[1].version, { reason: 'shipped' });
        await seed.setAlias('production', seedCards[0].version, { reason: 'shipped v2' });
      });

      it('copies versions, aliases and history in when the store has no aliases yet, and only then', async () => {
        const seeded = await factory({ now, seedFrom: seedDir });
        expect(await seeded.store.list()).toEqual(seedCards);
        expect(await seeded.store.aliases()).toEqual({ production: seedCards[0].version });
        expect(await seeded.store.aliasHistory('production')).toEqual(await new FileModelStore({ root: seedDir }).aliasHistory('production'));
        for (const card of seedCards) {
          const { files } = await seeded.store.load(card.version);
          for (const [name, bytes] of seedFiles.get(card.version)!) expect(files.get(name)!.equals(bytes)).toBe(true);
        }
        expect(await seeded.store.rollback('production')).toEqual({ alias: 'production', previous: seedCards[0].version, current: seedCards[1].version });

        // The seed grows later; a store that already has aliases is not re-seeded.
        setClock('2025-02-03T00:00:00.000Z');
        await new FileModelStore({ root: seedDir, now }).publish(sampleModelVersion());
        const restarted = seeded.reopen({ now, seedFrom: seedDir });
        expect((await restarted.list()).map((c) => c.version)).toEqual(seedCards.map((c) => c.version));
        expect(await restarted.aliases()).toEqual({ production: seedCards[1].version });
      });

      it('fails with a config error when the seed directory does not exist', async () => {
        const missing = await factory({ now, seedFrom: join(scratch, 'no-such-seed') });
        const err = await rejection(missing.store.list());
        expect(err.kind).toBe('config');
        expect(err.code).toBe('MODEL_STORE_SEED_MISSING');
      });
    });
  });
}
