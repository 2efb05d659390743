/**
 * lvseg's LV function report as a DICOM Comprehensive SR (TID 1500 "Measurement Report"), written with dcmjs:
 *
 *   CONTAINER Imaging Measurement Report (TID 1500)
 *   ├ HAS CONCEPT MOD Language = English (TID 1204)
 *   ├ HAS OBS CONTEXT Observer Type = Device, Device Observer UID/Name/Manufacturer/Model (TID 1002/1004)
 *   ├ HAS CONCEPT MOD Procedure reported = MRI unspecified body region
 *   ├ CONTAINS Image Library (TID 1600): one IMAGE per source image
 *   └ CONTAINS Imaging Measurements
 *     ├ Measurement Group (TID 1410), one per source image: tracking id/UID, Finding = Left ventricle, Referenced
 *     │ Segmentation Frame (the SEG frame), Source image for segmentation (the MR image), Finding Site, algorithm,
 *     │ NUM Area (mm2, or pixels without a pixel spacing)
 *     └ Measurement Group (TID 1501): tracking id/UID, Finding = Left ventricle, Finding Site, algorithm, NUM LV ED
 *       volume, LV ES volume, Stroke volume (ml; when the volumes are known), LV EF by MR (%), TEXT Calculation
 *       Description (the method, spacing source included), TEXT Comment per note, IMAGE Source of Measurement = the SEG
 *
 * The codes and where each was checked: sr-codes.ts. The patient and study are copied from the source images as the
 * SEG writer does (`patientAndStudyOf`), so the SR files beside them.
 */
import type { NaturalDataset } from 'dcmjs';
import { LvsegError } from '@lvseg/common';
import type { LvFrame, LvFunction, PhaseRule, SpacingSource } from '@lvseg/lv-function';
import type { CodedConcept } from './dicom-seg-reader';
import { SEGMENTATION_STORAGE, dicomDate, dicomTime, patientAndStudyOf, toPart10 } from './dicom-seg-writer';
import { deterministicUid } from './uids';
import { COMPREHENSIVE_SR_STORAGE, LV_MEASUREMENT_CODES, SR_CODES, UCUM } from './sr-codes';

/** Identifies lvseg as the observer (a device) in every report it writes. */
export const LVSEG_DEVICE_OBSERVER_UID = deterministicUid('lvseg/device-observer');

/** The LV function as the report states it: volumes and areas to 0.01 mL / mm², EF in percent to 0.01. */
export type ReportedLvFunction = Omit<LvFunction, 'ef' | 'phases'> & {
  /** EF in percent, to 0.01. */
  efPercent: number;
};

const round2 = (v: number): number => Math.round(v * 100) / 100;
const round2OrNull = (v: number | null): number | null => (v === null ? null : round2(v));

/** The numbers of `fn` as the SR writes them (the job result carries the same). */
export function reportLvFunction(fn: LvFunction): ReportedLvFunction {
  return {
    edvMl: round2OrNull(fn.edvMl),
    esvMl: round2OrNull(fn.esvMl),
    svMl: round2OrNull(fn.svMl),
    efPercent: round2(fn.ef * 100),
    edPhase: fn.edPhase,
    esPhase: fn.esPhase,
    phaseRule: fn.phaseRule,
    slicesUsed: fn.slicesUsed,
    spacingMm: round2OrNull(fn.spacingMm),
    spacingSource: fn.spacingSource,
    areaUnit: fn.areaUnit,
    method: fn.method,
    notes: fn.notes,
    ...(fn.volumeNullReason !== undefined ? { volumeNullReason: fn.volumeNullReason } : {}),
  };
}

/** One source image: the dataset (identifiers, patient and study are read), its LV area, where it sits. */
export interface LvFunctionSrImage {
  dataset: NaturalDataset;
  area: { pixels: number; mm2: number | null };
  /** Its slice and phase as `computeLvFunction` placed it (named in the measurement group's tracking identifier). */
  frame?: Pick<LvFrame, 'sliceIndex' | 'phaseIndex'>;
}

export interface LvFunctionSrOptions {
  seriesInstanceUid: string;
  sopInstanceUid: string;
  /** The SEG the areas were measured on: frame k (1-based) is the source image `frameSources[k − 1]`. */
  seg: { seriesInstanceUid: string; sopInstanceUid: string; segmentNumber: number; frameSources: readonly string[] };
  lvFunction: LvFunction;
  model: { version: string; architecture: string };
  softwareVersion: string;
  /** Defaults to the source SeriesNumber + 2000 (the SEG has + 1000), else 2000. */
  seriesNumber?: number;
  now?: Date;
}

