import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LvsegError } from '@lvseg/common';
import { FileModelStore } from './file-model-store';
import { describeModelStoreContract, sampleModelVersion, type StoreFactory } from './testing/model-store.contract';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'lvseg-file-store-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

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

    expect(await readdir(root)).toEqual(expect.arrayContaining(['versions', 'aliases.json']));
    expect((await readdir(join(root, 'versions', card.version))).sort()).toEqual(['card.json', 'model.json', 'weights.bin']);
    expect(JSON.parse(await readFile(join(root, 'versions', card.version, 'card.json'), 'utf8'))).toEqual(card);
    const weights = (request.files as Map<string, Buffer>).get('weights.bin')!;
    expect((await readFile(join(root, 'versions', card.version, 'weights.bin'))).equals(weights)).toBe(true);
    const aliases = JSON.parse(await readFile(join(root, 'aliases.json'), 'utf8'));
    expect(aliases.aliases).toEqual({ production: card.version });
    expect(aliases.history.production).toEqual([{ alias: 'production', action: 'set', version: card.version, at: now().toISOString(), by: 'alice' }]);
    // Staging is emptied after a successful publish, and no temp alias files remain.
    expect(await readdir(join(root, '.staging'))).toEqual([]);
    expect((await readdir(root)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
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
