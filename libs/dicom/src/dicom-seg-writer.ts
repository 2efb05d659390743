import { NaturalDataset, data as dcmjsData } from 'dcmjs';
import { LvsegError } from '@lvseg/common';
import type { BinaryMask } from '@lvseg/imaging';
import { phaseOrderWithinSlices } from '@lvseg/lv-function';
import type { CodedConcept } from './dicom-seg-reader';
import { deterministicUid } from './uids';

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
  FrameContentSequence: 0x00209111,
  InStackPositionNumber: 0x00209057,
  TemporalPositionIndex: 0x00209128,
};

/**
 * Transfer syntaxes that are lossy whatever the data (JPEG baseline and extended); others that may be lossy (JPEG 2000,
 * JPEG-LS near-lossless, HTJ2K) say so in the source's LossyImageCompression. The method each names (PS3.3 C.7.6.1.1.5.1).
 */
const LOSSY_METHOD_OF_SYNTAX: Record<string, { method: string; alwaysLossy: boolean }> = {
  '1.2.840.10008.1.2.4.50': { method: 'ISO_10918_1', alwaysLossy: true },
  '1.2.840.10008.1.2.4.51': { method: 'ISO_10918_1', alwaysLossy: true },
  '1.2.840.10008.1.2.4.81': { method: 'ISO_14495_1', alwaysLossy: false },
  '1.2.840.10008.1.2.4.91': { method: 'ISO_15444_1', alwaysLossy: false },
  '1.2.840.10008.1.2.4.203': { method: 'ISO_15444_15', alwaysLossy: false },
};

/** One source image and its mask (at the image's size). */
export interface SegSource {
  /** The source instance as read by dcmjs (naturalized); only identifiers, patient/study attributes and geometry are copied. */
  dataset: NaturalDataset;
  mask: BinaryMask;
  /** The transfer syntax the source was read in (a lossy one makes the SEG say it was derived from lossy data). */
  transferSyntaxUid?: string;
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
  /** The Dimension Index labels, in order (segment, position, and for a cine series the cardiac phase). */
  dimensions: string[];
  /** True when the SEG says LossyImageCompression 01 (made from lossy compressed pixels). */
  lossyImageCompression: boolean;
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

  // Geometry. A SEG has one Frame of Reference (PS3.3 A.51: the Frame of Reference module, no per-frame one), and plane
  // positions and orientations are coordinates in it; so they are written only when every source has them and all
  // share one Frame of Reference UID. Sources that each carry their own (the Sunnybrook series: a de-identification
  // artifact) cannot be placed in one without claiming a coordinate system they do not state: the SEG then has no
  // Frame of Reference and no plane positions, each frame stays tied to its own source image (Derivation Image, whose
  // Frame of Reference a viewer reads), and the slice order goes into a stack dimension (In-Stack Position Number).
  const iops = ordered.map((s) => nums(s.dataset.ImageOrientationPatient, 6));
  const ipps = ordered.map((s) => nums(s.dataset.ImagePositionPatient, 3));
  const spacings = ordered.map((s) => nums(s.dataset.PixelSpacing, 2));
  const sourceFors = ordered.map((s) => str(s.dataset.FrameOfReferenceUID));
  const forUids = [...new Set(sourceFors.filter((u): u is string => u !== undefined))];
  const sharedFor = forUids.length === 1 && sourceFors.every((u) => u === forUids[0]);
  const frameOfReferenceUid = sharedFor ? forUids[0] : undefined;
  const placeable = iops.every(Boolean) && ipps.every(Boolean);
  const hasGeometry = sharedFor && placeable && spacings.every(Boolean);
  if (forUids.length > 1) {
    warnings.push(
      `the ${ordered.length} source images carry ${forUids.length} different Frame of Reference UIDs, and a SEG has one: it states none, and no plane positions; each frame references its own source image, slices are ordered by In-Stack Position Number`,
    );
  } else if (!hasGeometry) {
    warnings.push('the source images lack plane geometry or a Frame of Reference; frames are linked to their sources by SOP Instance UID only');
  }
  const sharedOrientation = hasGeometry && iops.every((o) => sameNumbers(o, iops[0]));
  const allSpacings = spacings.every(Boolean);
  const sharedSpacing = allSpacings && spacings.every((s) => sameNumbers(s, spacings[0], 1e-6));
  const thickness = num(first.SliceThickness);
  const sharedThickness = thickness !== undefined && ordered.every((s) => num(s.dataset.SliceThickness) === thickness);