export interface WrittenLvFunctionSr {
  bytes: Buffer;
  reported: ReportedLvFunction;
  /** Measurement groups of single images written (one per source image). */
  imageGroups: number;
}

type Rel = 'CONTAINS' | 'HAS OBS CONTEXT' | 'HAS CONCEPT MOD';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);
const clip = (s: string, max: number): string => (s.length <= max ? s : s.slice(0, max));

/**
 * lvseg's own words in plain ASCII (the file is UTF-8, but viewers render ASCII best): typography is spelled out,
 * anything else non-ASCII becomes '?'. Copied patient attributes are left as they are.
 */
export function asciiText(s: string): string {
  const map: Record<string, string> = { '‘': "'", '’': "'", '“': '"', '”': '"', '–': '-', '—': '-', '−': '-', '×': 'x', 'Σ': 'sum of', '²': '2', '³': '3', '≤': '<=', '≥': '>=', '…': '...', '·': '.', ' ': ' ' };
  return s.replace(/[^\x20-\x7e\n]/g, (c) => map[c] ?? '?');
}

/** A DS value: at most 16 characters (the rounded values here never need more). */
function ds(v: number): string {
  const s = String(v);
  // A bug, not an input problem: the values are rounded to 0.01 and physiological.
  if (s.length > 16 || /e/i.test(s)) throw new Error(`a measurement value (${s}) does not fit a DICOM decimal string`);
  return s;
}

const item = (rel: Rel, valueType: string, name: CodedConcept | undefined, rest: NaturalDataset): NaturalDataset => ({
  RelationshipType: rel,
  ValueType: valueType,
  ...(name ? { ConceptNameCodeSequence: [name] } : {}),
  ...rest,
});
const container = (rel: Rel, name: CodedConcept, children: NaturalDataset[], templateId?: string): NaturalDataset =>
  item(rel, 'CONTAINER', name, {
    ContinuityOfContent: 'SEPARATE',
    ...(templateId ? { ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: templateId }] } : {}),
    ...(children.length ? { ContentSequence: children } : {}),
  });
const text = (rel: Rel, name: CodedConcept, value: string): NaturalDataset => item(rel, 'TEXT', name, { TextValue: asciiText(value) });
const code = (rel: Rel, name: CodedConcept, value: CodedConcept): NaturalDataset => item(rel, 'CODE', name, { ConceptCodeSequence: [value] });
const uidref = (rel: Rel, name: CodedConcept, uid: string): NaturalDataset => item(rel, 'UIDREF', name, { UID: uid });
const measurement = (name: CodedConcept, value: number, unit: CodedConcept): NaturalDataset =>
  item('CONTAINS', 'NUM', name, { MeasuredValueSequence: [{ MeasurementUnitsCodeSequence: [unit], NumericValue: ds(value) }] });
const image = (name: CodedConcept | undefined, ref: NaturalDataset): NaturalDataset => item('CONTAINS', 'IMAGE', name, { ReferencedSOPSequence: [ref] });

function invalid(code: string, message: string): LvsegError {
  return new LvsegError('invalid-input', code, message);
}

/**
 * Writes the LV function report (Comprehensive SR, TID 1500) of one series: per-image LV areas referencing their SEG
 * frame and source image, and EDV, ESV, SV, EF with the method in words. Images are listed by InstanceNumber.
 */
