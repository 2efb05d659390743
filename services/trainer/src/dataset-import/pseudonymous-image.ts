import { NaturalDataset, data as dcmjsData } from 'dcmjs';
import { LvsegError } from '@lvseg/common';
import { lossyCompressionAttributesOf, naturalizeDicom, naturalizeParsed } from '@lvseg/dicom';
import { decodeDicom, decodeDicomImageToNative } from '@lvseg/imaging';

/**
 * The attributes an imported image keeps: what decoding, geometry (EF, slice order) and provenance need. Everything
 * else (patient, study dates, institution, operators, private tags) is dropped: a whitelist, so an attribute nobody
 * thought of cannot slip through.
 */
const KEPT_ATTRIBUTES = [
  'SOPClassUID', 'SOPInstanceUID', 'StudyInstanceUID', 'SeriesInstanceUID', 'FrameOfReferenceUID', 'Modality', 'SeriesNumber', 'InstanceNumber',
  'Rows', 'Columns', 'SamplesPerPixel', 'PhotometricInterpretation', 'PlanarConfiguration', 'NumberOfFrames',
  'BitsAllocated', 'BitsStored', 'HighBit', 'PixelRepresentation', 'RescaleSlope', 'RescaleIntercept', 'RescaleType', 'WindowCenter', 'WindowWidth',
  'PixelSpacing', 'ImagerPixelSpacing', 'SliceThickness', 'SpacingBetweenSlices', 'TriggerTime', 'CardiacNumberOfImages', 'SliceLocation',
  'ImagePositionPatient', 'ImageOrientationPatient', 'PixelData',
  // A once-lossy image says so for good (PS3.3 C.7.6.1.1.5), and how: kept when its pixels are decompressed here.
  'LossyImageCompression', 'LossyImageCompressionRatio', 'LossyImageCompressionMethod',
] as const;

const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

/**
 * A copy of a DICOM image with only `KEPT_ATTRIBUTES`, PatientID and PatientName set to the case pseudonym, and
 * Patient Identity Removed = YES, written as Explicit VR Little Endian. Compressed pixel data (JPEG, JPEG-LS,
 * JPEG 2000, RLE) is decompressed once, here, so training reads the copy as it reads any native file; a lossy source
 * says LossyImageCompression 01 with its ratio and method (the SEG writer's rule: the source's own attributes, or an
 * always-lossy syntax), and nothing is
 * lost again. Checked by decoding both: the copy must give the same pixels, else it is refused
 * (`IMPORT_IMAGE_REWRITE`); a source that does not decode throws its own `LvsegError` (DICOM_…).
 * The source is parsed once: the kept attributes are read from the data set its decode parsed.
 */
export async function pseudonymousImage(bytes: Uint8Array, caseId: string): Promise<Buffer> {
  const { decoded: source, nativePixelData: nativePixels } = await decodeDicomImageToNative(bytes);
  let ds: NaturalDataset;
  try {
    ds = naturalizeParsed(source.dataSet, source.meta.transferSyntaxUid, KEPT_ATTRIBUTES) ?? naturalizeDicom(bytes);
  } catch (e) {
    throw new LvsegError('invalid-input', 'IMPORT_IMAGE_UNREADABLE', `image is not readable DICOM: ${String((e as Error).message).slice(0, 120)}`);
  }
  const out: NaturalDataset = {};
  for (const k of KEPT_ATTRIBUTES) if (ds[k] !== undefined && ds[k] !== null && ds[k] !== '') out[k] = ds[k];
  Object.assign(out, {
    PatientID: caseId,
    PatientName: caseId,
    PatientIdentityRemoved: 'YES',
    DeidentificationMethod: 'lvseg dataset import: attribute whitelist, keyed-hash pseudonym',
    _vrMap: { PixelData: Number(ds.BitsAllocated) > 8 ? 'OW' : 'OB' },
  });
  if (nativePixels) {
    // What the source states is kept as it is; an always-lossy syntax that states nothing gets the attributes here.
    if (out.LossyImageCompression !== '01') Object.assign(out, lossyCompressionAttributesOf(ds, source.meta.transferSyntaxUid) ?? {});
    out.PixelData = [nativePixels.slice().buffer];
  }
  const meta = dcmjsData.DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: ds.SOPClassUID,
    MediaStorageSOPInstanceUID: ds.SOPInstanceUID,
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationVersionName: 'LVSEG_IMPORT',
    _vrMap: { FileMetaInformationVersion: 'OB' },
  });
  const file = new dcmjsData.DicomDict(meta);
  file.dict = dcmjsData.DicomMetaDictionary.denaturalizeDataset(out);
  const written = Buffer.from(file.write());
  const before = source.image.data;
  let after: ArrayLike<number>;
  try {
    // The synchronous decoder, as training reads the copy (it reads native pixel data only).
    after = decodeDicom(written).image.data;
  } catch {
    after = [];
  }
  if (after.length !== before.length || !Array.prototype.every.call(before, (v: number, i: number) => v === after[i])) {
    throw new LvsegError('unsupported', 'IMPORT_IMAGE_REWRITE', 'the pseudonymised copy of an image does not decode to the same pixels (Explicit VR Big Endian, retired, is not rewritten)');
  }
  return written;
}