  // Position index: distinct positions along the (first) slice normal, 1-based, in order (a stack dimension when the
  // positions cannot be written as coordinates).
  let positionIndex: number[] | undefined;
  if (placeable) {
    const n = normalOf(iops[0]!);
    const along = ipps.map((p) => Math.round((p![0] * n[0] + p![1] * n[1] + p![2] * n[2]) * 100) / 100);
    const distinct = [...new Set(along)].sort((a, b) => a - b);
    positionIndex = along.map((d) => distinct.indexOf(d) + 1);
  }
  const positionDimension: 'plane-position' | 'stack' | undefined = hasGeometry ? 'plane-position' : positionIndex ? 'stack' : undefined;

  // Temporal index of a cine series (several frames at one position): the cardiac phase, as libs/lv-function orders
  // phases within each slice (TriggerTime, else InstanceNumber), 1-based, so the ED and ES frames of a slice differ.
  let temporalIndex: number[] | undefined;
  if (positionIndex) {
    const perSlice = new Map<number, number>();
    for (const p of positionIndex) perSlice.set(p, (perSlice.get(p) ?? 0) + 1);
    if (Math.max(...perSlice.values()) > 1) {
      const order = phaseOrderWithinSlices(
        ordered.map((s, k) => ({ slice: positionIndex![k], triggerTimeMs: num(s.dataset.TriggerTime), instanceNumber: num(s.dataset.InstanceNumber) })),
      );
      // A frame whose phase cannot be told (a slice with fewer frames and no trigger times) gets its rank in its slice.
      const rank = new Map<number, number>();
      temporalIndex = ordered.map((_, k) => {
        const next = (rank.get(positionIndex![k]) ?? 0) + 1;
        rank.set(positionIndex![k], next);
        return (order.phaseIndex[k] ?? next - 1) + 1;
      });
      if (order.phaseIndex.some((p) => p === undefined)) warnings.push(`cardiac phase unknown for some frames (${order.notes.join('; ')}): their temporal index is their order within the slice`);
      const seenPairs = new Set(ordered.map((_, k) => `${positionIndex![k]} ${temporalIndex![k]}`));
      if (seenPairs.size !== ordered.length) warnings.push('two frames share a position and a cardiac phase (repeated acquisitions?)');
    }
  }

