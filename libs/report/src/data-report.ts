/** The numbers behind the report page (written as report.json): every figure on the page comes from here. */
import { NORMALIZE_PERCENTILES } from '@lvseg/imaging';
import type { UnknownPhaseReason } from '@lvseg/lv-function';
import { CollectedData, ImageRecord } from './collect';
import { EfAgreement, EfPair } from './ef-agreement';
import { binStarts, ClassImbalance, classImbalance, distinctCounts, mode, summarize, Summary } from './stats';

export interface SplitCount {
  split: string;
  cases: number;
  images: number;
}

export interface CaseCount {
  case: string;
  split: string;
  images: number;
}

export interface CaseArea {
  case: string;
  split: string;
  images: number;
  areaPx: Summary;
  /** null when any of the case's images has no pixel spacing. */
  areaMm2: Summary | null;
}

export interface CasePhases {
  case: string;
  split: string;
  ed: number;
  es: number;
  unknown: number;
  /** Cine phases (1-based) of the frames called ED / ES, distinct, ascending. */
  edCinePhases: number[];
  esCinePhases: number[];
  /** Slices whose ED frame is not at the case's most common ED cine phase (the area rule and the timing disagree). */
  edPhaseDisagreements: number;
  /** Unknown frames that sit at the case's most common ED / ES cine phase (a hint, not a label). */
  unknownAtUsualEdPhase: number;
  unknownAtUsualEsPhase: number;
  meanEdAreaPx: number | null;
  meanEsAreaPx: number | null;
  meanEdAreaMm2: number | null;
  meanEsAreaMm2: number | null;
}

export interface HistogramBin {
  start: number;
  end: number;
  count: number;
}

/** What `lvseg report --model` adds: a model's segmentation of one split, scored by the EF it gives against the expert's. */
export interface ModelEfInput {
  model: { source: string; version?: string; architecture?: string };
  split: string;
  images: number;
  /** Mean Dice over the split's images (the masks the model's EF comes from). */
  meanDice: number;
  /** Mean |model − expert| EF over the patients with both (a fraction). */
  meanAbsError: number | null;
  /** Time taken to segment and score the split (not part of the report's own `timingMs`). */
  evaluationMs?: number;
  /** EFs as fractions; `reason` says why one is null. */
  perCase: Array<EfPair & { images: number; meanDice: number; reason?: string }>;
}

export interface ModelEfReport extends ModelEfInput {
  efAgreement: EfAgreement;
}

export interface DataReport {
  generator: 'lvseg report';
  generatedAt: string;
  data: { dir: string; kind: 'png' | 'dicom-label' | 'dicom-contour'; manifestSha256: string };
  counts: { images: number; cases: number; perSplit: SplitCount[]; perCase: CaseCount[] };
  imbalance: ClassImbalance;
  /** Histogram of per-image LV fraction, in percent of the image. */
  lvFractionPercentHistogram: HistogramBin[];
  area: {
    /** 'all': mm² for every image; 'some': only for some (so no mm² summaries); 'none': pixels only. */
    spacingKnown: 'all' | 'some' | 'none';
    overallPx: Summary;
    overallMm2: Summary | null;
    perCase: CaseArea[];
  };
  phases: {
    rule: string;
    phasesPerSlice: number;
    counts: { ED: number; ES: number; unknown: number };
    unknownReasons: Partial<Record<UnknownPhaseReason, number>>;
    meanEdAreaPx: number | null;
    meanEsAreaPx: number | null;
    meanEdAreaMm2: number | null;
    meanEsAreaMm2: number | null;
    edPhaseDisagreements: number;
    unknownAtUsualEdPhase: number;
    unknownAtUsualEsPhase: number;
    perCase: CasePhases[];
  };
  intensity: {
    what: string;
    normalizePercentiles: { low: number; high: number };
    binStarts: number[];
    binWidth: number;
    /** Share of the case's pixels in each bin. */
    perCase: Array<{ case: string; split: string; fractions: number[] }>;
    /** Share of all LV / all background pixels in each bin. */
    insideLv: number[];
    outsideLv: number[];
  };
  sizes: Array<{ value: string; count: number }>;
  pixelSpacings: Array<{ value: string; count: number }>;
  examples: Array<{ id: string; case: string; split: string; lvFraction: number; cardiacPhase: string }>;
  /** The charts on the page, in order (their SVGs are inlined in index.html). */
  charts: Array<{ id: string; title: string; caption: string }>;
  images: ImageRecord[];
  /** Only with `lvseg report --model`. */
  modelEf?: ModelEfReport;
  timingMs: { collect: number; charts: number; total: number };
}

