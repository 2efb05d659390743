import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLvsegError } from '@lvseg/common';
import { validateNewModelVersion } from '@lvseg/model-store';
import { importedDataProvenance } from './provenance';

const SHA = 'a'.repeat(64);
const summary = {
  version: 1, source: 'dicomweb', location: 'http://pacs:8042/dicom-web', query: 'QIDO-RS /series?Modality=SEG; QIDO-RS /series?Modality=RTSTRUCT',
  importedAt: '2026-12-07T04:00:00.000Z', lvSelection: { codes: ['SCT:87878005'], labels: ['LV'] }, includeLvsegUnreviewed: false, valFraction: 0.2,
  labelObjects: { seg: 3, rtstruct: 2, used: 4 }, images: 40, cases: 3, splits: { train: { cases: 2, images: 28 }, val: { cases: 1, images: 12 } },
  labelSources: { seg: 30, rtstruct: 10 }, skipped: { 'lvseg-unreviewed': 1 }, manifestSha256: SHA,
};

describe('imported data set provenance on the model card', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'lvseg-prov-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('records source, query, counts and the manifest hash, and whether the manifest is still the imported one', () => {
    writeFileSync(join(dir, 'import.json'), JSON.stringify(summary));
    const { imported } = importedDataProvenance(dir, { sha256: SHA });
    expect(imported).toMatchObject({ source: 'dicomweb', location: summary.location, query: summary.query, labelObjects: summary.labelObjects, images: 40, cases: 3, splits: summary.splits, skipped: summary.skipped, manifestSha256: SHA, manifestUnchanged: true });
    expect(importedDataProvenance(dir, { sha256: 'b'.repeat(64) }).imported?.manifestUnchanged).toBe(false);
  });

  it('is absent for a data set lvseg did not import, and a broken import.json is a clear error', () => {
    expect(importedDataProvenance(dir, { sha256: SHA })).toEqual({});
    writeFileSync(join(dir, 'import.json'), '{not json');
    let err: unknown;
    try {
      importedDataProvenance(dir, { sha256: SHA });
    } catch (e) {
      err = e;
    }
    expect(isLvsegError(err, 'invalid-input') && err.code).toBe('IMPORT_SUMMARY_INVALID');
  });

  it('passes the model card validation and is kept on the card', () => {
    writeFileSync(join(dir, 'import.json'), JSON.stringify(summary));
    const { body } = validateNewModelVersion({
      architecture: 'unet-small', parameterCount: 1, inputShape: [256, 256, 1], classes: ['background', 'lv'], preprocessing: {}, hyperParameters: {},
      data: { manifestSha256: SHA, source: 'site', trainImages: 28, valImages: 12, ...importedDataProvenance(dir, { sha256: SHA }) },
      metrics: { train: { dice: 0.9, pixelAccuracy: 0.99 } }, backend: 'cpu', trainingTimeMs: 1, gitCommit: 'abc', files: { 'model.json': Buffer.from('{}') },
    });
    expect(body.data.imported).toMatchObject({ source: 'dicomweb', query: summary.query, manifestSha256: SHA, manifestUnchanged: true });
  });
});
