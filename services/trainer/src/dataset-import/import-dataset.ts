/**
 * `lvseg dataset import`: expert LV labels from DICOM Segmentations and RT Structure Sets (a folder or a PACS) into a
 * data set folder of the manifest layout train/eval/report read (`case,image,label,split`: a pseudonymised DICOM
 * copy of each labelled image and its PNG mask). Case ids are keyed hashes of PatientID; nothing that identifies a
 * patient reaches the manifest, `import.json`, or the log lines. Bad input is skipped with a counted reason; the
 * folder appears only once complete (written beside it, then renamed).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { NaturalDataset } from 'dcmjs';
import { LvsegError, isLvsegError, sha256Hex } from '@lvseg/common';
import {
  RT_STRUCTURE_SET_STORAGE_UID, ReadSegmentation, ReadStructureSet, RtRoi, SEGMENTATION_STORAGE_UID, SegSegment, naturalizeDicom, segmentationOf, structureSetOf,
} from '@lvseg/dicom';
import { BinaryMask, DicomMeta, ImagePlane, distanceFromPlane, readDicomMeta, encodeMaskPng, hasLvPixel, planeNormal, rasterizePatientContours } from '@lvseg/imaging';
import { caseIdFor, splitCases } from './pseudonym';
import { pseudonymousImage } from './pseudonymous-image';

/** Where label objects and their images come from: a folder, or a PACS over DICOMweb. */
export interface LabelObjectSource {
  /** Recorded in `import.json` (no credentials). */
  description: { source: 'folder' | 'dicomweb'; location: string; query: string };
  /** Every SEG and RTSTRUCT instance the source holds (Part 10 bytes). */
  labelObjects(): AsyncIterable<Buffer>;
  /** Every instance of a series (Part 10 bytes); empty when the source does not hold it. */
  seriesInstances(studyInstanceUid: string | undefined, seriesInstanceUid: string): Promise<Buffer[]>;
}

/** Which segment or ROI is the LV blood pool: by coded type (`SCHEME:VALUE`) or by label/name (case-insensitive). */
export interface LvSelection {
  codes: string[];
  labels: string[];
}

/** SCT 87878005 "Left ventricle" (what lvseg's own SEGs and most viewers code the LV segment as). */
export const DEFAULT_LV_SELECTION: LvSelection = {
  codes: ['SCT:87878005'],
  labels: ['LV', 'Left ventricle', 'Left ventricle blood pool', 'LV blood pool', 'LV cavity', 'LV endocardium', 'Endocardium', 'LV endo'],
};

export interface ImportOptions {
  out: string;
  siteSecret: string;
  lv?: LvSelection;
  /** Also use lvseg's own AUTOMATIC SEGs nobody reviewed (default: excluded; they are not expert labels). */
  includeLvsegUnreviewed?: boolean;
  valFraction?: number;
  /** Progress lines (counts and SOP Instance UIDs at most). */
  log?: (line: string) => void;
  now?: Date;
}

/** Why something was skipped; the summary counts each. Object-level reasons count objects, the others frames/contours/images. */
export const SkipReason = {
  Unreadable: 'unreadable-object',
  NoPatientId: 'no-patient-id',
  NoLvSegment: 'no-lv-segment-or-roi',
  LvsegUnreviewed: 'lvseg-unreviewed',
  EmptyRoi: 'empty-roi',
  SeriesMissing: 'referenced-series-missing',
  NonMr: 'non-mr-series',
  OtherFrameOfReference: 'rtstruct-other-frame-of-reference',
  SegFrameSourceMissing: 'seg-frame-source-missing',
  PositionUnmatched: 'frame-position-unmatched',
  PositionAmbiguous: 'frame-position-ambiguous',
  ContourImageMissing: 'contour-image-missing',
  ContourOffPlanes: 'contour-off-image-planes',
  ContourAmbiguous: 'contour-plane-ambiguous',
  SizeMismatch: 'label-size-mismatch',
  EmptyMask: 'empty-mask',
  ImageUndecodable: 'image-undecodable',
  Superseded: 'superseded-by-newer-label',
  ImageRewrite: 'image-rewrite-unsupported',
} as const;

