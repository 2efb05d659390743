import { NaturalDataset, data as dcmjsData } from 'dcmjs';
import { LvsegError } from '@lvseg/common';
import type { BinaryMask } from '@lvseg/imaging';
import type { CodedConcept } from './dicom-seg-writer';

export interface SegSegment {
  number: number;
  label?: string;
  category?: CodedConcept;
  type?: CodedConcept;
  algorithmType?: string;
  algorithmName?: string;
}

export interface SegFrame {
  /** The source image this frame was derived from (Derivation Image → Source Image). */
  referencedSopInstanceUid?: string;
  referencedSegmentNumber?: number;
  imagePositionPatient?: number[];
  mask: BinaryMask;
}

export interface ReadSegmentation {
  sopClassUid?: string;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  frameOfReferenceUid?: string;
  segmentationType?: string;
  rows: number;
  columns: number;
  segments: SegSegment[];
  /** Source series and instances named in the Common Instance Reference module. */
  referencedSeries: Array<{ seriesInstanceUid?: string; sopInstanceUids: string[] }>;
  frames: SegFrame[];
}

const first = <T = NaturalDataset>(v: unknown): T | undefined => (Array.isArray(v) ? (v[0] as T) : (v as T | undefined));
const asString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const asNumber = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : undefined);
const code = (v: unknown): CodedConcept | undefined => {
  const c = first<NaturalDataset>(v);
  return c ? { CodeValue: String(c.CodeValue), CodingSchemeDesignator: String(c.CodingSchemeDesignator), CodeMeaning: String(c.CodeMeaning) } : undefined;
};

/** Reads a binary DICOM Segmentation (as lvseg writes it) back into one mask per frame, with what each frame references. */
export function readDicomSeg(bytes: Uint8Array): ReadSegmentation {
  let ds: NaturalDataset;
  try {
    const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    ds = dcmjsData.DicomMetaDictionary.naturalizeDataset(dcmjsData.DicomMessage.readFile(copy).dict);
  } catch (e) {
    throw new LvsegError('invalid-input', 'DICOM_SEG_UNREADABLE', `not a readable DICOM file: ${String((e as Error).message ?? e).slice(0, 200)}`);
  }
  const rows = asNumber(ds.Rows) ?? 0;
  const columns = asNumber(ds.Columns) ?? 0;
  const frames = asNumber(ds.NumberOfFrames) ?? 1;
  if (asNumber(ds.BitsAllocated) !== 1) throw new LvsegError('unsupported', 'DICOM_SEG_NOT_BINARY', 'only binary segmentations (BitsAllocated 1) are read');
  const pixelParts = Array.isArray(ds.PixelData) ? (ds.PixelData as ArrayBuffer[]) : [];
  const pixels = new Uint8Array(pixelParts[0] ?? new ArrayBuffer(0));
  const pixelsPerFrame = rows * columns;
  if (pixels.length * 8 < frames * pixelsPerFrame) throw new LvsegError('invalid-input', 'DICOM_SEG_SHORT_PIXEL_DATA', 'the pixel data is shorter than NumberOfFrames × Rows × Columns bits');

  const perFrame = Array.isArray(ds.PerFrameFunctionalGroupsSequence) ? (ds.PerFrameFunctionalGroupsSequence as NaturalDataset[]) : [];
  const shared = first<NaturalDataset>(ds.SharedFunctionalGroupsSequence) ?? {};
  const out: SegFrame[] = [];
  for (let f = 0; f < frames; f++) {
    const data = new Uint8Array(pixelsPerFrame);
    const offset = f * pixelsPerFrame;
    for (let i = 0; i < pixelsPerFrame; i++) {
      const bit = offset + i;
      data[i] = (pixels[bit >> 3] >> (bit & 7)) & 1;
    }
    const item = perFrame[f] ?? {};
    const derivation = first<NaturalDataset>(item.DerivationImageSequence);
    const source = first<NaturalDataset>(derivation?.SourceImageSequence);
    const segmentId = first<NaturalDataset>(item.SegmentIdentificationSequence) ?? first<NaturalDataset>(shared.SegmentIdentificationSequence);
    const position = first<NaturalDataset>(item.PlanePositionSequence);
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
    segmentationType: asString(ds.SegmentationType),
    rows,
    columns,
    segments,
    referencedSeries,
    frames: out,
  };
}

/** Reads a DICOM file with dcmjs into its naturalized dataset (keywords → values). */
export function naturalizeDicom(bytes: Uint8Array): NaturalDataset {
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return dcmjsData.DicomMetaDictionary.naturalizeDataset(dcmjsData.DicomMessage.readFile(copy).dict);
}
