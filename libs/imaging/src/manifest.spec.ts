import { parseManifest } from './manifest';

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
