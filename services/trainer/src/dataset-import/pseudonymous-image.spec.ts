import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLvsegError, repoRoot } from '@lvseg/common';
import { data as dcmjsData } from 'dcmjs';
import { naturalizeDicom } from '@lvseg/dicom';
import { decodeDicom, decodeDicomImage } from '@lvseg/imaging';
import { pseudonymousImage } from './pseudonymous-image';

const FIXTURES = join(repoRoot(), 'libs', 'imaging', 'test-fixtures');
const fixture = (rel: string) => new Uint8Array(readFileSync(join(FIXTURES, rel)));
const CASE = 'p0123456789abcdef';

describe('pseudonymousImage', () => {
  // Sunnybrook's files (and so DCMTK's variants of one) carry the patient's code as PatientName and PatientID.
  const identifying = 'SCD0000401';

  it.each([
    ['sunnybrook/SCD0000401/100.dcm', '1.2.840.10008.1.2.1'],
    ['dicom/implicit-le.dcm', '1.2.840.10008.1.2.1'],
    ['dicom/jpeg-lossless.dcm', '1.2.840.10008.1.2.1'],
    ['dicom/jpeg-ls.dcm', '1.2.840.10008.1.2.1'],
    ['dicom/rle.dcm', '1.2.840.10008.1.2.1'],
    ['dicom/jpeg-baseline.dcm', '1.2.840.10008.1.2.1'],
  ])('%s: the copy gives the same pixels and metadata, written as %s (native), with the pseudonym and no patient attribute', async (file, syntax) => {
    const source = fixture(file);
    const copy = await pseudonymousImage(source, CASE);
    // The copy is native: the synchronous decoder (what training uses) reads it.
    const [a, b] = [await decodeDicomImage(source), decodeDicom(copy)];
    expect(Buffer.from(b.image.data.buffer).equals(Buffer.from(a.image.data.buffer))).toBe(true);
    expect(b.meta).toEqual({ ...a.meta, transferSyntaxUid: syntax });
    const ds = naturalizeDicom(copy);
    expect([ds.PatientID, ds.PatientName, ds.PatientIdentityRemoved]).toEqual([CASE, [{ Alphabetic: CASE }], 'YES']);
    expect(ds.PatientBirthDate).toBeUndefined();
    expect(ds.StudyDate).toBeUndefined();
    expect(Buffer.from(copy).toString('latin1')).not.toContain(identifying);
  });

  it('the sources above but one (img2dcm wrote no patient) do carry the patient code the copies drop', () => {
    const carrying = ['sunnybrook/SCD0000401/100.dcm', 'dicom/implicit-le.dcm', 'dicom/jpeg-lossless.dcm', 'dicom/jpeg-ls.dcm', 'dicom/rle.dcm'];
    for (const f of carrying) expect({ f, has: Buffer.from(fixture(f)).toString('latin1').includes(identifying) }).toEqual({ f, has: true });
  });

  it('refuses Explicit VR Big Endian (retired) as a rewrite it cannot do, as before', async () => {
    const err = await pseudonymousImage(fixture('dicom/explicit-be.dcm'), CASE).catch((e: unknown) => e);
    expect(isLvsegError(err) && err.code).toBe('IMPORT_IMAGE_REWRITE');
  });

  it('decompresses once: a lossy source (JPEG baseline) says LossyImageCompression 01 with ratio and method, lossless ones do not claim it', async () => {
    const lossy = naturalizeDicom(await pseudonymousImage(fixture('dicom/jpeg-baseline.dcm'), CASE));
    // img2dcm stated them (01, 3.1556, ISO_10918_1): kept as stated.
    expect([lossy.LossyImageCompression, lossy.LossyImageCompressionRatio, lossy.LossyImageCompressionMethod]).toEqual(['01', 3.1556, 'ISO_10918_1']);
    // A JPEG baseline source that states nothing is lossy by its syntax: 01, the method it names, the ratio of its bytes.
    const ds = naturalizeDicom(fixture('dicom/jpeg-baseline.dcm'));
    for (const k of ['LossyImageCompression', 'LossyImageCompressionRatio', 'LossyImageCompressionMethod']) delete ds[k];
    const meta = dcmjsData.DicomMetaDictionary.denaturalizeDataset({ FileMetaInformationVersion: new Uint8Array([0, 1]).buffer, MediaStorageSOPClassUID: ds.SOPClassUID, MediaStorageSOPInstanceUID: ds.SOPInstanceUID, TransferSyntaxUID: '1.2.840.10008.1.2.4.50', _vrMap: { FileMetaInformationVersion: 'OB' } });
    const file = new dcmjsData.DicomDict(meta);
    file.dict = dcmjsData.DicomMetaDictionary.denaturalizeDataset({ ...ds, _vrMap: { PixelData: 'OB' } });
    const silent = new Uint8Array(file.write({ fragmentMultiframe: false }));
    expect(naturalizeDicom(silent).LossyImageCompression).toBeUndefined();
    const fromSyntax = naturalizeDicom(await pseudonymousImage(silent, CASE));
    expect(fromSyntax.LossyImageCompression).toBe('01');
    expect(fromSyntax.LossyImageCompressionMethod).toBe('ISO_10918_1');
    expect(fromSyntax.LossyImageCompressionRatio).toBeCloseTo((64 * 64) / (naturalizeDicom(silent).PixelData as ArrayBuffer[])[0].byteLength, 2);
    for (const file of ['dicom/jpeg-ls.dcm', 'dicom/rle.dcm', 'dicom/jpeg-lossless.dcm']) {
      expect(naturalizeDicom(await pseudonymousImage(fixture(file), CASE)).LossyImageCompression).toBeUndefined();
    }
  });

  it("throws the source's own decode error for a damaged stream (not a rewrite error)", async () => {
    const source = fixture('dicom/jpeg-ls.dcm');
    const damaged = source.slice(0, source.length - 3000);
    const err = await pseudonymousImage(damaged, CASE).catch((e: unknown) => e);
    expect(isLvsegError(err)).toBe(true);
    expect((err as { code: string }).code).toMatch(/^DICOM_/);
  });
});