export function writeLvFunctionSr(images: readonly LvFunctionSrImage[], opts: LvFunctionSrOptions): WrittenLvFunctionSr {
  if (images.length === 0) throw invalid('SR_NO_SOURCES', 'an LV function report needs at least one source image');
  const first = images[0].dataset;
  const studyUid = str(first.StudyInstanceUID);
  const seriesUid = str(first.SeriesInstanceUID);
  if (!studyUid || !seriesUid) throw invalid('SR_SOURCE_UIDS', 'the source images have no Study or Series Instance UID');
  for (const im of images) {
    if (str(im.dataset.StudyInstanceUID) !== studyUid || str(im.dataset.SeriesInstanceUID) !== seriesUid) throw invalid('SR_MIXED_SERIES', 'the source images are not all of one series');
    if (!str(im.dataset.SOPInstanceUID) || !str(im.dataset.SOPClassUID)) throw invalid('SR_SOURCE_UIDS', 'a source image has no SOP Class or SOP Instance UID');
    if (!opts.seg.frameSources.includes(String(im.dataset.SOPInstanceUID))) throw invalid('SR_IMAGE_NOT_IN_SEG', `source image ${String(im.dataset.SOPInstanceUID)} has no frame in the SEG`);
  }
  const ordered = [...images].sort((a, b) => {
    const ia = num(a.dataset.InstanceNumber) ?? Number.MAX_SAFE_INTEGER;
    const ib = num(b.dataset.InstanceNumber) ?? Number.MAX_SAFE_INTEGER;
    return ia - ib || String(a.dataset.SOPInstanceUID).localeCompare(String(b.dataset.SOPInstanceUID));
  });

  const reported = reportLvFunction(opts.lvFunction);
  const sopOf = (d: NaturalDataset) => ({ ReferencedSOPClassUID: d.SOPClassUID, ReferencedSOPInstanceUID: d.SOPInstanceUID });
  const segRef = { ReferencedSOPClassUID: SEGMENTATION_STORAGE, ReferencedSOPInstanceUID: opts.seg.sopInstanceUid };
  const algorithm = [
    text('HAS CONCEPT MOD', SR_CODES.algorithmName, clip(`lvseg ${opts.model.architecture}`, 64)),
    text('HAS CONCEPT MOD', SR_CODES.algorithmVersion, clip(`${opts.model.version} (lvseg ${opts.softwareVersion})`, 64)),
  ];
  const phaseWord = (p: number | undefined) =>
    p === undefined ? '' : p === reported.edPhase ? `, phase ${p} = ED` : p === reported.esPhase ? `, phase ${p} = ES` : `, phase ${p}`;

  const imageGroups = ordered.map((im) => {
    const d = im.dataset;
    const sop = String(d.SOPInstanceUID);
    const instance = num(d.InstanceNumber);
    const where = im.frame?.sliceIndex !== undefined ? ` (slice ${im.frame.sliceIndex}${phaseWord(im.frame.phaseIndex)})` : '';
    const area = reported.areaUnit === 'mm2' && im.area.mm2 !== null ? measurement(LV_MEASUREMENT_CODES.area, round2(im.area.mm2), UCUM.squareMillimeter) : measurement(LV_MEASUREMENT_CODES.area, im.area.pixels, UCUM.pixels);
    return container(
      'CONTAINS',
      SR_CODES.measurementGroup,
      [
        text('HAS OBS CONTEXT', SR_CODES.trackingIdentifier, `LV blood pool area, image ${instance ?? sop}${where}`),
        uidref('HAS OBS CONTEXT', SR_CODES.trackingUniqueIdentifier, deterministicUid('lvseg/sr/tracking', opts.sopInstanceUid, sop)),
        code('CONTAINS', SR_CODES.finding, SR_CODES.leftVentricle),
        // The frame implies its segment: PS3.3 Table 10-3 allows Referenced Segment Number only without a frame number.
        image(SR_CODES.referencedSegmentationFrame, { ...segRef, ReferencedFrameNumber: opts.seg.frameSources.indexOf(sop) + 1 }),
        image(SR_CODES.sourceImageForSegmentation, sopOf(d)),
        code('HAS CONCEPT MOD', SR_CODES.findingSite, SR_CODES.leftVentricle),
        ...algorithm,
        area,
      ],
      '1410',
    );
  });

  const volumes: NaturalDataset[] = [];
  if (reported.edvMl !== null) volumes.push(measurement(LV_MEASUREMENT_CODES.lvEdVolume, reported.edvMl, UCUM.milliliter));
  if (reported.esvMl !== null) volumes.push(measurement(LV_MEASUREMENT_CODES.lvEsVolume, reported.esvMl, UCUM.milliliter));
  if (reported.svMl !== null) volumes.push(measurement(LV_MEASUREMENT_CODES.strokeVolume, reported.svMl, UCUM.milliliter));
  const functionGroup = container(
    'CONTAINS',
    SR_CODES.measurementGroup,
    [
      text('HAS OBS CONTEXT', SR_CODES.trackingIdentifier, 'LV function by disc summation over the short-axis stack'),
      uidref('HAS OBS CONTEXT', SR_CODES.trackingUniqueIdentifier, deterministicUid('lvseg/sr/tracking', opts.sopInstanceUid, 'lv-function')),
      code('CONTAINS', SR_CODES.finding, SR_CODES.leftVentricle),
      code('HAS CONCEPT MOD', SR_CODES.findingSite, SR_CODES.leftVentricle),
      ...algorithm,
      ...volumes,
      measurement(LV_MEASUREMENT_CODES.lvEjectionFractionByMr, reported.efPercent, UCUM.percent),
      text('CONTAINS', SR_CODES.calculationDescription, reported.method),
      ...(reported.volumeNullReason !== undefined ? [text('CONTAINS', SR_CODES.comment, `No volumes: ${reported.volumeNullReason}`)] : []),
      ...reported.notes.map((n) => text('CONTAINS', SR_CODES.comment, n)),
      image(SR_CODES.sourceOfMeasurement, { ...segRef, ReferencedSegmentNumber: opts.seg.segmentNumber }),
    ],
    '1501',
  );

  const root = {
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [SR_CODES.imagingMeasurementReport],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }],
    ContentSequence: [
      code('HAS CONCEPT MOD', SR_CODES.languageOfContent, SR_CODES.english),
      code('HAS OBS CONTEXT', SR_CODES.observerType, SR_CODES.device),
      uidref('HAS OBS CONTEXT', SR_CODES.deviceObserverUid, LVSEG_DEVICE_OBSERVER_UID),
      text('HAS OBS CONTEXT', SR_CODES.deviceObserverName, 'lvseg'),
      text('HAS OBS CONTEXT', SR_CODES.deviceObserverManufacturer, 'lvseg'),
      text('HAS OBS CONTEXT', SR_CODES.deviceObserverModelName, 'lvseg inference service'),
      code('HAS CONCEPT MOD', SR_CODES.procedureReported, SR_CODES.mriUnspecifiedBodyRegion),
      container('CONTAINS', SR_CODES.imageLibrary, [container('CONTAINS', SR_CODES.imageLibraryGroup, ordered.map((im) => image(undefined, sopOf(im.dataset))))]),
      container('CONTAINS', SR_CODES.imagingMeasurements, [...imageGroups, functionGroup]),
    ],
  };

  const now = opts.now ?? new Date();
  const date = dicomDate(now);
  const time = dicomTime(now);
  const sourceSeriesNumber = num(first.SeriesNumber);
  const seriesNumber = opts.seriesNumber ?? (sourceSeriesNumber !== undefined && Number.isInteger(sourceSeriesNumber) ? sourceSeriesNumber + 2000 : 2000);
  const evidence = (seriesInstanceUid: string, refs: NaturalDataset[]) => [{ StudyInstanceUID: studyUid, ReferencedSeriesSequence: [{ SeriesInstanceUID: seriesInstanceUid, ReferencedSOPSequence: refs }] }];

  const dataset: NaturalDataset = {
    ...patientAndStudyOf(first),
    // dcmjs writes every string as UTF-8 (and reads any source into UTF-8), so that is what the file holds.
    SpecificCharacterSet: 'ISO_IR 192',
    StudyInstanceUID: studyUid,
    InstanceCreationDate: date,
    InstanceCreationTime: time,
    SOPClassUID: COMPREHENSIVE_SR_STORAGE,
    SOPInstanceUID: opts.sopInstanceUid,
    Modality: 'SR',
    SeriesInstanceUID: opts.seriesInstanceUid,
    SeriesNumber: seriesNumber,
    SeriesDate: date,
    SeriesTime: time,
    SeriesDescription: clip(`lvseg LV function (${opts.model.version})`, 64),
    ReferencedPerformedProcedureStepSequence: [],
    Manufacturer: 'lvseg',
    ManufacturerModelName: 'lvseg inference service',
    DeviceSerialNumber: 'lvseg',
    SoftwareVersions: [clip(`lvseg ${opts.softwareVersion}`, 64), clip(`model ${opts.model.version}`, 64)],
    InstanceNumber: 1,
    ContentDate: date,
    ContentTime: time,
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    PerformedProcedureCodeSequence: [],
    // The MR images are the evidence of the requested procedure; the SEG (lvseg's own) is other pertinent evidence.
    CurrentRequestedProcedureEvidenceSequence: evidence(seriesUid, ordered.map((im) => sopOf(im.dataset))),
    PertinentOtherEvidenceSequence: evidence(opts.seg.seriesInstanceUid, [segRef]),
    ...root,
  };
  return { bytes: toPart10(dataset, opts.softwareVersion), reported, imageGroups: imageGroups.length };
}
