import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LvsegError } from '@lvseg/common';
import { DataFolder, fileDataFolder } from './data-folder';
import { loadDataset } from './dataset';
import { readCsvRecords, readManifest } from './manifest';
import { encodeGrayPng, encodeMaskPng } from './png';

/** A data folder held in memory: what another DataFolder (an archive, object storage) would hand over. */
function memoryFolder(files: Record<string, Buffer | string>): DataFolder {
  return { location: 'mem://set', read: (path) => (path in files ? Buffer.from(files[path]) : undefined) };
}

function thrown(f: () => unknown): LvsegError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(LvsegError);
    return e as LvsegError;
  }
  throw new Error('expected a throw');
}

const image = encodeGrayPng(2, 3, Uint8Array.from([0, 10, 20, 30, 40, 50]));
const mask = encodeMaskPng({ rows: 2, columns: 3, data: Uint8Array.from([0, 1, 1, 0, 0, 1]) });

describe('DataFolder', () => {
  it('loads a data set through any folder, not only the disk', () => {
    const folder = memoryFolder({
      'manifest.csv': 'case,image,label,split\nc1,img/a.png,lbl/a.png,train\nc2,img/a.png,lbl/a.png,val\n',
      'img/a.png': image,
      'lbl/a.png': mask,
    });
    const { manifest, items } = loadDataset(folder, { splits: ['val'] });
    expect([manifest.dir, manifest.kind, manifest.rows.length]).toEqual(['mem://set', 'png', 2]);
    expect(items.map((i) => [i.id, i.case, i.split, i.image.columns, i.image.rows])).toEqual([['c2/a', 'c2', 'val', 3, 2]]);
    expect(Array.from(items[0].mask.data)).toEqual([0, 1, 1, 0, 0, 1]);
  });

  it('names what is missing, by the folder it was looked for in', () => {
    expect(thrown(() => readManifest(memoryFolder({}))).message).toBe('no manifest.csv in data folder mem://set');
    const e = thrown(() => loadDataset(memoryFolder({ 'manifest.csv': 'case,image,label,split\nc1,a.png,b.png,train\n', 'a.png': image })));
    expect([e.code, e.message]).toEqual(['DATA_FILE_NOT_FOUND', 'data file b.png listed in mem://set/manifest.csv is missing']);
  });

  it('reads files on disk (undefined for a missing one) and CSVs by path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-data-folder-'));
    try {
      writeFileSync(join(dir, 'cases.csv'), 'case,"note, quoted"\nc1,"a ""b"""\n');
      const folder = fileDataFolder(dir);
      expect(folder.read('cases.csv')?.toString('utf8')).toContain('c1');
      expect(folder.read('missing.csv')).toBeUndefined();
      expect(folder.read('cases.csv/below')).toBeUndefined();
      expect(readCsvRecords(join(dir, 'cases.csv'))).toEqual([{ case: 'c1', 'note, quoted': 'a "b"' }]);
      expect(thrown(() => readCsvRecords(join(dir, 'none.csv'))).code).toBe('CSV_NOT_FOUND');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
