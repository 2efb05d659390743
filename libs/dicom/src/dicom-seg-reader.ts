/// <reference path="./dcmjs-types.d.ts" />
/**
 * DICOM Segmentation (SOP class 1.2.840.10008.5.1.4.1.1.66.4) reading: binary and fractional, multi-frame, with what
 * each frame references (source image, segment, plane position) and who made each segment. Used by the PACS path's
 * round-trip checks and by `lvseg dataset import`. Messages never carry patient-identifying values.
 */
import { NaturalDataset, data as dcmjsData } from 'dcmjs';
import { LvsegError } from '@lvseg/common';
import type { BinaryMask } from '@lvseg/imaging';

/** A coded concept (Code Sequence Macro). */
export interface CodedConcept {
  CodeValue: string;
  CodingSchemeDesignator: string;
  CodeMeaning: string;
}

export interface SegSegment {
  number: number;
  label?: string;
  category?: CodedConcept;
  type?: CodedConcept;
  /** AUTOMATIC, SEMIAUTOMATIC or MANUAL. */
  algorithmType?: string;
  algorithmName?: string;
}

export interface SegFrame {
  /** The source image this frame was derived from (Derivation Image → Source Image). */
  referencedSopInstanceUid?: string;
  referencedSegmentNumber?: number;
  imagePositionPatient?: number[];
  /** For a FRACTIONAL segmentation: pixels at or above half the maximum fractional value. */
  mask: BinaryMask;
}

export interface ReadSegmentation {
  sopClassUid?: string;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  frameOfReferenceUid?: string;
  /** BINARY or FRACTIONAL. */
  segmentationType?: string;
  manufacturer?: string;
  /** ContentDate + ContentTime (else SeriesDate + SeriesTime) as digits `YYYYMMDDHHMMSS…`, for ordering; may be empty. */
  contentDateTime: string;
  rows: number;
  columns: number;
  segments: SegSegment[];
  /** Source series and instances named in the Common Instance Reference module. */
  referencedSeries: Array<{ seriesInstanceUid?: string; sopInstanceUids: string[] }>;
  frames: SegFrame[];
}

export const SEGMENTATION_STORAGE_UID = '1.2.840.10008.5.1.4.1.1.66.4';

const first = <T = NaturalDataset>(v: unknown): T | undefined => (Array.isArray(v) ? (v[0] as T) : (v as T | undefined));
const asString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const asNumber = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : undefined);
const code = (v: unknown): CodedConcept | undefined => {
  const c = first<NaturalDataset>(v);
  return c ? { CodeValue: String(c.CodeValue), CodingSchemeDesignator: String(c.CodingSchemeDesignator), CodeMeaning: String(c.CodeMeaning) } : undefined;
};

/** `YYYYMMDDHHMMSS…` from a DA and a TM value (either may be missing), for ordering objects by when they were made. */
export function dicomDateTimeKey(date: unknown, time: unknown): string {
  const d = typeof date === 'string' ? date.replace(/\D/g, '') : '';
  const t = typeof time === 'string' ? time.replace(/[^0-9.]/g, '') : '';
  return d === '' ? '' : d + t.padEnd(6, '0');
}

/** Reads a DICOM file with dcmjs into its naturalized dataset (keywords → values). */
export function naturalizeDicom(bytes: Uint8Array): NaturalDataset {
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return dcmjsData.DicomMetaDictionary.naturalizeDataset(dcmjsData.DicomMessage.readFile(copy).dict);
}

function pixelBytes(ds: NaturalDataset): Uint8Array {
  const parts = Array.isArray(ds.PixelData) ? (ds.PixelData as ArrayBuffer[]) : [];
  if (parts.length <= 1) return new Uint8Array(parts[0] ?? new ArrayBuffer(0));
  // dcmjs splits encapsulated data into fragments; native data comes as one part.
  throw new LvsegError('unsupported', 'DICOM_SEG_COMPRESSED', 'compressed (encapsulated) segmentation pixel data is not read');
}

/** Reads a binary or fractional DICOM Segmentation into one mask per frame, with what each frame references. */
export function readDicomSeg(bytes: Uint8Array): ReadSegmentation {
  let ds: NaturalDataset;
  try {
    ds = naturalizeDicom(bytes);
  } catch (e) {
    throw new LvsegError('invalid-input', 'DICOM_SEG_UNREADABLE', `not a readable DICOM file: ${String((e as Error).message ?? e).slice(0, 200)}`);
  }
  return segmentationOf(ds);
}