  // Lossy compression of the sources carries over (PS3.3 C.7.6.1.1.5): a SEG made from lossy pixels says so, with the
  // ratio and method of that compression, from the sources' own attributes, else from their transfer syntax.
  const lossy = lossyCompressionOf(ordered);
  if (lossy?.unknownRatio) warnings.push('the sources were lossy compressed but state no Lossy Image Compression Ratio; the SEG cannot give one');

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
  if (allSpacings && sharedSpacing) shared.PixelMeasuresSequence = [pixelMeasures(0)];
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
      FrameContentSequence: [
        {
          DimensionIndexValues: [LV_BLOOD_POOL_SEGMENT.number, ...(positionIndex ? [positionIndex[k]] : []), ...(temporalIndex ? [temporalIndex[k]] : [])],
          ...(positionDimension === 'stack' ? { StackID: '1', InStackPositionNumber: positionIndex![k] } : {}),
          ...(temporalIndex ? { TemporalPositionIndex: temporalIndex[k] } : {}),
        },
      ],
    };
    if (hasGeometry) {
      item.PlanePositionSequence = [{ ImagePositionPatient: ipps[k] }];
      if (!sharedOrientation) item.PlaneOrientationSequence = [{ ImageOrientationPatient: iops[k] }];
    }
    if (allSpacings && !sharedSpacing) item.PixelMeasuresSequence = [pixelMeasures(k)];
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
  if (positionDimension === 'plane-position') {
    dimensionIndex.push({
      DimensionOrganizationUID: opts.dimensionOrganizationUid,
      DimensionIndexPointer: TAG.ImagePositionPatient,
      FunctionalGroupPointer: TAG.PlanePositionSequence,
      DimensionDescriptionLabel: 'ImagePositionPatient',
    });
  } else if (positionDimension === 'stack') {
    dimensionIndex.push({
      DimensionOrganizationUID: opts.dimensionOrganizationUid,
      DimensionIndexPointer: TAG.InStackPositionNumber,
      FunctionalGroupPointer: TAG.FrameContentSequence,
      DimensionDescriptionLabel: 'InStackPositionNumber',
    });
  }
  if (temporalIndex) {
    dimensionIndex.push({
      DimensionOrganizationUID: opts.dimensionOrganizationUid,
      DimensionIndexPointer: TAG.TemporalPositionIndex,
      FunctionalGroupPointer: TAG.FrameContentSequence,
      DimensionDescriptionLabel: 'TemporalPositionIndex (cardiac phase)',
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
    ...(hasGeometry ? { FrameOfReferenceUID: frameOfReferenceUid, PositionReferenceIndicator: '' } : { PatientOrientation: patientOrientationOf(iops) }),
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
    ...(lossy ? lossyAttributes(lossy) : { LossyImageCompression: '00' }),
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
    dimensions: dimensionIndex.map((d) => String(d.DimensionDescriptionLabel)),
    lossyImageCompression: lossy !== undefined,
    frameSources: ordered.map((s) => String(s.dataset.SOPInstanceUID)),
    warnings,
  };
}

function lossyAttributes(lossy: { ratios: number[]; methods: string[] }): NaturalDataset {
  return {
    LossyImageCompression: '01',
    ...(lossy.ratios.length ? { LossyImageCompressionRatio: lossy.ratios } : {}),
    ...(lossy.methods.length ? { LossyImageCompressionMethod: lossy.methods } : {}),
  };
}

/**
 * The Lossy Image Compression attributes (PS3.3 C.7.6.1.1.5) an image keeps once its pixels are decompressed or
 * derived: LossyImageCompression 01 with ratio and method when the image (`dataset`, read in `transferSyntaxUid`, its
 * PixelData the encapsulated fragments) was lossy compressed, by its own attributes or an always-lossy syntax (the same
 * rule the SEG writer applies to its sources); undefined when it was not.
 */
export function lossyCompressionAttributesOf(dataset: NaturalDataset, transferSyntaxUid: string): NaturalDataset | undefined {
  const lossy = lossyCompressionOf([{ dataset, transferSyntaxUid }]);
  return lossy ? lossyAttributes(lossy) : undefined;
}

/**
 * Whether the sources underwent lossy compression, with the ratio and method values to carry over: the first source's
 * own (0028,2112)/(0028,2114) when it states them, else the transfer syntax's method and the ratio of its pixel data
 * (uncompressed bytes / compressed bytes, to 2 decimals). Undefined when every source is lossless.
 */
function lossyCompressionOf(sources: Array<Pick<SegSource, 'dataset' | 'transferSyntaxUid'>>): { ratios: number[]; methods: string[]; unknownRatio: boolean } | undefined {
  const lossySources = sources.filter((s) => {
    const syntax = s.transferSyntaxUid ? LOSSY_METHOD_OF_SYNTAX[s.transferSyntaxUid] : undefined;
    return str(s.dataset.LossyImageCompression) === '01' || syntax?.alwaysLossy === true;
  });
  if (lossySources.length === 0) return undefined;
  const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined || v === null || v === '' ? [] : [v]);
  const stated = lossySources.find((s) => asList(s.dataset.LossyImageCompressionRatio).length > 0);
  if (stated) {
    const ratios = asList(stated.dataset.LossyImageCompressionRatio).map(num).filter((x): x is number => x !== undefined).map((x) => Math.round(x * 100) / 100);
    const methods = asList(stated.dataset.LossyImageCompressionMethod).map(String);
    return { ratios, methods: methods.length === ratios.length ? methods : [], unknownRatio: false };
  }
  const s = lossySources[0];
  const method = s.transferSyntaxUid ? LOSSY_METHOD_OF_SYNTAX[s.transferSyntaxUid]?.method : undefined;
  const fragments = Array.isArray(s.dataset.PixelData) ? (s.dataset.PixelData as ArrayBuffer[]) : [];
  const compressed = fragments.reduce((n, f) => n + (f?.byteLength ?? 0), 0);
  const uncompressed = (num(s.dataset.Rows) ?? 0) * (num(s.dataset.Columns) ?? 0) * ((num(s.dataset.BitsAllocated) ?? 16) / 8);
  if (!method || compressed === 0 || uncompressed === 0) return { ratios: [], methods: [], unknownRatio: true };
  return { ratios: [Math.round((uncompressed / compressed) * 100) / 100], methods: [method], unknownRatio: false };
}

/**
 * Patient Orientation (0020,0020) of images that are not placed by coordinates (General Image, type 2C): the patient
 * directions of the rows and columns (e.g. ["L", "PF"]) when every source has one orientation, else empty.
 */
function patientOrientationOf(iops: Array<number[] | undefined>): string[] | string {
  const first = iops[0];
  if (!first || !iops.every((o) => sameNumbers(o, first))) return '';
  const letters = (v: number[]): string =>
    v
      .map((c, axis) => ({ c, axis }))
      .filter(({ c }) => Math.abs(c) > 0.25)
      .sort((a, b) => Math.abs(b.c) - Math.abs(a.c))
      .map(({ c, axis }) => (c > 0 ? 'LPH' : 'RAF')[axis])
      .join('');
  return [letters(first.slice(0, 3)), letters(first.slice(3, 6))];
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
