import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@lvseg/common';
import { DicomMeta, decodeDicom } from '@lvseg/imaging';
import { shortAxisSkipReason } from './short-axis-check';

/** A real short-axis cine frame (Sunnybrook SCD0000401, frame 100) shipped as a fixture. */
const real = decodeDicom(readFileSync(join(repoRoot(), 'libs/imaging/test-fixtures/sunnybrook/SCD0000401/100.dcm'))).meta;
const withMeta = (patch: Partial<DicomMeta>): DicomMeta => ({ ...real, ...patch });

describe('shortAxisSkipReason', () => {
  it('accepts a real short-axis cine MR frame (oblique plane, no description)', () => {
    expect(real.modality).toBe('MR');
    expect(shortAxisSkipReason([real, withMeta({ sopInstanceUid: '1.2.3' })])).toBeUndefined();
  });

  it.each([
    [[withMeta({ modality: 'CT' })], 'NOT_MR'],
    [[real, withMeta({ modality: 'OT' })], 'NOT_MR'],
    [[withMeta({ modality: undefined })], 'NOT_MR'],
    [[withMeta({ sopClassUid: '1.2.840.10008.5.1.4.1.1.4.1' })], 'UNSUPPORTED_SOP_CLASS'],
    [[withMeta({ seriesDescription: 'CINE 4CH' })], 'NOT_SHORT_AXIS'],
    [[withMeta({ seriesDescription: 'cine_LAX_2ch' })], 'NOT_SHORT_AXIS'],
    [[withMeta({ imageOrientationPatient: [1, 0, 0, 0, 1, 0] })], 'NOT_SHORT_AXIS'], // axial
    [[withMeta({ imageOrientationPatient: [0, 1, 0, 0, 0, -1] })], 'NOT_SHORT_AXIS'], // sagittal
    [[real, withMeta({ imageOrientationPatient: [0.2, 0.9, 0.38, 0.7, 0.1, -0.7] })], 'NOT_SHORT_AXIS'], // not parallel
    [[withMeta({ imageOrientationPatient: undefined })], 'NOT_SHORT_AXIS'],
    [[], 'NO_IMAGES'],
  ])('skips %#: %s', (images, code) => {
    expect(shortAxisSkipReason(images as DicomMeta[])?.code).toBe(code);
  });

  it('trusts a short-axis description for standard planes or missing geometry', () => {
    expect(shortAxisSkipReason([withMeta({ seriesDescription: 'SA stack cine', imageOrientationPatient: [1, 0, 0, 0, 1, 0] })])).toBeUndefined();
    expect(shortAxisSkipReason([withMeta({ seriesDescription: 'sax', imageOrientationPatient: undefined })])).toBeUndefined();
  });
});
