import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest, readCsvRecords } from './manifest';

describe('parseManifest', () => {
  it('reads PNG-pair manifests and ignores extra columns', () => {
    const m = parseManifest('case,image,label,split,challenge_set\nA,images/a.png,labels/a.png,train,training\nB,"images/b,1.png",labels/b.png,val,validation\n');
    expect(m.kind).toBe('png');
    expect(m.rows).toEqual([
      { case: 'A', image: 'images/a.png', label: 'labels/a.png', split: 'train' },
      { case: 'B', image: 'images/b,1.png', label: 'labels/b.png', split: 'val' },
    ]);
    expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reads DICOM + contour manifests', () => {
    const m = parseManifest('case,image,contour,split\nX,X/1.dcm,X/IM-0001-0001-icontour-manual.txt,train\n');
    expect(m.kind).toBe('dicom-contour');
    expect(m.rows[0].contour).toBe('X/IM-0001-0001-icontour-manual.txt');
  });

  it('reads DICOM + PNG label manifests (what lvseg dataset import writes)', () => {
    const m = parseManifest('case,image,label,split,label_source\np1,p1/0001.dcm,p1/0001-label.png,train,seg\np1,p1/0002.DCM,p1/0002-label.png,train,rtstruct\n');
    expect(m.kind).toBe('dicom-label');
    expect(m.rows[1]).toEqual({ case: 'p1', image: 'p1/0002.DCM', label: 'p1/0002-label.png', split: 'train' });
    expect(parseManifest('case,image,label,split\np1,p1/0001.dcm,a.png,train\np1,b.png,b-label.png,train\n').kind).toBe('png');
  });

  it.each([
    ['', 'MANIFEST_EMPTY'],
    ['case,image,split\nA,a.png,train', 'MANIFEST_COLUMNS'],
    ['case,image,label,split\nA,,l.png,train', 'MANIFEST_ROW'],
    ['case,image,label,split\nA,../../etc/passwd,l.png,train', 'MANIFEST_PATH'],
    ['case,image,label,split\nA,/abs.png,l.png,train', 'MANIFEST_PATH'],
  ])('rejects a bad manifest with a typed error (%#)', (text, code) => {
    expect(() => parseManifest(text)).toThrow(expect.objectContaining({ code }));
  });
});

describe('readCsvRecords', () => {
  it('keys each row by the header, with quoted fields, "" escapes, CRLF and blank lines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-csv-'));
    try {
      const file = join(dir, 'x.csv');
      writeFileSync(file, 'case,image,note\r\nA,a.dcm,"one, two"\r\n\r\nB,b.dcm,"say ""hi"""\nC,c.dcm\n');
      expect(readCsvRecords(file)).toEqual([
        { case: 'A', image: 'a.dcm', note: 'one, two' },
        { case: 'B', image: 'b.dcm', note: 'say "hi"' },
        { case: 'C', image: 'c.dcm', note: '' },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
