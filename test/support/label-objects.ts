/**
 * Label objects for the import tests, made from the real Sunnybrook DICOMs and their expert contours: lvseg's own SEG
 * writer, an "expert-reviewed" copy of its output (as a viewer re-saves a corrected SEG), and plastimatch RTSTRUCTs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NaturalDataset } from 'dcmjs';
import { naturalizeDicom, segUidsFor, toPart10, writeLvSegmentation } from '@lvseg/dicom';
import { BinaryMask, decodeDicom, parseContour, rasterizeContour } from '@lvseg/imaging';
import { SUNNYBROOK_DICOM_DIR, SunnybrookDicomCase, readContour, sunnybrookCases } from './sunnybrook';

export interface ExpertFrame {
  c: SunnybrookDicomCase;
  path: string;
  sopInstanceUid: string;
  triggerTimeMs: number;
  sliceLocation: number;
  /** The expert contour rasterised with the Sunnybrook rule. */
  mask: BinaryMask;
}

/** Every frame of one patient with its expert mask. */
export function expertFrames(patient: string): ExpertFrame[] {
  return sunnybrookCases()
    .filter((c) => c.case === patient)
    .map((c) => {
      const path = join(SUNNYBROOK_DICOM_DIR, c.image);
      const { image, meta } = decodeDicom(readFileSync(path));
      return { c, path, sopInstanceUid: meta.sopInstanceUid!, triggerTimeMs: meta.triggerTimeMs ?? 0, sliceLocation: meta.sliceLocation ?? 0, mask: rasterizeContour(parseContour(readContour(c)), image.rows, image.columns) };
    });
}

/** The frames split into cine phases: at each slice position the earlier frame is phase 0, the later phase 1. */
export function phases(frames: ExpertFrame[]): [ExpertFrame[], ExpertFrame[]] {
  const byLocation = new Map<number, ExpertFrame[]>();
  for (const f of frames) byLocation.set(f.sliceLocation, [...(byLocation.get(f.sliceLocation) ?? []), f]);
  const out: [ExpertFrame[], ExpertFrame[]] = [[], []];
  for (const group of byLocation.values()) {
    const sorted = [...group].sort((a, b) => a.triggerTimeMs - b.triggerTimeMs);
    sorted.forEach((f, i) => out[Math.min(i, 1)].push(f));
  }
  return out;
}

/** lvseg's own SEG (its writer, as the PACS path stores it) of these frames with these masks. */
export function lvsegSeg(frames: Array<{ path: string; mask: BinaryMask }>, modelVersion = 'unet-small-20260101T000000-abcdef'): Buffer {
  const sources = frames.map((f) => ({ dataset: naturalizeDicom(readFileSync(f.path)), mask: f.mask }));
  const uids = segUidsFor(String(sources[0].dataset.SeriesInstanceUID), modelVersion);
  return writeLvSegmentation(sources, { ...uids, model: { version: modelVersion, architecture: 'unet-small' }, softwareVersion: '0.1.0', now: new Date('2026-01-01T00:00:00Z') }).bytes;
}

/** Rewrites a DICOM file's attributes (dcmjs, Explicit VR Little Endian). */
export function editDicom(bytes: Uint8Array, edit: (ds: NaturalDataset) => void): Buffer {
  const ds = naturalizeDicom(bytes);
  // Group lengths (gggg0000) are recomputed on writing; dcmjs has no keyword for them.
  for (const k of Object.keys(ds)) if (/^[0-9A-F]{4}0000$/i.test(k)) delete ds[k];
  edit(ds);
  return toPart10(ds, 'test');
}

/** A copy of a SEG as a viewer saves an expert's correction: another manufacturer, MANUAL segment, a newer date, new UIDs. */
export function reviewedCopy(seg: Uint8Array, suffix: string): Buffer {
  return editDicom(seg, (ds) => {
    ds.Manufacturer = 'OHIF';
    ds.ContentDate = '20260201';
    ds.ContentTime = '120000';
    ds.SOPInstanceUID = `${ds.SOPInstanceUID}.${suffix}`;
    ds.SeriesInstanceUID = `${ds.SeriesInstanceUID}.${suffix}`;
    for (const s of ds.SegmentSequence as NaturalDataset[]) {
      s.SegmentAlgorithmType = 'MANUAL';
      delete s.SegmentAlgorithmName;
    }
  });
}
