/// <reference path="./dcmjs-types.d.ts" />
/**
 * RT Structure Set (SOP class 1.2.840.10008.5.1.4.1.1.481.3) reading: ROIs with their planar contours in patient
 * coordinates (mm), the Frame of Reference they are in, and the images they name. Messages never carry patient values.
 */
import { NaturalDataset } from 'dcmjs';
import { LvsegError } from '@lvseg/common';
import { dicomDateTimeKey, naturalizeDicom } from './dicom-seg-reader';

export const RT_STRUCTURE_SET_STORAGE_UID = '1.2.840.10008.5.1.4.1.1.481.3';

export interface RtContour {
  /** CLOSED_PLANAR, CLOSEDPLANAR_XOR, OPEN_PLANAR, POINT… (only the two closed types outline an area). */
  geometricType: string;
  /** Points in patient coordinates (mm): [x, y, z] triplets. */
  points: Array<[number, number, number]>;
  /** The images this contour lies on (Contour Image Sequence), when the writer named them. */
  referencedSopInstanceUids: string[];
}

export interface RtRoi {
  number: number;
  name?: string;
  /** RT ROI Interpreted Type (e.g. ORGAN), from the observations. */
  interpretedType?: string;
  generationAlgorithm?: string;
  frameOfReferenceUid?: string;
  contours: RtContour[];
}

export interface ReadStructureSet {
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  manufacturer?: string;
  /** StructureSetDate + StructureSetTime (else SeriesDate + SeriesTime) as digits, for ordering; may be empty. */
  contentDateTime: string;
  /** Referenced Frame of Reference Sequence: each frame of reference with the series and images it names. */
  frameOfReferences: Array<{ frameOfReferenceUid?: string; series: Array<{ seriesInstanceUid?: string; sopInstanceUids: string[] }> }>;
  rois: RtRoi[];
}

const arr = (v: unknown): NaturalDataset[] => (Array.isArray(v) ? (v as NaturalDataset[]) : v && typeof v === 'object' ? [v as NaturalDataset] : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const int = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};

/** Reads an RT Structure Set's ROIs and contours. */
export function readRtStruct(bytes: Uint8Array): ReadStructureSet {
  let ds: NaturalDataset;
  try {
    ds = naturalizeDicom(bytes);
  } catch (e) {
    throw new LvsegError('invalid-input', 'RTSTRUCT_UNREADABLE', `not a readable DICOM file: ${String((e as Error).message ?? e).slice(0, 200)}`);
  }
  return structureSetOf(ds);
}

/** The structure set in an already naturalized dataset (see `readRtStruct`). */
export function structureSetOf(ds: NaturalDataset): ReadStructureSet {
  const frameOfReferences = arr(ds.ReferencedFrameOfReferenceSequence).map((f) => ({
    frameOfReferenceUid: str(f.FrameOfReferenceUID),
    series: arr(f.RTReferencedStudySequence).flatMap((st) =>
      arr(st.RTReferencedSeriesSequence).map((se) => ({
        seriesInstanceUid: str(se.SeriesInstanceUID),
        sopInstanceUids: arr(se.ContourImageSequence).map((c) => str(c.ReferencedSOPInstanceUID)).filter((u): u is string => u !== undefined),
      })),
    ),
  }));
  const observations = new Map<number, string | undefined>();
  for (const o of arr(ds.RTROIObservationsSequence)) {
    const n = int(o.ReferencedROINumber);
    if (n !== undefined) observations.set(n, str(o.RTROIInterpretedType));
  }
  const contoursByRoi = new Map<number, RtContour[]>();
  for (const rc of arr(ds.ROIContourSequence)) {
    const n = int(rc.ReferencedROINumber);
    if (n === undefined) continue;
    const contours = arr(rc.ContourSequence).map((c): RtContour => {
      const raw = Array.isArray(c.ContourData) ? (c.ContourData as unknown[]).map(Number) : typeof c.ContourData === 'number' ? [c.ContourData] : [];
      if (raw.length % 3 !== 0 || raw.some((x) => !Number.isFinite(x))) throw new LvsegError('invalid-input', 'RTSTRUCT_CONTOUR_DATA', `ROI ${n}: ContourData is not a list of finite x\\y\\z triplets`);
      const points: Array<[number, number, number]> = [];
      for (let i = 0; i < raw.length; i += 3) points.push([raw[i], raw[i + 1], raw[i + 2]]);
      return {
        geometricType: str(c.ContourGeometricType) ?? '',
        points,
        referencedSopInstanceUids: arr(c.ContourImageSequence).map((r) => str(r.ReferencedSOPInstanceUID)).filter((u): u is string => u !== undefined),
      };
    });
    contoursByRoi.set(n, [...(contoursByRoi.get(n) ?? []), ...contours]);
  }
  const rois = arr(ds.StructureSetROISequence).map((r): RtRoi => {
    const number = int(r.ROINumber) ?? -1;
    return {
      number,
      name: str(r.ROIName),
      interpretedType: observations.get(number),
      generationAlgorithm: str(r.ROIGenerationAlgorithm),
      frameOfReferenceUid: str(r.ReferencedFrameOfReferenceUID),
      contours: contoursByRoi.get(number) ?? [],
    };
  });
  return {
    sopInstanceUid: str(ds.SOPInstanceUID),
    studyInstanceUid: str(ds.StudyInstanceUID),
    seriesInstanceUid: str(ds.SeriesInstanceUID),
    manufacturer: str(ds.Manufacturer),
    contentDateTime: dicomDateTimeKey(ds.StructureSetDate, ds.StructureSetTime) || dicomDateTimeKey(ds.SeriesDate, ds.SeriesTime),
    frameOfReferences,
    rois,
  };
}
