import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileModelFolders } from './model-folder';

describe('fileModelFolders', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lvseg-model-folder-'));
    mkdirSync(join(dir, 'single', 'notes'), { recursive: true });
    writeFileSync(join(dir, 'single', 'model.json'), '{"format":"layers-model"}');
    writeFileSync(join(dir, 'single', 'weights.bin'), Buffer.from([1, 2, 3]));
    writeFileSync(join(dir, 'single', 'card.json'), JSON.stringify({ version: 'v1', architecture: 'unet-small' }));
    mkdirSync(join(dir, 'cascade'));
    writeFileSync(join(dir, 'cascade', 'cascade.json'), '{}');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a folder holding a marker file whole (files only), with its card', () => {
    const found = fileModelFolders.read(join(dir, 'single'), ['model.json'])!;
    expect([...found.files.keys()].sort()).toEqual(['card.json', 'model.json', 'weights.bin']);
    expect(found.files.get('weights.bin')).toEqual(Buffer.from([1, 2, 3]));
    expect(found.card).toMatchObject({ version: 'v1', architecture: 'unet-small' });
    expect(found.source).toBe(join(dir, 'single'));
  });

  it('takes relative paths from the working directory, and a folder without a card', () => {
    const rel = relative(process.cwd(), join(dir, 'cascade'));
    const found = fileModelFolders.read(rel.startsWith('.') ? rel : `./${rel}`, ['model.json', 'cascade.json'])!;
    expect([...found.files.keys()]).toEqual(['cascade.json']);
    expect(found.card).toBeUndefined();
  });

  it('is undefined for a version id or alias, and for a folder without any marker', () => {
    expect(fileModelFolders.read('production', ['model.json'])).toBeUndefined();
    expect(fileModelFolders.read(join(dir, 'cascade'), ['model.json'])).toBeUndefined();
    expect(fileModelFolders.read(join(dir, 'missing'), ['model.json'])).toBeUndefined();
  });
});
