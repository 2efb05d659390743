import { NaturalDataset, data as dcmjsData } from 'dcmjs';
import { LvsegError } from '@lvseg/common';
import type { CodedConcept } from './dicom-seg-reader';
import { LV_MEASUREMENT_CODES, SR_CODES } from './sr-codes';

/** One image's measurement group: the LV area and what it references. */
export interface SrImageArea {
  sourceSopClassUid?: string;
  sourceSopInstanceUid?: string;
  segSopInstanceUid?: string;
  segFrameNumber?: number;
  value?: number;
  /** UCUM code of the value's unit (`mm2`, or `{pixels}` without a pixel spacing). */
  unit?: string;
  trackingIdentifier?: string;
}

/** An LV function report (TID 1500) as lvseg writes it, read back. */
export interface ReadLvFunctionSr {
  sopClassUid?: string;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  modality?: string;
  /** The root's template (`1500`) and title. */
  templateId?: string;
  title?: CodedConcept;
  procedureReported?: CodedConcept;
  images: SrImageArea[];
  /** The LV function group; volumes null when absent. */
  lvFunction?: {
    edvMl: number | null;
    esvMl: number | null;
    svMl: number | null;
    efPercent: number | null;
    /** Code of each NUM's concept → its unit code, e.g. `8811-2` → `%`. */
    units: Record<string, string>;
    method?: string;
    comments: string[];
    segSopInstanceUid?: string;
  };
  /** SOP Instance UIDs in Current Requested Procedure Evidence and Pertinent Other Evidence. */
  evidence: { current: string[]; other: string[] };
}

const list = (v: unknown): NaturalDataset[] => (Array.isArray(v) ? (v as NaturalDataset[]) : v && typeof v === 'object' ? [v as NaturalDataset] : []);
const asString = (v: unknown): string | undefined => (typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined);
const asNumber = (v: unknown): number | undefined => {
  const x = Array.isArray(v) ? v[0] : v;
  return typeof x === 'number' ? x : typeof x === 'string' && x.trim() !== '' ? Number(x) : undefined;
};
const codeOf = (v: unknown): CodedConcept | undefined => {
  const c = list(v)[0];
  return c ? { CodeValue: String(c.CodeValue), CodingSchemeDesignator: String(c.CodingSchemeDesignator), CodeMeaning: String(c.CodeMeaning) } : undefined;
};
const is = (item: NaturalDataset, concept: CodedConcept): boolean => {
  const c = codeOf(item.ConceptNameCodeSequence);
  return c?.CodeValue === concept.CodeValue && c.CodingSchemeDesignator === concept.CodingSchemeDesignator;
};
const children = (item: NaturalDataset): NaturalDataset[] => list(item.ContentSequence);
const find = (items: NaturalDataset[], concept: CodedConcept) => items.find((i) => is(i, concept));
const numberOf = (item: NaturalDataset | undefined): number | null => {
  const v = list(item?.MeasuredValueSequence)[0];
  const n = asNumber(v?.NumericValue);
  return n === undefined ? null : n;
};
const unitOf = (item: NaturalDataset | undefined): string | undefined => codeOf(list(item?.MeasuredValueSequence)[0]?.MeasurementUnitsCodeSequence)?.CodeValue;
const refOf = (item: NaturalDataset | undefined) => list(item?.ReferencedSOPSequence)[0];
const evidenceUids = (v: unknown): string[] =>
  list(v).flatMap((study) => list(study.ReferencedSeriesSequence).flatMap((series) => list(series.ReferencedSOPSequence).map((r) => String(r.ReferencedSOPInstanceUID))));

/** Reads an LV function report (lvseg's TID 1500 Comprehensive SR) with dcmjs. */
export function readLvFunctionSr(bytes: Uint8Array): ReadLvFunctionSr {
  let ds: NaturalDataset;
  try {
    const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    ds = dcmjsData.DicomMetaDictionary.naturalizeDataset(dcmjsData.DicomMessage.readFile(copy).dict);
  } catch (e) {
    throw new LvsegError('invalid-input', 'DICOM_SR_UNREADABLE', `not a readable DICOM file: ${String((e as Error).message ?? e).slice(0, 200)}`);
  }
  const root = children(ds);
  const measurements = children(find(root, SR_CODES.imagingMeasurements) ?? {});
  const groups = measurements.filter((g) => is(g, SR_CODES.measurementGroup));

  const images: SrImageArea[] = [];
  let lvFunction: ReadLvFunctionSr['lvFunction'];
  for (const group of groups) {
    const items = children(group);
    const segFrame = find(items, SR_CODES.referencedSegmentationFrame);
    if (segFrame) {
      const source = refOf(find(items, SR_CODES.sourceImageForSegmentation));
      const area = find(items, LV_MEASUREMENT_CODES.area);
      images.push({
        sourceSopClassUid: asString(source?.ReferencedSOPClassUID),
        sourceSopInstanceUid: asString(source?.ReferencedSOPInstanceUID),
        segSopInstanceUid: asString(refOf(segFrame)?.ReferencedSOPInstanceUID),
        segFrameNumber: asNumber(refOf(segFrame)?.ReferencedFrameNumber),
        value: numberOf(area) ?? undefined,
        unit: unitOf(area),
        trackingIdentifier: asString(find(items, SR_CODES.trackingIdentifier)?.TextValue),
      });
      continue;
    }
    const ef = find(items, LV_MEASUREMENT_CODES.lvEjectionFractionByMr);
    if (!ef) continue;
    const nums = items.filter((i) => i.ValueType === 'NUM');
    lvFunction = {
      edvMl: numberOf(find(items, LV_MEASUREMENT_CODES.lvEdVolume)),
      esvMl: numberOf(find(items, LV_MEASUREMENT_CODES.lvEsVolume)),
      svMl: numberOf(find(items, LV_MEASUREMENT_CODES.strokeVolume)),
      efPercent: numberOf(ef),
      units: Object.fromEntries(nums.map((n) => [String(codeOf(n.ConceptNameCodeSequence)?.CodeValue), String(unitOf(n))])),
      method: asString(find(items, SR_CODES.calculationDescription)?.TextValue),
      comments: items.filter((i) => is(i, SR_CODES.comment)).map((i) => String(asString(i.TextValue))),
      segSopInstanceUid: asString(refOf(find(items, SR_CODES.sourceOfMeasurement))?.ReferencedSOPInstanceUID),
    };
  }

  return {
    sopClassUid: asString(ds.SOPClassUID),
    sopInstanceUid: asString(ds.SOPInstanceUID),
    studyInstanceUid: asString(ds.StudyInstanceUID),
    seriesInstanceUid: asString(ds.SeriesInstanceUID),
    modality: asString(ds.Modality),
    templateId: asString(list(ds.ContentTemplateSequence)[0]?.TemplateIdentifier),
    title: codeOf(ds.ConceptNameCodeSequence),
    procedureReported: codeOf(find(root, SR_CODES.procedureReported)?.ConceptCodeSequence),
    images,
    ...(lvFunction ? { lvFunction } : {}),
    evidence: { current: evidenceUids(ds.CurrentRequestedProcedureEvidenceSequence), other: evidenceUids(ds.PertinentOtherEvidenceSequence) },
  };
}