/** The phase rule as the page states it. */
export function phaseRuleText(phasesPerSlice: number): string {
  return (
    `Frame number N comes from the file name (IM-0001-NNNN; for the DICOM set it is the InstanceNumber). ` +
    `The Sunnybrook cine series has ${phasesPerSlice} phases per slice position, so slice = (N − 1) div ${phasesPerSlice} and cine phase = ((N − 1) mod ${phasesPerSlice}) + 1. ` +
    `Experts drew contours at end-diastole and end-systole, so when a case has exactly two labelled frames at one slice, the larger LV is end-diastole (ED, the fullest ventricle by definition) and the smaller end-systole (ES). ` +
    `Frames without a number, slices with one or more than two labelled frames, and pairs of equal area are counted as unknown, not guessed.`
  );
}

const meanOrNull = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : null);

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

/** Formats a pixel spacing for the table of distinct values. */
export function spacingLabel(s: [number, number] | null): string {
  return s ? `${s[0]} × ${s[1]} mm` : 'unknown (not in the files)';
}

/** Aggregates the collected per-image numbers into the report model (timing filled in by the caller). */
export function summarizeDataset(c: CollectedData, phasesPerSlice: number, examples: ImageRecord[]): DataReport {
  const r = c.records;
  const cases = unique(r.map((x) => x.case));
  const splitOf = new Map(r.map((x) => [x.case, x.split]));
  const perSplit = unique(r.map((x) => x.split)).map((split) => ({
    split,
    cases: unique(r.filter((x) => x.split === split).map((x) => x.case)).length,
    images: r.filter((x) => x.split === split).length,
  }));
  const perCase = cases.map((k) => ({ case: k, split: splitOf.get(k) as string, images: r.filter((x) => x.case === k).length }));

  const maxPct = Math.max(...r.map((x) => x.lvFraction * 100));
  const binWidthPct = maxPct > 10 ? 2 : maxPct > 5 ? 0.5 : 0.25;
  const nBins = Math.max(1, Math.ceil((maxPct + 1e-9) / binWidthPct));
  const lvHist: HistogramBin[] = Array.from({ length: nBins }, (_, i) => ({ start: i * binWidthPct, end: (i + 1) * binWidthPct, count: 0 }));
  for (const x of r) lvHist[Math.min(nBins - 1, Math.floor((x.lvFraction * 100) / binWidthPct))].count++;

  const withSpacing = r.filter((x) => x.lvAreaMm2 !== null).length;
  const spacingKnown = withSpacing === r.length ? 'all' : withSpacing === 0 ? 'none' : 'some';
  const areaPerCase: CaseArea[] = perCase.map((pc) => {
    const items = r.filter((x) => x.case === pc.case);
    const mm2 = items.map((x) => x.lvAreaMm2);
    return {
      ...pc,
      areaPx: summarize(items.map((x) => x.lvPixels)),
      areaMm2: mm2.every((v) => v !== null) ? summarize(mm2 as number[]) : null,
    };
  });

  const phasePerCase: CasePhases[] = perCase.map((pc) => {
    const items = r.filter((x) => x.case === pc.case);
    const ed = items.filter((x) => x.cardiacPhase === 'ED');
    const es = items.filter((x) => x.cardiacPhase === 'ES');
    const usualEd = mode(ed.map((x) => x.cinePhase as number));
    const usualEs = mode(es.map((x) => x.cinePhase as number));
    const unknown = items.filter((x) => x.cardiacPhase === 'unknown' && x.cinePhase !== null);
    const mm2 = (xs: ImageRecord[]) => (xs.every((x) => x.lvAreaMm2 !== null) ? meanOrNull(xs.map((x) => x.lvAreaMm2 as number)) : null);
    return {
      case: pc.case,
      split: pc.split,
      ed: ed.length,
      es: es.length,
      unknown: items.length - ed.length - es.length,
      edCinePhases: unique(ed.map((x) => x.cinePhase as number)).sort((a, b) => a - b),
      esCinePhases: unique(es.map((x) => x.cinePhase as number)).sort((a, b) => a - b),
      edPhaseDisagreements: ed.filter((x) => x.cinePhase !== usualEd).length,
      unknownAtUsualEdPhase: unknown.filter((x) => x.cinePhase === usualEd).length,
      unknownAtUsualEsPhase: unknown.filter((x) => x.cinePhase === usualEs).length,
      meanEdAreaPx: meanOrNull(ed.map((x) => x.lvPixels)),
      meanEsAreaPx: meanOrNull(es.map((x) => x.lvPixels)),
      meanEdAreaMm2: ed.length ? mm2(ed) : null,
      meanEsAreaMm2: es.length ? mm2(es) : null,
    };
  });
  const edAll = r.filter((x) => x.cardiacPhase === 'ED');
  const esAll = r.filter((x) => x.cardiacPhase === 'ES');
  const unknownReasons: Partial<Record<UnknownPhaseReason, number>> = {};
  for (const x of r) if (x.phaseUnknownReason) unknownReasons[x.phaseUnknownReason] = (unknownReasons[x.phaseUnknownReason] ?? 0) + 1;
  const allMm2 = (xs: ImageRecord[]) => (xs.length && xs.every((x) => x.lvAreaMm2 !== null) ? meanOrNull(xs.map((x) => x.lvAreaMm2 as number)) : null);

  const spec = c.intensitySpec;
  const share = (counts: Float64Array) => {
    const total = counts.reduce((a, b) => a + b, 0);
    return Array.from(counts, (v) => (total > 0 ? v / total : 0));
  };

  return {
    generator: 'lvseg report',
    generatedAt: new Date().toISOString(),
    data: { dir: c.manifest.dir, kind: c.manifest.kind, manifestSha256: c.manifest.sha256 },
    counts: { images: r.length, cases: cases.length, perSplit, perCase },
    imbalance: classImbalance(r),
    lvFractionPercentHistogram: lvHist,
    area: {
      spacingKnown,
      overallPx: summarize(r.map((x) => x.lvPixels)),
      overallMm2: spacingKnown === 'all' ? summarize(r.map((x) => x.lvAreaMm2 as number)) : null,
      perCase: areaPerCase,
    },
    phases: {
      rule: phaseRuleText(phasesPerSlice),
      phasesPerSlice,
      counts: { ED: edAll.length, ES: esAll.length, unknown: r.length - edAll.length - esAll.length },
      unknownReasons,
      meanEdAreaPx: meanOrNull(edAll.map((x) => x.lvPixels)),
      meanEsAreaPx: meanOrNull(esAll.map((x) => x.lvPixels)),
      meanEdAreaMm2: allMm2(edAll),
      meanEsAreaMm2: allMm2(esAll),
      edPhaseDisagreements: phasePerCase.reduce((a, p) => a + p.edPhaseDisagreements, 0),
      unknownAtUsualEdPhase: phasePerCase.reduce((a, p) => a + p.unknownAtUsualEdPhase, 0),
      unknownAtUsualEsPhase: phasePerCase.reduce((a, p) => a + p.unknownAtUsualEsPhase, 0),
      perCase: phasePerCase,
    },
    intensity: {
      what: 'normalize() output (the model input): per image, 0.5th percentile → 0, 99.5th → 1, clipped to [0, 1]',
      normalizePercentiles: { ...NORMALIZE_PERCENTILES },
      binStarts: binStarts(spec),
      binWidth: (spec.max - spec.min) / spec.bins,
      perCase: cases.map((k) => ({ case: k, split: splitOf.get(k) as string, fractions: share(c.intensityByCase.get(k) as Float64Array) })),
      insideLv: share(c.intensityInsideLv),
      outsideLv: share(c.intensityOutsideLv),
    },
    sizes: distinctCounts(r.map((x) => `${x.columns} × ${x.rows}`)),
    pixelSpacings: distinctCounts(r.map((x) => spacingLabel(x.pixelSpacingMm))),
    examples: examples.map((x) => ({ id: x.id, case: x.case, split: x.split, lvFraction: x.lvFraction, cardiacPhase: x.cardiacPhase })),
    charts: [],
    images: r,
    timingMs: { collect: 0, charts: 0, total: 0 },
  };
}