export interface ImportSummary {
  version: 1;
  source: string;
  location: string;
  query: string;
  importedAt: string;
  lvSelection: LvSelection;
  includeLvsegUnreviewed: boolean;
  valFraction: number;
  labelObjects: { seg: number; rtstruct: number; used: number };
  images: number;
  cases: number;
  splits: Record<string, { cases: number; images: number }>;
  labelSources: { seg: number; rtstruct: number };
  skipped: Record<string, number>;
  manifestSha256: string;
}

interface SourceImage {
  bytes: Buffer;
  meta: DicomMeta;
}

interface LabelCandidate {
  sopInstanceUid: string;
  patientId: string;
  image: SourceImage;
  mask: BinaryMask;
  kind: 'seg' | 'rtstruct';
  objectSop: string;
  /** For "newest label wins". */
  madeAt: string;
  byLvseg: boolean;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
const codeKey = (scheme: string, value: string) => `${scheme.trim().toUpperCase()}:${value.trim()}`;

/** True for the segment or ROI name the selection calls the LV. */
function labelMatches(sel: LvSelection, label: string | undefined): boolean {
  if (!label) return false;
  const l = label.trim().toLowerCase();
  return sel.labels.some((x) => x.trim().toLowerCase() === l);
}

/** The LV segment of a SEG: first by coded type, else by label; undefined when none matches. */
export function lvSegmentOf(segments: SegSegment[], sel: LvSelection): SegSegment | undefined {
  const codes = new Set(sel.codes.map((c) => { const i = c.indexOf(':'); return i < 0 ? c : codeKey(c.slice(0, i), c.slice(i + 1)); }));
  const byCode = segments.find((s) => s.type && codes.has(codeKey(s.type.CodingSchemeDesignator, s.type.CodeValue)));
  return byCode ?? segments.find((s) => labelMatches(sel, s.label));
}

/** True for a segment lvseg made and nobody reviewed: lvseg's algorithm identification, still AUTOMATIC. */
export function isUnreviewedLvsegSegment(seg: Pick<ReadSegmentation, 'manufacturer'>, segment: SegSegment): boolean {
  const byLvseg = /^lvseg\b/i.test(segment.algorithmName ?? '') || (seg.manufacturer ?? '').toLowerCase() === 'lvseg';
  return byLvseg && (segment.algorithmType ?? 'AUTOMATIC').toUpperCase() === 'AUTOMATIC';
}

function planeOf(meta: DicomMeta): ImagePlane | undefined {
  if (!meta.imagePositionPatient || !meta.imageOrientationPatient || !meta.pixelSpacingMm) return undefined;
  return { imagePositionPatient: meta.imagePositionPatient, imageOrientationPatient: meta.imageOrientationPatient, pixelSpacingMm: meta.pixelSpacingMm, rows: meta.rows, columns: meta.columns };
}

function orMask(a: BinaryMask, b: BinaryMask): BinaryMask {
  const data = new Uint8Array(a.data.length);
  for (let i = 0; i < data.length; i++) data[i] = a.data[i] | b.data[i];
  return { rows: a.rows, columns: a.columns, data };
}

const isEmpty = (m: BinaryMask) => !hasLvPixel(m);

/** Imports expert LV labels from `source` into `opts.out`; returns the summary (also written as `import.json`). */
export async function importDataset(source: LabelObjectSource, opts: ImportOptions): Promise<ImportSummary> {
  const out = resolve(opts.out);
  if (existsSync(out)) throw new LvsegError('conflict', 'IMPORT_OUT_EXISTS', `${opts.out} already exists; an import writes a new folder (remove it or choose another --out)`);
  const sel = opts.lv ?? DEFAULT_LV_SELECTION;
  const log = opts.log ?? (() => undefined);
  const skipped: Record<string, number> = {};
  const skip = (reason: string, n = 1) => {
    if (n > 0) skipped[reason] = (skipped[reason] ?? 0) + n;
  };
  const counts = { seg: 0, rtstruct: 0, used: 0 };
  const seriesCache = new Map<string, Map<string, SourceImage> | undefined>();

  /**
   * The readable images of a series by SOP Instance UID (undefined: the source does not hold it). Headers only: an
   * image's pixels are decoded when it is copied, i.e. only if a label uses it.
   */
  const seriesImages = async (study: string | undefined, series: string): Promise<Map<string, SourceImage> | undefined> => {
    if (seriesCache.has(series)) return seriesCache.get(series);
    const found = new Map<string, SourceImage>();
    for (const bytes of await source.seriesInstances(study, series)) {
      try {
        const meta = readDicomMeta(bytes);
        if (meta.sopInstanceUid) found.set(meta.sopInstanceUid, { bytes, meta });
      } catch {
        skip(SkipReason.ImageUndecodable);
      }
    }
    const result = found.size > 0 ? found : undefined;
    seriesCache.set(series, result);
    return result;
  };
  const nonMr = (images: Map<string, SourceImage>) => [...images.values()].some((i) => (i.meta.modality ?? '').toUpperCase() !== 'MR');

  const candidates: LabelCandidate[] = [];
  for await (const bytes of source.labelObjects()) {
    let ds: NaturalDataset;
    try {
      ds = naturalizeDicom(bytes);
    } catch {
      skip(SkipReason.Unreadable);
      continue;
    }
    const sopClass = str(ds.SOPClassUID);
    const objectSop = str(ds.SOPInstanceUID) ?? '(no SOP Instance UID)';
    if (sopClass === SEGMENTATION_STORAGE_UID) counts.seg++;
    else if (sopClass === RT_STRUCTURE_SET_STORAGE_UID) counts.rtstruct++;
    else continue;
    const patientId = str(ds.PatientID);
    if (!patientId) {
      skip(SkipReason.NoPatientId);
      continue;
    }
    let found: LabelCandidate[];
    try {
      found = sopClass === SEGMENTATION_STORAGE_UID ? await segLabels(segmentationOf(ds), patientId) : await rtstructLabels(structureSetOf(ds), patientId);
    } catch (e) {
      if (!isLvsegError(e)) throw e;
      log(`skipped ${objectSop}: ${e.code}`);
      skip(SkipReason.Unreadable);
      continue;
    }
    if (found.length > 0) counts.used++;
    candidates.push(...found);
  }

  async function segLabels(seg: ReadSegmentation, patientId: string): Promise<LabelCandidate[]> {
    const objectSop = seg.sopInstanceUid ?? '';
    const segment = lvSegmentOf(seg.segments, sel);
    if (!segment) return void skip(SkipReason.NoLvSegment), [];
    const byLvseg = isUnreviewedLvsegSegment(seg, segment);
    if (byLvseg && !opts.includeLvsegUnreviewed) return void skip(SkipReason.LvsegUnreviewed), [];
    const frames = seg.frames.filter((f) => f.referencedSegmentNumber === segment.number || (f.referencedSegmentNumber === undefined && seg.segments.length === 1));
    const images = new Map<string, SourceImage>();
    for (const r of seg.referencedSeries) {
      if (!r.seriesInstanceUid) continue;
      const s = await seriesImages(seg.studyInstanceUid, r.seriesInstanceUid);
      if (s) for (const [k, v] of s) images.set(k, v);
    }
    if (images.size === 0) return void skip(SkipReason.SeriesMissing), void skip(SkipReason.SegFrameSourceMissing, frames.length), [];
    if (nonMr(images)) return void skip(SkipReason.NonMr), [];
    // Frames placed by position choose among the instances the SEG lists (Common Instance Reference), else the whole series.
    const listed = new Set(seg.referencedSeries.flatMap((r) => r.sopInstanceUids));
    const positionPool = [...images.values()].filter((i) => listed.size === 0 || listed.has(i.meta.sopInstanceUid!));
    const out = new Map<string, LabelCandidate>();
    for (const f of frames) {
      let image: SourceImage | undefined;
      if (f.referencedSopInstanceUid) {
        image = images.get(f.referencedSopInstanceUid);
        if (!image) {
          skip(SkipReason.SegFrameSourceMissing);
          continue;
        }
      } else {
        // Only the series is referenced: the frame's plane position names the image (unique, or it is not used).
        const at = f.imagePositionPatient;
        const hits = at ? positionPool.filter((i) => i.meta.imagePositionPatient && i.meta.imagePositionPatient.every((v, k) => Math.abs(v - at[k]) < 0.01)) : [];
        if (hits.length !== 1) {
          skip(hits.length === 0 ? SkipReason.PositionUnmatched : SkipReason.PositionAmbiguous);
          continue;
        }
        image = hits[0];
      }
      if (image.meta.rows !== f.mask.rows || image.meta.columns !== f.mask.columns) {
        skip(SkipReason.SizeMismatch);
        continue;
      }
      const sop = image.meta.sopInstanceUid!;
      const prev = out.get(sop);
      out.set(sop, { sopInstanceUid: sop, patientId, image, mask: prev ? orMask(prev.mask, f.mask) : f.mask, kind: 'seg', objectSop, madeAt: seg.contentDateTime, byLvseg });
    }
    return [...out.values()];
  }

  async function rtstructLabels(ss: ReadStructureSet, patientId: string): Promise<LabelCandidate[]> {
    const objectSop = ss.sopInstanceUid ?? '';
    const roi: RtRoi | undefined = ss.rois.find((r) => labelMatches(sel, r.name));
    if (!roi) return void skip(SkipReason.NoLvSegment), [];
    // Both closed types are filled even-odd per image (CLOSEDPLANAR_XOR by definition; nested CLOSED_PLANAR as holes).
    const contours = roi.contours.filter((c) => (c.geometricType === 'CLOSED_PLANAR' || c.geometricType === 'CLOSEDPLANAR_XOR') && c.points.length >= 3);
    if (contours.length === 0) return void skip(SkipReason.EmptyRoi), [];
    const frameOfReference = roi.frameOfReferenceUid ?? ss.frameOfReferences[0]?.frameOfReferenceUid;
    const refs = ss.frameOfReferences.filter((f) => !roi.frameOfReferenceUid || f.frameOfReferenceUid === roi.frameOfReferenceUid).flatMap((f) => f.series);
    const images = new Map<string, SourceImage>();
    for (const r of refs) {
      if (!r.seriesInstanceUid) continue;
      const s = await seriesImages(ss.studyInstanceUid, r.seriesInstanceUid);
      if (s) for (const [k, v] of s) images.set(k, v);
    }
    if (images.size === 0) return void skip(SkipReason.SeriesMissing), [];
    if (nonMr(images)) return void skip(SkipReason.NonMr), [];
    // The structure set's frame of reference must be one of the images' (a series normally shares one; some
    // de-identified archives give each image its own, so one match is enough).
    const all = [...images.values()];
    if (!frameOfReference || !all.some((i) => i.meta.frameOfReferenceUid === frameOfReference)) return void skip(SkipReason.OtherFrameOfReference), [];
    // Contours without their own image reference are placed by geometry among the images the structure set names
    // (else those sharing its frame of reference).
    const named = new Set(refs.flatMap((r) => r.sopInstanceUids));
    const pool = named.size > 0 ? all.filter((i) => named.has(i.meta.sopInstanceUid!)) : all.filter((i) => i.meta.frameOfReferenceUid === frameOfReference);
    const perImage = new Map<string, { image: SourceImage; contours: Array<Array<[number, number, number]>> }>();
    for (const c of contours) {
      let image: SourceImage | undefined;
      if (c.referencedSopInstanceUids.length > 0) {
        image = images.get(c.referencedSopInstanceUids[0]);
        if (!image) {
          skip(SkipReason.ContourImageMissing);
          continue;
        }
      } else {
        const hits = pool.filter((i) => {
          const plane = planeOf(i.meta);
          if (!plane) return false;
          const tolerance = Math.min(1, (i.meta.sliceThicknessMm ?? 2) / 2);
          return distanceFromPlane(c.points, plane) <= tolerance;
        });
        if (hits.length !== 1) {
          skip(hits.length === 0 ? SkipReason.ContourOffPlanes : SkipReason.ContourAmbiguous);
          continue;
        }
        image = hits[0];
      }
      const sop = image.meta.sopInstanceUid!;
      const entry = perImage.get(sop) ?? { image, contours: [] };
      entry.contours.push(c.points);
      perImage.set(sop, entry);
    }
    const out: LabelCandidate[] = [];
    for (const [sop, { image, contours: cs }] of perImage) {
      const plane = planeOf(image.meta);
      if (!plane) {
        skip(SkipReason.ContourOffPlanes, cs.length);
        continue;
      }
      out.push({ sopInstanceUid: sop, patientId, image, mask: rasterizePatientContours(cs, plane), kind: 'rtstruct', objectSop, madeAt: ss.contentDateTime, byLvseg: false });
    }
    return out;
  }

  // One label per image: the newest; an expert's over lvseg's at the same time; then by object UID (deterministic).
  const chosen = new Map<string, LabelCandidate>();
  for (const c of candidates) {
    const prev = chosen.get(c.sopInstanceUid);
    if (!prev) {
      chosen.set(c.sopInstanceUid, c);
      continue;
    }
    skip(SkipReason.Superseded);
    const newer = c.madeAt.localeCompare(prev.madeAt) || Number(prev.byLvseg) - Number(c.byLvseg) || prev.objectSop.localeCompare(c.objectSop);
    if (newer > 0) chosen.set(c.sopInstanceUid, c);
  }
  const labels = [...chosen.values()].filter((c) => {
    if (isEmpty(c.mask)) skip(SkipReason.EmptyMask);
    return !isEmpty(c.mask);
  });

  // Pseudonyms, the split by patient, and a deterministic image order: series, position along the slice normal, time.
  const byCase = new Map<string, LabelCandidate[]>();
  for (const l of labels) {
    const id = caseIdFor(l.patientId, opts.siteSecret);
    byCase.set(id, [...(byCase.get(id) ?? []), l]);
  }
  const caseIds = [...byCase.keys()].sort();
  const valFraction = opts.valFraction ?? 0.2;
  const splits = splitCases(caseIds, opts.siteSecret, valFraction);
  const order = (l: LabelCandidate): [string, number, number, number, string] => {
    const m = l.image.meta;
    const n = m.imageOrientationPatient ? planeNormal({ imageOrientationPatient: m.imageOrientationPatient }) : [0, 0, 0];
    const p = m.imagePositionPatient ?? [0, 0, 0];
    return [m.seriesInstanceUid ?? '', Math.round((p[0] * n[0] + p[1] * n[1] + p[2] * n[2]) * 100) / 100, m.triggerTimeMs ?? 0, m.instanceNumber ?? 0, l.sopInstanceUid];
  };
  const compare = (a: LabelCandidate, b: LabelCandidate) => {
    const [x, y] = [order(a), order(b)];
    for (let i = 0; i < x.length; i++) {
      const d = typeof x[i] === 'string' ? (x[i] as string).localeCompare(y[i] as string) : (x[i] as number) - (y[i] as number);
      if (d !== 0) return d;
    }
    return 0;
  };

  const tmp = join(dirname(out), `.${basename(out)}.partial-${randomBytes(6).toString('hex')}`);
  mkdirSync(tmp, { recursive: true });
  try {
    const lines = ['case,image,label,split,label_source'];
    const splitCounts: Record<string, { cases: number; images: number }> = {};
    const labelSources = { seg: 0, rtstruct: 0 };
    let images = 0;
    for (const caseId of caseIds) {
      const split = splits.get(caseId)!;
      let k = 0;
      for (const l of byCase.get(caseId)!.sort(compare)) {
        let copy: Buffer;
        try {
          copy = await pseudonymousImage(l.image.bytes, caseId);
        } catch (e) {
          if (!isLvsegError(e)) throw e;
          // The source's own decode failed (a damaged or unsupported stream), or its copy would not give its pixels.
          skip(e.code.startsWith('IMPORT_') ? SkipReason.ImageRewrite : SkipReason.ImageUndecodable);
          continue;
        }
        const stem = `${caseId}/${String(++k).padStart(4, '0')}`;
        mkdirSync(join(tmp, caseId), { recursive: true });
        writeFileSync(join(tmp, `${stem}.dcm`), copy);
        writeFileSync(join(tmp, `${stem}-label.png`), encodeMaskPng(l.mask));
        lines.push(`${caseId},${stem}.dcm,${stem}-label.png,${split},${l.kind}`);
        labelSources[l.kind]++;
        images++;
      }
      if (k > 0) {
        splitCounts[split] ??= { cases: 0, images: 0 };
        splitCounts[split].cases++;
        splitCounts[split].images += k;
      }
    }
    if (images === 0) throw new LvsegError('invalid-input', 'IMPORT_NOTHING', `no expert LV label was found (skipped: ${JSON.stringify(skipped)})`);
    const manifestText = lines.join('\n') + '\n';
    writeFileSync(join(tmp, 'manifest.csv'), manifestText);
    const summary: ImportSummary = {
      version: 1,
      ...source.description,
      importedAt: (opts.now ?? new Date()).toISOString(),
      lvSelection: sel,
      includeLvsegUnreviewed: opts.includeLvsegUnreviewed === true,
      valFraction,
      labelObjects: counts,
      images,
      cases: Object.values(splitCounts).reduce((n, s) => n + s.cases, 0),
      splits: splitCounts,
      labelSources,
      skipped: Object.fromEntries(Object.entries(skipped).sort(([a], [b]) => a.localeCompare(b))),
      manifestSha256: sha256Hex(manifestText),
    };
    writeFileSync(join(tmp, IMPORT_SUMMARY_FILE), JSON.stringify(summary, null, 2) + '\n');
    renameSync(tmp, out);
    log(`imported ${images} images of ${summary.cases} cases into ${opts.out}`);
    return summary;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** The provenance file an import writes next to `manifest.csv`. */
export const IMPORT_SUMMARY_FILE = 'import.json';

/** The summary as a few human lines (counts and reasons only). */
export function formatImportSummary(s: ImportSummary): string {
  const lines = [
    `${s.images} labelled images, ${s.cases} cases (${Object.entries(s.splits).map(([k, v]) => `${k}: ${v.cases} cases / ${v.images} images`).join(', ')})`,
    `label objects: ${s.labelObjects.seg} SEG, ${s.labelObjects.rtstruct} RTSTRUCT, ${s.labelObjects.used} used; labels from SEG ${s.labelSources.seg}, RTSTRUCT ${s.labelSources.rtstruct}`,
    `manifest sha256 ${s.manifestSha256}`,
  ];
  const skipped = Object.entries(s.skipped);
  lines.push(skipped.length === 0 ? 'skipped: nothing' : `skipped: ${skipped.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  return lines.join('\n');
}
