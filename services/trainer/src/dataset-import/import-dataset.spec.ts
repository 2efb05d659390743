import { isLvsegError } from '@lvseg/common';
import type { SegSegment } from '@lvseg/dicom';
import { dicomWebSource } from './dicomweb-source';
import { DEFAULT_LV_SELECTION, isUnreviewedLvsegSegment, lvSegmentOf } from './import-dataset';

const lv = { CodeValue: '87878005', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Left ventricle' };
const myo = { CodeValue: '74281007', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Myocardium' };

describe('which segment is the LV', () => {
  const segments: SegSegment[] = [
    { number: 1, label: 'Myocardium', type: myo },
    { number: 2, label: 'Something', type: lv },
    { number: 3, label: 'lv blood pool' },
  ];

  it('is chosen by coded type first, then by label (case-insensitive), and both are configurable', () => {
    expect(lvSegmentOf(segments, DEFAULT_LV_SELECTION)?.number).toBe(2);
    expect(lvSegmentOf(segments, { codes: [], labels: DEFAULT_LV_SELECTION.labels })?.number).toBe(3);
    expect(lvSegmentOf(segments, { codes: ['sct:74281007'], labels: [] })?.number).toBe(1);
    expect(lvSegmentOf(segments, { codes: [], labels: ['Endo'] })).toBeUndefined();
  });

  it("counts lvseg's own AUTOMATIC segments as unreviewed, a MANUAL or SEMIAUTOMATIC one (a reviewer saved it) or another writer's as expert", () => {
    expect(isUnreviewedLvsegSegment({ manufacturer: 'lvseg' }, { number: 1, algorithmType: 'AUTOMATIC', algorithmName: 'lvseg unet-small v1' })).toBe(true);
    expect(isUnreviewedLvsegSegment({ manufacturer: 'OHIF' }, { number: 1, algorithmType: 'AUTOMATIC', algorithmName: 'lvseg cascade v2' })).toBe(true);
    expect(isUnreviewedLvsegSegment({ manufacturer: 'lvseg' }, { number: 1, algorithmType: 'SEMIAUTOMATIC', algorithmName: 'lvseg unet-small v1' })).toBe(false);
    expect(isUnreviewedLvsegSegment({ manufacturer: '3D Slicer' }, { number: 1, algorithmType: 'AUTOMATIC', algorithmName: 'MONAI Label' })).toBe(false);
    expect(isUnreviewedLvsegSegment({ manufacturer: 'OHIF' }, { number: 1, algorithmType: 'MANUAL' })).toBe(false);
  });
});

describe('the DICOMweb source', () => {
  it('refuses a URL that is not http(s) or carries credentials, without echoing them', () => {
    for (const url of ['not a url', 'ftp://pacs/dicom-web', 'http://user:secret@pacs:8042/dicom-web']) {
      let err: unknown;
      try {
        dicomWebSource(url);
      } catch (e) {
        err = e;
      }
      expect(isLvsegError(err, 'invalid-input') && err.code).toBe('IMPORT_PACS_URL');
      expect(String((err as Error).message)).not.toContain('secret');
    }
  });

  it('turns HTTP failures into typed errors naming the operation only', async () => {
    const source = dicomWebSource('http://pacs.test/dicom-web', { fetchImpl: (async () => new Response('no', { status: 401 })) as typeof fetch });
    const err = await (async () => {
      for await (const _ of source.labelObjects()) void _;
    })().catch((e) => e);
    expect(isLvsegError(err, 'unavailable') && err.code).toBe('PACS_AUTH_FAILED');
    expect(String(err.message)).toMatch(/^QIDO-RS series search: /);
  });
});
