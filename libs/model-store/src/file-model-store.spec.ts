import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LvsegError, refusalOf } from '@lvseg/common';
import { FileModelStore } from './file-model-store';
import { runAliasMoversTogether } from './testing/alias-movers';
import { describeModelStoreContract, sampleModelVersion, type StoreFactory } from './testing/model-store.contract';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'lvseg-file-store-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const rejectionOf = refusalOf;

const fileStoreFactory: StoreFactory = async ({ now, seedFrom }) => {
  const root = await mkdtemp(join(tmp, 'store-'));
  const open = (o: { now: () => Date; seedFrom?: string }) => new FileModelStore({ root, now: o.now, seedFrom: o.seedFrom });
  return {
    store: open({ now, seedFrom }),
    reopen: open,
    overwriteFile: (version, name, bytes) => writeFile(join(root, 'versions', version, name), bytes),
    deleteFile: (version, name) => rm(join(root, 'versions', version, name)),
    async leaveCrashedPublish(version, files) {
      // A crash before the final rename leaves a complete staging directory, card included.
      const staging = join(root, '.staging', `${version}-crashed`);
      await mkdir(staging, { recursive: true });
      for (const [name, bytes] of files) await writeFile(join(staging, name), bytes);
      await writeFile(join(staging, 'card.json'), JSON.stringify({ version, files: {}, createdAt: new Date().toISOString() }));
    },
  };
};

describeModelStoreContract('FileModelStore on a temp directory', fileStoreFactory);

