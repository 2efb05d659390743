/// <reference path="./dcmjs-types.d.ts" />
/**
 * Attributes of an image libs/imaging has already parsed (dicom-parser, to decode its pixels) in dcmjs's naturalized
 * form, without parsing the file again: each element's bytes, located by dicom-parser, are decoded by dcmjs's own value
 * representation (padding, numbers, person names, the character set), so a value equals what `naturalizeDicom` reads
 * (the spec checks it on real files). Sequences are not read: no caller copies one from a source image.
 */
import { TextDecoder } from 'node:util';
import type { DataSet } from 'dicom-parser';
import { NaturalDataset, constants as dcmjsConstants, data as dcmjsData } from 'dcmjs';
import { naturalizeDicom } from './dicom-seg-reader';

const IMPLICIT_LITTLE_ENDIAN = '1.2.840.10008.1.2';
const EXPLICIT_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
const EXPLICIT_BIG_ENDIAN = '1.2.840.10008.1.2.2';
/** VRs dcmjs reads as one value, not split at "\" (its DicomMessage._readTag). */
const SINGLE_VALUE_VRS = ['SQ', 'OF', 'OW', 'OB', 'UN', 'LT'];

/** What lvseg's SEG and SR writers read of a source image (`writeLvSegmentation`, `writeLvFunctionSr`, `patientAndStudyOf`). */
export const WRITER_SOURCE_ATTRIBUTES = [
  'SpecificCharacterSet', 'PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'IssuerOfPatientID',
  'StudyDate', 'StudyTime', 'ReferringPhysicianName', 'StudyID', 'AccessionNumber', 'StudyDescription',
  'SOPClassUID', 'SOPInstanceUID', 'StudyInstanceUID', 'SeriesInstanceUID', 'SeriesNumber', 'InstanceNumber', 'FrameOfReferenceUID',
  'Rows', 'Columns', 'BitsAllocated', 'PixelSpacing', 'SliceThickness', 'ImagePositionPatient', 'ImageOrientationPatient', 'TriggerTime',
  'LossyImageCompression', 'LossyImageCompressionRatio', 'LossyImageCompressionMethod', 'PixelData',
] as const;

/** The string decoder dcmjs would use for the data set, or undefined where dcmjs refuses to read it (several or unknown character sets). */
function decoderOf(dataSet: DataSet): TextDecoder | undefined {
  if (!dataSet.elements.x00080005) return new TextDecoder('latin1');
  const terms = (dataSet.string('x00080005') ?? '').split('\\');
  if (terms.length > 1) return undefined;
  const label = dcmjsConstants.encodingMapping[terms[0].replace(/[_ ]/g, '-').toLowerCase()];
  if (label === undefined) return undefined;
  try {
    return new TextDecoder(label);
  } catch {
    return undefined;
  }
}

/**
 * The `keywords` attributes of a data set dicom-parser parsed, naturalized as dcmjs does (SpecificCharacterSet becomes
 * ISO_IR 192, as dcmjs holds strings decoded and writes UTF-8); PixelData is the element's bytes (one buffer per
 * fragment when encapsulated). Undefined where dcmjs would not read the file's strings (several or unknown character
 * sets): `naturalizeDicom` then says why.
 */
export function naturalizeParsed(dataSet: DataSet, transferSyntaxUid: string, keywords: readonly string[]): NaturalDataset | undefined {
  const decoder = decoderOf(dataSet);
  if (!decoder) return undefined;
  const littleEndian = transferSyntaxUid !== EXPLICIT_BIG_ENDIAN;
  const syntax = transferSyntaxUid === EXPLICIT_BIG_ENDIAN || transferSyntaxUid === IMPLICIT_LITTLE_ENDIAN ? transferSyntaxUid : EXPLICIT_LITTLE_ENDIAN;
  const bytes = dataSet.byteArray;
  // Copies (a Node Buffer's slice is a view on its whole pool).
  const copy = (from: number, length: number) => Uint8Array.prototype.slice.call(bytes, from, from + length).buffer as ArrayBuffer;
  const dict: Record<string, { vr: string; Value?: unknown[] }> = {};
  let pixelData: ArrayBuffer[] | undefined;
  for (const keyword of keywords) {
    const entry = dcmjsData.DicomMetaDictionary.nameMap[keyword];
    if (!entry) throw new Error(`${keyword} is not a DICOM keyword`);
    const tag = entry.tag.replace(/[(),]/g, '');
    const el = dataSet.elements[`x${tag.toLowerCase()}`];
    if (!el) continue;
    if (keyword === 'PixelData') {
      pixelData = el.fragments ? el.fragments.map((f) => copy(f.position, f.length)) : [copy(el.dataOffset, el.length)];
      continue;
    }
    // As dcmjs: the VR the file states (explicit VR), else the dictionary's.
    const vr = dcmjsData.ValueRepresentation.createByTypeString(el.vr && el.vr !== 'UN' ? el.vr : entry.vr);
    const stream = new dcmjsData.ReadBufferStream(copy(el.dataOffset, el.length), littleEndian);
    stream.setDecoder(decoder);
    let values: unknown[];
    if (vr.isBinary() && vr.maxLength && el.length > vr.maxLength && !vr.noMultiple) {
      values = [];
      for (let i = 0; i < el.length / vr.maxLength; i++) values.push(vr.read(stream, vr.maxLength, syntax)?.value);
    } else {
      const value = vr.read(stream, el.length, syntax)?.value;
      if (!vr.isBinary() && !SINGLE_VALUE_VRS.includes(vr.type)) values = typeof value === 'string' ? vr.dropPadByte(value.split('\\')) : (value as unknown[]);
      else values = Array.isArray(value) ? value : [value];
    }
    dict[tag] = { vr: vr.type, Value: keyword === 'SpecificCharacterSet' ? ['ISO_IR 192'] : values };
  }
  const ds = dcmjsData.DicomMetaDictionary.naturalizeDataset(dict);
  if (pixelData) ds.PixelData = pixelData;
  return ds;
}

/**
 * What the SEG and SR writers need of a decoded source image (`SegSource.dataset`), from the data set its decode
 * parsed; the file is read again (dcmjs) only when dcmjs's character-set rules need it.
 */
export function writerSourceOf(decoded: { dataSet: DataSet; meta: { transferSyntaxUid: string } }, bytes: Uint8Array): NaturalDataset {
  return naturalizeParsed(decoded.dataSet, decoded.meta.transferSyntaxUid, WRITER_SOURCE_ATTRIBUTES) ?? naturalizeDicom(bytes);
}
