import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FileModelStore } from './file-model-store';
import { FileRunStore } from './run-file-store';
import { openRunStore } from './run-open-store';
import { describeRunStoreContract, sampleRun } from './testing/run-store.contract';
import { sampleModelVersion } from './testing/model-store.contract';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'lvseg-run-store-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

describeRunStoreContract('FileRunStore on a temp directory', async (now) => {
  const root = await mkdtemp(join(tmp, 'store-'));
  return {
    store: new FileRunStore({ root, now }),
    reopen: (n) => new FileRunStore({ root, now: n }),
    keys: async () => (await walk(root)).map((p) => relative(root, p).split('\\').join('/')).sort(),
  };
});

describe('FileRunStore specifics', () => {
  it('lives beside the model versions of the same store directory, and openRunStore finds it from the store URI', async () => {
    const root = await mkdtemp(join(tmp, 'beside-'));
    const models = new FileModelStore({ root });
    const card = await models.publish(sampleModelVersion());
    const runs = openRunStore(pathToFileURL(root).href);
    const run = await runs.createRun(sampleRun());
    expect(runs.uri).toBe(pathToFileURL(join(root, 'runs')).href);
    expect((await readdir(root)).filter((n) => !n.startsWith('.')).sort()).toEqual(['runs', 'versions']);
    // The model store does not mistake runs for versions, and vice versa.
    expect((await models.list()).map((c) => c.version)).toEqual([card.version]);
    expect((await runs.listRuns()).map((r) => r.id)).toEqual([run.id]);
    expect(openRunStore(`file://./var/x`)).toBeInstanceOf(FileRunStore);
    expect(() => openRunStore('ftp://x')).toThrow(/use file:\/\/<path> or s3:\/\//);
  });

  it('records the run on the model card, and refuses a run id that is not one', async () => {
    const models = new FileModelStore({ root: await mkdtemp(join(tmp, 'card-run-')) });
    const card = await models.publish({ ...sampleModelVersion(), runId: 'run-20261202T070000-abcdef' });
    expect((await models.getCard(card.version)).runId).toBe('run-20261202T070000-abcdef');
    await expect(models.publish({ ...sampleModelVersion(), runId: '../x' })).rejects.toMatchObject({ code: 'MODEL_CARD_INVALID' });
    expect((await models.publish(sampleModelVersion())).runId).toBeUndefined();
  });

  it('reports a damaged run document as an integrity error, not as a missing run', async () => {
    const root = await mkdtemp(join(tmp, 'damaged-'));
    const runs = new FileRunStore({ root });
    const { id } = await runs.createRun(sampleRun());
    await writeFile(join(root, 'runs', id, 'epochs.json'), '{ half');
    await expect(runs.getRun(id)).rejects.toMatchObject({ kind: 'integrity', code: 'RUN_RECORD_CORRUPT' });
  });
});