describe('FileModelStore specifics', () => {
  const now = () => new Date('2025-03-01T10:00:00.000Z');

  it('lays versions and aliases out as documented', async () => {
    const root = await mkdtemp(join(tmp, 'layout-'));
    const store = new FileModelStore({ root, now });
    const request = sampleModelVersion();
    const card = await store.publish(request);
    await store.setAlias('production', card.version, { by: 'alice' });

    expect((await readdir(root)).sort()).toEqual(['.staging', 'aliases', 'versions']);
    expect((await readdir(join(root, 'versions', card.version))).sort()).toEqual(['card.json', 'model.json', 'weights.bin']);
    expect(JSON.parse(await readFile(join(root, 'versions', card.version, 'card.json'), 'utf8'))).toEqual(card);
    const weights = (request.files as Map<string, Buffer>).get('weights.bin')!;
    expect((await readFile(join(root, 'versions', card.version, 'weights.bin'))).equals(weights)).toBe(true);
    const log = await readdir(join(root, 'aliases', 'log'));
    expect(log).toEqual([expect.stringMatching(/^000000000001-20250301T100000\.000Z-[0-9a-f]{32}\.json$/)]);
    expect(JSON.parse(await readFile(join(root, 'aliases', 'log', log[0]), 'utf8'))).toEqual({ alias: 'production', action: 'set', version: card.version, at: now().toISOString(), by: 'alice' });
    // Staging is emptied after a successful publish, and no temp alias files remain.
    expect(await readdir(join(root, '.staging'))).toEqual([]);
    expect((await readdir(join(root, 'aliases', 'log'))).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('does not replace a version directory another writer put in place first', async () => {
    const request = sampleModelVersion();
    // Same clock and same files give the same id, so a probe store tells us which id the publish will use.
    const probe = await new FileModelStore({ root: await mkdtemp(join(tmp, 'probe-')), now }).publish(request);
    const root = await mkdtemp(join(tmp, 'race-'));
    // Another process's version directory, still without its card (so the existence pre-check passes).
    const winner = join(root, 'versions', probe.version);
    await mkdir(winner, { recursive: true });
    await writeFile(join(winner, 'weights.bin'), 'theirs');

    const err = await new FileModelStore({ root, now }).publish(request).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LvsegError);
    expect((err as LvsegError).code).toBe('MODEL_VERSION_EXISTS');
    expect(await readFile(join(winner, 'weights.bin'), 'utf8')).toBe('theirs');
    expect(await readdir(join(root, '.staging'))).toEqual([]);
  });

  /** Four versions and a store whose log is written by hand, to pin down how concurrent moves fold. */
  async function storeWithLog(moves: { seq: number; tie?: string; action: 'set' | 'rollback'; version: number; previous?: number }[]) {
    const root = await mkdtemp(join(tmp, 'fold-'));
    const store = new FileModelStore({ root, now });
    const v: string[] = [];
    for (let k = 0; k < 4; k++) v.push((await store.publish(sampleModelVersion())).version);
    await mkdir(join(root, 'aliases', 'log'), { recursive: true });
    for (const m of moves) {
      const entry = { alias: 'production', action: m.action, version: v[m.version], ...(m.previous !== undefined ? { previous: v[m.previous] } : {}), at: now().toISOString() };
      const name = `${String(m.seq).padStart(12, '0')}-20250301T100000.000Z-${(m.tie ?? '0').repeat(32)}.json`;
      await writeFile(join(root, 'aliases', 'log', name), JSON.stringify(entry));
    }
    return { store, v };
  }

  it('folds two rollbacks made from the same view as one step back, not two', async () => {
    const { store, v } = await storeWithLog([
      { seq: 1, action: 'set', version: 0 },
      { seq: 2, action: 'set', version: 1, previous: 0 },
      { seq: 3, action: 'set', version: 2, previous: 1 },
      // Two processes saw v2 on top and both rolled back to v1: one sequence number, ordered by the random part.
      { seq: 4, tie: 'a', action: 'rollback', version: 1, previous: 2 },
      { seq: 4, tie: 'b', action: 'rollback', version: 1, previous: 2 },
    ]);
    expect(await store.aliases()).toEqual({ production: v[1] });
    expect(await store.aliasHistory('production')).toHaveLength(5);
    expect(await store.rollback('production')).toEqual({ alias: 'production', previous: v[1], current: v[0] });
  });

  it('folds a rollback computed from a stale view to the version it names, undoing the move it did not see', async () => {
    const { store, v } = await storeWithLog([
      { seq: 1, action: 'set', version: 0 },
      { seq: 2, action: 'set', version: 1, previous: 0 },
      { seq: 3, action: 'set', version: 2, previous: 1 },
      { seq: 4, tie: 'a', action: 'set', version: 3, previous: 2 }, // a promote of v3 …
      { seq: 4, tie: 'b', action: 'rollback', version: 1, previous: 2 }, // … raced by a rollback that still saw v2
    ]);
    expect(await store.aliases()).toEqual({ production: v[1] });
    expect((await store.aliasHistory('production')).map((e) => e.version)).toEqual([v[0], v[1], v[2], v[3], v[1]]);
    // Back to where v1 was current: v2 and v3 are no longer needed by the alias, and the next rollback goes to v0.
    await store.delete(v[3]);
    await store.delete(v[2]);
    expect(await store.rollback('production')).toEqual({ alias: 'production', previous: v[1], current: v[0] });
  });

  it('orders the rollback after the promote it raced when its random part sorts later, and the promote then wins', async () => {
    const { store, v } = await storeWithLog([
      { seq: 1, action: 'set', version: 0 },
      { seq: 2, action: 'set', version: 1, previous: 0 },
      { seq: 3, tie: 'a', action: 'rollback', version: 0, previous: 1 },
      { seq: 3, tie: 'b', action: 'set', version: 2, previous: 1 },
    ]);
    expect(await store.aliases()).toEqual({ production: v[2] });
    expect(await store.rollback('production')).toEqual({ alias: 'production', previous: v[2], current: v[0] });
  });

  it('puts the card back and refuses when another process points an alias at the version while it is being deleted', async () => {
    const root = await mkdtemp(join(tmp, 'delete-race-'));
    let otherProcess: (() => Promise<void>) | undefined;
    /** The real store, paused right after the card is gone to let the other process's move land. */
    class DeleteRacedByPromote extends FileModelStore {
      protected override async deleteCard(version: string): Promise<void> {
        await super.deleteCard(version);
        await otherProcess?.();
      }
    }
    const store = new DeleteRacedByPromote({ root, now });
    const [v0, v1] = [(await store.publish(sampleModelVersion())).version, (await store.publish(sampleModelVersion())).version];
    await store.setAlias('production', v0);
    // It checked v1's card before the delete removed it, and its move lands just after.
    otherProcess = () =>
      writeFile(join(root, 'aliases', 'log', `000000000002-20250301T100000.000Z-${'f'.repeat(32)}.json`), JSON.stringify({ alias: 'production', action: 'set', version: v1, previous: v0, at: now().toISOString() }));
    expect(await rejectionOf(store.delete(v1))).toMatchObject({ code: 'MODEL_VERSION_IN_USE', message: `cannot delete ${v1}: alias production points at it` });
    expect((await store.load('production')).card.version).toBe(v1);
    expect((await store.list()).map((c) => c.version).sort()).toEqual([v0, v1].sort());
  });

  it('reads an aliases.json written by an earlier version (like the shipped models/ store) as the starting state', async () => {
    const root = await mkdtemp(join(tmp, 'legacy-'));
    const store = new FileModelStore({ root, now });
    const [v1, v2] = [(await store.publish(sampleModelVersion())).version, (await store.publish(sampleModelVersion())).version];
    const legacy = JSON.stringify({ aliases: { production: v2 }, history: { production: [{ alias: 'production', action: 'set', version: v2, previous: v1, at: '2025-01-01T00:00:00.000Z' }] } });
    await writeFile(join(root, 'aliases.json'), legacy);
    expect(await store.aliases()).toEqual({ production: v2 });
    expect((await rejectionOf(store.delete(v1))).message).toBe(`cannot delete ${v1}: alias production would roll back to it`);
    expect(await store.rollback('production')).toEqual({ alias: 'production', previous: v2, current: v1 });
    expect(await readFile(join(root, 'aliases.json'), 'utf8')).toBe(legacy);
    expect(await new FileModelStore({ root }).aliases()).toEqual({ production: v1 });
  });

  it('loses no alias move when separate processes move aliases in one directory at the same time', async () => {
    const root = await mkdtemp(join(tmp, 'processes-'));
    const store = new FileModelStore({ root });
    const versions: string[] = [];
    for (let k = 0; k < 3; k++) versions.push((await store.publish(sampleModelVersion({ weightBytes: 64 }))).version);
    const outputs = await runAliasMoversTogether(
      [0, 1].map((i) => ({ uri: pathToFileURL(root).href, worker: `w${i}`, index: i, moves: 20, aliases: ['production', 'staging'], versions })),
    );
    const landed = outputs.flat().filter((r) => r.outcome === 'moved').map((r) => r.reason);
    expect(landed.length).toBeGreaterThan(0);
    const names = (await readdir(join(root, 'aliases', 'log'))).sort();
    const log = await Promise.all(names.map(async (n) => JSON.parse(await readFile(join(root, 'aliases', 'log', n), 'utf8')) as { alias: string; version: string; reason: string }));
    expect(log.map((e) => e.reason).sort()).toEqual([...landed].sort());
    const folded: Record<string, string> = {};
    for (const e of log) folded[e.alias] = e.version;
    expect(await new FileModelStore({ root }).aliases()).toEqual(folded);
  });

  it('resolves a relative root from the working directory', () => {
    const store = new FileModelStore({ root: 'var/models-relative' });
    expect(store.root).toBe(resolve(process.cwd(), 'var/models-relative'));
    expect(store.uri).toBe(pathToFileURL(resolve('var/models-relative')).href);
  });

  it('reports a corrupt aliases.json as an integrity error', async () => {
    const root = await mkdtemp(join(tmp, 'corrupt-'));
    await writeFile(join(root, 'aliases.json'), '{ not json');
    const err = await new FileModelStore({ root }).aliases().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LvsegError);
    expect((err as LvsegError).code).toBe('MODEL_ALIASES_CORRUPT');
  });

  it('does not seed a store from itself', async () => {
    const root = await mkdtemp(join(tmp, 'self-'));
    const store = new FileModelStore({ root, seedFrom: root, now });
    const card = await store.publish(sampleModelVersion());
    expect((await store.list()).map((c) => c.version)).toEqual([card.version]);
  });
});
