import { NaturalDataset, data as dcmjsData } from 'dcmjs';
import { LvsegError } from '@lvseg/common';
import { naturalizeDicom, naturalizeParsed } from '@lvseg/dicom';
import { decodeDicom } from '@lvseg/imaging';

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
] as const;

const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

/**
 * A copy of a DICOM image with only `KEPT_ATTRIBUTES`, PatientID and PatientName set to the case pseudonym, and
 * Patient Identity Removed = YES. Checked by decoding both: the copy must give the same pixels, else it is refused.
 * The source is parsed once: the kept attributes are read from the data set its decode parsed.
 */
export function pseudonymousImage(bytes: Uint8Array, caseId: string): Buffer {
  const source = decodeDicom(bytes);
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
    after = decodeDicom(written).image.data;
  } catch {
    after = [];
  }
  if (after.length !== before.length || !Array.prototype.every.call(before, (v: number, i: number) => v === after[i])) {
    throw new LvsegError('unsupported', 'IMPORT_IMAGE_REWRITE', 'the pseudonymised copy of an image does not decode to the same pixels (compressed or big-endian pixel data is not rewritten)');
  }
  return written;
}