/** The segmentation in an already naturalized dataset (see `readDicomSeg`). */
export function segmentationOf(ds: NaturalDataset): ReadSegmentation {
  const rows = asNumber(ds.Rows) ?? 0;
  const columns = asNumber(ds.Columns) ?? 0;
  const frames = asNumber(ds.NumberOfFrames) ?? 1;
  const bitsAllocated = asNumber(ds.BitsAllocated);
  const segmentationType = asString(ds.SegmentationType);
  const fractional = segmentationType === 'FRACTIONAL';
  if (!fractional && bitsAllocated !== 1) throw new LvsegError('unsupported', 'DICOM_SEG_NOT_BINARY', 'a BINARY segmentation must have BitsAllocated 1');
  if (fractional && bitsAllocated !== 8) throw new LvsegError('unsupported', 'DICOM_SEG_FRACTIONAL_BITS', 'a FRACTIONAL segmentation must have BitsAllocated 8');
  if (!(rows > 0 && columns > 0 && frames > 0)) throw new LvsegError('invalid-input', 'DICOM_SEG_GEOMETRY', 'the segmentation has no Rows, Columns or frames');
  const pixels = pixelBytes(ds);
  const pixelsPerFrame = rows * columns;
  const needed = fractional ? frames * pixelsPerFrame : Math.ceil((frames * pixelsPerFrame) / 8);
  if (pixels.length < needed) throw new LvsegError('invalid-input', 'DICOM_SEG_SHORT_PIXEL_DATA', 'the pixel data is shorter than NumberOfFrames × Rows × Columns');
  // Fractional: a pixel belongs to the segment when its fraction is at least one half.
  const maxFraction = asNumber(ds.MaximumFractionalValue) ?? 255;
  const threshold = maxFraction / 2;

  const perFrame = Array.isArray(ds.PerFrameFunctionalGroupsSequence) ? (ds.PerFrameFunctionalGroupsSequence as NaturalDataset[]) : [];
  const shared = first<NaturalDataset>(ds.SharedFunctionalGroupsSequence) ?? {};
  const out: SegFrame[] = [];
  for (let f = 0; f < frames; f++) {
    const data = new Uint8Array(pixelsPerFrame);
    const offset = f * pixelsPerFrame;
    if (fractional) {
      for (let i = 0; i < pixelsPerFrame; i++) data[i] = pixels[offset + i] >= threshold && pixels[offset + i] > 0 ? 1 : 0;
    } else {
      for (let i = 0; i < pixelsPerFrame; i++) {
        const bit = offset + i;
        data[i] = (pixels[bit >> 3] >> (bit & 7)) & 1;
      }
    }
    const item = perFrame[f] ?? {};
    const derivation = first<NaturalDataset>(item.DerivationImageSequence) ?? first<NaturalDataset>(shared.DerivationImageSequence);
    const source = first<NaturalDataset>(derivation?.SourceImageSequence);
    const segmentId = first<NaturalDataset>(item.SegmentIdentificationSequence) ?? first<NaturalDataset>(shared.SegmentIdentificationSequence);
    const position = first<NaturalDataset>(item.PlanePositionSequence) ?? first<NaturalDataset>(shared.PlanePositionSequence);
    out.push({
      referencedSopInstanceUid: asString(source?.ReferencedSOPInstanceUID),
      referencedSegmentNumber: asNumber(segmentId?.ReferencedSegmentNumber),
      imagePositionPatient: Array.isArray(position?.ImagePositionPatient) ? (position!.ImagePositionPatient as unknown[]).map(Number) : undefined,
      mask: { rows, columns, data },
    });
  }

  const segments = (Array.isArray(ds.SegmentSequence) ? (ds.SegmentSequence as NaturalDataset[]) : []).map((s) => ({
    number: asNumber(s.SegmentNumber) ?? 0,
    label: asString(s.SegmentLabel),
    category: code(s.SegmentedPropertyCategoryCodeSequence),
    type: code(s.SegmentedPropertyTypeCodeSequence),
    algorithmType: asString(s.SegmentAlgorithmType),
    algorithmName: asString(s.SegmentAlgorithmName),
  }));
  const referencedSeries = (Array.isArray(ds.ReferencedSeriesSequence) ? (ds.ReferencedSeriesSequence as NaturalDataset[]) : []).map((s) => ({
    seriesInstanceUid: asString(s.SeriesInstanceUID),
    sopInstanceUids: (Array.isArray(s.ReferencedInstanceSequence) ? (s.ReferencedInstanceSequence as NaturalDataset[]) : []).map((r) => String(r.ReferencedSOPInstanceUID)),
  }));

  return {
    sopClassUid: asString(ds.SOPClassUID),
    sopInstanceUid: asString(ds.SOPInstanceUID),
    studyInstanceUid: asString(ds.StudyInstanceUID),
    seriesInstanceUid: asString(ds.SeriesInstanceUID),
    frameOfReferenceUid: asString(ds.FrameOfReferenceUID),
    segmentationType,
    manufacturer: asString(ds.Manufacturer),
    contentDateTime: dicomDateTimeKey(ds.ContentDate, ds.ContentTime) || dicomDateTimeKey(ds.SeriesDate, ds.SeriesTime),
    rows,
    columns,
    segments,
    referencedSeries,
    frames: out,
  };
}
