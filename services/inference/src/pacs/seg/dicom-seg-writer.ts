import { NaturalDataset, data as dcmjsData } from 'dcmjs';
import { LvsegError } from '@lvseg/common';
import type { BinaryMask, CodedConcept } from '@lvseg/imaging';
import { deterministicUid } from './uids';

export type { CodedConcept } from '@lvseg/imaging';

export const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** Identifies lvseg as the writer of the file (File Meta Information). */
export const LVSEG_IMPLEMENTATION_CLASS_UID = deterministicUid('lvseg/implementation-class');

/**
 * The one segment lvseg writes. Category SCT 123037004 "Anatomical Structure" (DICOM CID 7150); type SCT 87878005
 * "Left ventricle" (CID 7152, Cardiac Structure Segmentation Types). The DICOM segmentation context groups have no
 * separate concept for the blood pool, so the label says what the mask is: the blood pool inside the endocardial
 * border, papillary muscles included (the Sunnybrook expert convention the model learned).
 */
export const LV_BLOOD_POOL_SEGMENT = {
  number: 1,
  label: 'Left ventricle blood pool',
  description: 'LV blood pool inside the endocardial border, papillary muscles included',
  category: { CodeValue: '123037004', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Anatomical Structure' } as CodedConcept,
  type: { CodeValue: '87878005', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Left ventricle' } as CodedConcept,
  /** CIELab (DICOM scaling) of a muted red. */
  cieLab: [35759, 46714, 40278],
};

const SEGMENTATION_DERIVATION: CodedConcept = { CodeValue: '113076', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Segmentation' };
const SOURCE_IMAGE_PURPOSE: CodedConcept = { CodeValue: '121322', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Source image for image processing operation' };

/** Attribute tags used as dimension pointers (AT values). */
const TAG = {
  ReferencedSegmentNumber: 0x0062000b,
  SegmentIdentificationSequence: 0x0062000a,
  ImagePositionPatient: 0x00200032,
  PlanePositionSequence: 0x00209113,
};

/** One source image and its mask (at the image's size). */
export interface SegSource {
  /** The source instance as read by dcmjs (naturalized); only identifiers, patient/study attributes and geometry are copied. */
  dataset: NaturalDataset;
  mask: BinaryMask;
}

export interface SegWriteOptions {
  seriesInstanceUid: string;
  sopInstanceUid: string;
  dimensionOrganizationUid: string;
  /** The model that made the masks (SegmentAlgorithmName, SoftwareVersions). */
  model: { version: string; architecture: string };
  /** lvseg's own version. */
  softwareVersion: string;
  /** Defaults to the source SeriesNumber + 1000 (a common convention for derived series), else 1000. */
  seriesNumber?: number;
  /** Content and creation date/time (default now). */
  now?: Date;
}

export interface WrittenSeg {
  bytes: Buffer;
  frames: number;
  frameOfReferenceUid?: string;
  /** SOP Instance UIDs of the source images, in frame order (frame k references sources[k]). */
  frameSources: string[];
  /** Things a reader should know (e.g. the sources did not share one Frame of Reference). */
  warnings: string[];
}

type Vec3 = [number, number, number];

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);
const nums = (v: unknown, n: number): number[] | undefined => {
  if (!Array.isArray(v) || v.length !== n) return undefined;
  const out = v.map(num);
  return out.every((x) => x !== undefined) ? (out as number[]) : undefined;
};
/** LO/SH values have length limits; longer ones make the file invalid. */
const clip = (s: string, max: number): string => (s.length <= max ? s : s.slice(0, max));

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
/** DICOM DA (YYYYMMDD) of `d` in UTC. */
export function dicomDate(d: Date): string {
  return `${d.getUTCFullYear()}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}`;
}
/** DICOM TM (HHMMSS) of `d` in UTC. */
export function dicomTime(d: Date): string {
  return `${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}${pad2(d.getUTCSeconds())}`;
}

function sameNumbers(a: number[] | undefined, b: number[] | undefined, tol = 1e-4): boolean {
  if (!a || !b || a.length !== b.length) return false;
  return a.every((x, i) => Math.abs(x - b[i]) <= tol);
}

function normalOf(iop: number[]): Vec3 {
  const [r0, r1, r2, c0, c1, c2] = iop;
  return [r1 * c2 - r2 * c1, r2 * c0 - r0 * c2, r0 * c1 - r1 * c0];
}

function invalid(code: string, message: string): LvsegError {
  return new LvsegError('invalid-input', code, message);
}

/**
 * The source's character set and its Patient and General Study attributes, copied as they are (type 2 ones present,
 * maybe empty), so a derived object (SEG, SR) files under the same patient and study. Never logged.
 */
export function patientAndStudyOf(source: NaturalDataset): NaturalDataset {
  const copy = (keys: string[], type2: boolean): NaturalDataset => {
    const out: NaturalDataset = {};
    for (const k of keys) {
      const v = source[k];
      if (v !== undefined && v !== null && v !== '') out[k] = v;
      else if (type2) out[k] = '';
    }
    return out;
  };
  return {
    ...copy(['SpecificCharacterSet'], false),
    ...copy(['PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex'], true),
    ...copy(['IssuerOfPatientID'], false),
    ...copy(['StudyDate', 'StudyTime', 'ReferringPhysicianName', 'StudyID', 'AccessionNumber'], true),
    ...copy(['StudyDescription'], false),
  };
}

/**
 * Writes a binary DICOM Segmentation (SOP class 1.2.840.10008.5.1.4.1.1.66.4) with one segment, "Left ventricle
 * blood pool", and one frame per source image: each frame references its source by SOP Instance UID (Derivation
 * Image) and carries its plane position; patient and study attributes are copied so the SEG lands in the same study,
 * in the sources' Frame of Reference. Frames are ordered by InstanceNumber.
 */
export function writeLvSegmentation(sources: SegSource[], opts: SegWriteOptions): WrittenSeg {
  if (sources.length === 0) throw invalid('SEG_NO_SOURCES', 'a segmentation needs at least one source image');
  const warnings: string[] = [];
  const first = sources[0].dataset;
  const rows = num(first.Rows);
  const columns = num(first.Columns);
  if (!rows || !columns) throw invalid('SEG_SOURCE_GEOMETRY', 'the source images have no Rows/Columns');
  const studyUid = str(first.StudyInstanceUID);
  const seriesUid = str(first.SeriesInstanceUID);
  if (!studyUid || !seriesUid) throw invalid('SEG_SOURCE_UIDS', 'the source images have no Study or Series Instance UID');

  const seen = new Set<string>();
  for (const s of sources) {
    const d = s.dataset;
    if (num(d.Rows) !== rows || num(d.Columns) !== columns) throw invalid('SEG_MIXED_SIZES', `the source images do not all have ${columns}×${rows} pixels`);
    if (s.mask.rows !== rows || s.mask.columns !== columns) throw invalid('SEG_MASK_SIZE', `a mask is ${s.mask.columns}×${s.mask.rows}, its image ${columns}×${rows}`);
    if (str(d.StudyInstanceUID) !== studyUid || str(d.SeriesInstanceUID) !== seriesUid) throw invalid('SEG_MIXED_SERIES', 'the source images are not all of one series');
    const sop = str(d.SOPInstanceUID);
    const cls = str(d.SOPClassUID);
    if (!sop || !cls) throw invalid('SEG_SOURCE_UIDS', 'a source image has no SOP Class or SOP Instance UID');
    if (seen.has(sop)) throw invalid('SEG_DUPLICATE_SOURCE', `source image ${sop} is given twice`);
    seen.add(sop);
  }

  const ordered = [...sources].sort((a, b) => {
    const ia = num(a.dataset.InstanceNumber) ?? Number.MAX_SAFE_INTEGER;
    const ib = num(b.dataset.InstanceNumber) ?? Number.MAX_SAFE_INTEGER;
    return ia - ib || String(a.dataset.SOPInstanceUID).localeCompare(String(b.dataset.SOPInstanceUID));
  });

  // Geometry: plane position/orientation and pixel measures are written only when every source has them.
  const iops = ordered.map((s) => nums(s.dataset.ImageOrientationPatient, 6));
  const ipps = ordered.map((s) => nums(s.dataset.ImagePositionPatient, 3));
  const spacings = ordered.map((s) => nums(s.dataset.PixelSpacing, 2));
  const forUids = [...new Set(ordered.map((s) => str(s.dataset.FrameOfReferenceUID)).filter((u): u is string => u !== undefined))];
  const frameOfReferenceUid = str(ordered[0].dataset.FrameOfReferenceUID) ?? forUids[0];
  if (forUids.length > 1) {
    warnings.push(
      `the ${ordered.length} source images carry ${forUids.length} different Frame of Reference UIDs (one per image in this series); the SEG uses the first frame's, and each frame still references its own source image`,
    );
  }
  const hasGeometry = frameOfReferenceUid !== undefined && iops.every(Boolean) && ipps.every(Boolean) && spacings.every(Boolean);
  if (!hasGeometry) warnings.push('the source images lack plane geometry or a Frame of Reference; frames are linked to their sources by SOP Instance UID only');
  const sharedOrientation = hasGeometry && iops.every((o) => sameNumbers(o, iops[0]));
  const sharedSpacing = hasGeometry && spacings.every((s) => sameNumbers(s, spacings[0], 1e-6));
  const thickness = num(first.SliceThickness);
  const sharedThickness = thickness !== undefined && ordered.every((s) => num(s.dataset.SliceThickness) === thickness);

  // Dimension index of the position: distinct positions along the (first) slice normal, 1-based, in order.
  let positionIndex: number[] = ordered.map(() => 1);
  if (hasGeometry) {
    const n = normalOf(iops[0]!);
    const along = ipps.map((p) => Math.round((p![0] * n[0] + p![1] * n[1] + p![2] * n[2]) * 100) / 100);
    const distinct = [...new Set(along)].sort((a, b) => a - b);
    positionIndex = along.map((d) => distinct.indexOf(d) + 1);
  }

  const now = opts.now ?? new Date();
  const date = dicomDate(now);
  const time = dicomTime(now);
  const sourceSeriesNumber = num(first.SeriesNumber);
  const seriesNumber = opts.seriesNumber ?? (sourceSeriesNumber !== undefined && Number.isInteger(sourceSeriesNumber) ? sourceSeriesNumber + 1000 : 1000);

  const pixelMeasures = (k: number): NaturalDataset => ({
    PixelSpacing: spacings[k],
    ...(sharedThickness ? { SliceThickness: thickness } : num(ordered[k].dataset.SliceThickness) !== undefined ? { SliceThickness: num(ordered[k].dataset.SliceThickness) } : {}),
  });

  const shared: NaturalDataset = {};
  if (hasGeometry && sharedSpacing) shared.PixelMeasuresSequence = [pixelMeasures(0)];
  if (hasGeometry && sharedOrientation) shared.PlaneOrientationSequence = [{ ImageOrientationPatient: iops[0] }];
  shared.SegmentIdentificationSequence = [{ ReferencedSegmentNumber: LV_BLOOD_POOL_SEGMENT.number }];

  const perFrame: NaturalDataset[] = ordered.map((s, k) => {
    const item: NaturalDataset = {
      DerivationImageSequence: [
        {
          DerivationCodeSequence: [SEGMENTATION_DERIVATION],
          SourceImageSequence: [
            {
              ReferencedSOPClassUID: s.dataset.SOPClassUID,
              ReferencedSOPInstanceUID: s.dataset.SOPInstanceUID,
              PurposeOfReferenceCodeSequence: [SOURCE_IMAGE_PURPOSE],
            },
          ],
        },
      ],
      FrameContentSequence: [{ DimensionIndexValues: hasGeometry ? [LV_BLOOD_POOL_SEGMENT.number, positionIndex[k]] : [LV_BLOOD_POOL_SEGMENT.number] }],
    };
    if (hasGeometry) {
      item.PlanePositionSequence = [{ ImagePositionPatient: ipps[k] }];
      if (!sharedOrientation) item.PlaneOrientationSequence = [{ ImageOrientationPatient: iops[k] }];
      if (!sharedSpacing) item.PixelMeasuresSequence = [pixelMeasures(k)];
    }
    return item;
  });

  const dimensionIndex: NaturalDataset[] = [
    {
      DimensionOrganizationUID: opts.dimensionOrganizationUid,
      DimensionIndexPointer: TAG.ReferencedSegmentNumber,
      FunctionalGroupPointer: TAG.SegmentIdentificationSequence,
      DimensionDescriptionLabel: 'ReferencedSegmentNumber',
    },
  ];
  if (hasGeometry) {
    dimensionIndex.push({
      DimensionOrganizationUID: opts.dimensionOrganizationUid,
      DimensionIndexPointer: TAG.ImagePositionPatient,
      FunctionalGroupPointer: TAG.PlanePositionSequence,
      DimensionDescriptionLabel: 'ImagePositionPatient',
    });
  }

  const dataset: NaturalDataset = {
    ...patientAndStudyOf(first),
    ImageType: ['DERIVED', 'PRIMARY'],
    InstanceCreationDate: date,
    InstanceCreationTime: time,
    SOPClassUID: SEGMENTATION_STORAGE,
    SOPInstanceUID: opts.sopInstanceUid,
    SeriesDate: date,
    SeriesTime: time,
    ContentDate: date,
    ContentTime: time,
    Modality: 'SEG',
    Manufacturer: 'lvseg',
    ManufacturerModelName: 'lvseg inference service',
    DeviceSerialNumber: 'lvseg',
    SoftwareVersions: [clip(`lvseg ${opts.softwareVersion}`, 64), clip(`model ${opts.model.version}`, 64)],
    SeriesDescription: clip(`lvseg LV blood pool (${opts.model.version})`, 64),
    StudyInstanceUID: studyUid,
    SeriesInstanceUID: opts.seriesInstanceUid,
    SeriesNumber: seriesNumber,
    InstanceNumber: 1,
    ...(hasGeometry ? { FrameOfReferenceUID: frameOfReferenceUid, PositionReferenceIndicator: '' } : {}),
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: seriesUid,
        ReferencedInstanceSequence: ordered.map((s) => ({ ReferencedSOPClassUID: s.dataset.SOPClassUID, ReferencedSOPInstanceUID: s.dataset.SOPInstanceUID })),
      },
    ],
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: opts.dimensionOrganizationUid }],
    DimensionIndexSequence: dimensionIndex,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    NumberOfFrames: ordered.length,
    Rows: rows,
    Columns: columns,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    ContentLabel: 'LVSEG',
    ContentDescription: clip(`LV blood pool by lvseg, model ${opts.model.version}`, 64),
    ContentCreatorName: '',
    SegmentationType: 'BINARY',
    SegmentSequence: [
      {
        SegmentNumber: LV_BLOOD_POOL_SEGMENT.number,
        SegmentLabel: LV_BLOOD_POOL_SEGMENT.label,
        SegmentDescription: LV_BLOOD_POOL_SEGMENT.description,
        SegmentAlgorithmType: 'AUTOMATIC',
        SegmentAlgorithmName: clip(`lvseg ${opts.model.architecture} ${opts.model.version}`, 64),
        SegmentedPropertyCategoryCodeSequence: [LV_BLOOD_POOL_SEGMENT.category],
        SegmentedPropertyTypeCodeSequence: [LV_BLOOD_POOL_SEGMENT.type],
        RecommendedDisplayCIELabValue: LV_BLOOD_POOL_SEGMENT.cieLab,
      },
    ],
    SharedFunctionalGroupsSequence: [shared],
    PerFrameFunctionalGroupsSequence: perFrame,
    PixelData: [packFrames(ordered.map((s) => s.mask))],
    _vrMap: { PixelData: 'OB' },
  };

  return {
    bytes: toPart10(dataset, opts.softwareVersion),
    frames: ordered.length,
    frameOfReferenceUid: hasGeometry ? frameOfReferenceUid : undefined,
    frameSources: ordered.map((s) => String(s.dataset.SOPInstanceUID)),
    warnings,
  };
}

/** A DICOM Part 10 file (Explicit VR Little Endian) of a naturalized dataset with SOPClassUID and SOPInstanceUID, written by lvseg. */
export function toPart10(dataset: NaturalDataset, softwareVersion: string): Buffer {
  const meta = dcmjsData.DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: dataset.SOPInstanceUID,
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: LVSEG_IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: clip(`LVSEG_${softwareVersion}`, 16),
    _vrMap: { FileMetaInformationVersion: 'OB' },
  });
  const file = new dcmjsData.DicomDict(meta);
  file.dict = dcmjsData.DicomMetaDictionary.denaturalizeDataset(dataset);
  return Buffer.from(file.write());
}

/**
 * Binary SEG pixel data: one bit per pixel, frames back to back without padding between them, least significant
 * bit first (PS3.5 8.1.1); the whole is padded to an even length.
 */
export function packFrames(masks: BinaryMask[]): ArrayBuffer {
  const total = masks.reduce((n, m) => n + m.rows * m.columns, 0);
  const bytes = new Uint8Array(Math.ceil(Math.ceil(total / 8) / 2) * 2);
  let bit = 0;
  for (const m of masks) {
    const d = m.data;
    for (let i = 0; i < d.length; i++, bit++) if (d[i]) bytes[bit >> 3] |= 1 << (bit & 7);
  }
  return bytes.buffer;
}
