/**
 * LV volumes and ejection fraction from per-image LV areas of a short-axis stack, by disc summation. The rules (which
 * slices count, what fills a gap, which phase is ED) are stated in every result's `method` and `notes`.
 */
import { LvsegError } from '@lvseg/common';
import { LvFunctionErrorCode } from './errors';
import { indexSlicePositions, median, phaseOrderWithinSlices } from './slice-geometry';
import { pairSliceEdEs } from './sunnybrook';

/** One image's LV area and where it sits in the stack (slice) and in the cardiac cycle (phase). */
export interface LvFrame {
  id: string;
  /** LV area in mm²; null when the image has no PixelSpacing. */
  areaMm2: number | null;
  /** LV area in pixels. */
  areaPx: number;
  /** Position of the image plane along the stack's normal, mm (see `framesFromDicom`). */
  slicePositionMm?: number;
  /** 0-based slice index; neighbouring slices differ by 1, a skipped slice leaves an index out. */
  sliceIndex?: number;
  /** 0-based cine phase; frames of one phase at different slices share it. */
  phaseIndex?: number;
  /** TriggerTime (0018,1060), ms: orders the frames of a slice when `phaseIndex` is not given. */
  triggerTimeMs?: number;
  /** InstanceNumber (0020,0013): the order within a slice when there is neither `phaseIndex` nor a trigger time. */
  instanceNumber?: number;
}

export interface LvFunctionOptions {
  /** SpacingBetweenSlices (0018,0088), mm: the spacing when the frames' positions cannot give one. */
  spacingBetweenSlicesMm?: number;
  /** SliceThickness (0018,0050), mm: the last resort for the spacing. */
  sliceThicknessMm?: number;
}

export type SpacingSource = 'slice-positions' | 'spacing-between-slices' | 'slice-thickness';

/** How frames were put into phases: by their cine phase, or by Sunnybrook's per-slice pair rule (larger = ED). */
export type PhaseRule = 'cine-phase' | 'slice-pair';

export interface LvFunction {
  /** End-diastolic volume, mL; null with `volumeNullReason`. */
  edvMl: number | null;
  esvMl: number | null;
  /** Stroke volume EDV − ESV, mL. */
  svMl: number | null;
  /** Ejection fraction SV / EDV, a fraction 0..1 (from pixel sums when the volumes are null). */
  ef: number;
  /** 0-based cine phase of ED / ES; null under the slice-pair rule (ED and ES then differ from slice to slice). */
  edPhase: number | null;
  esPhase: number | null;
  phaseRule: PhaseRule;
  /** Slice steps summed per phase (interpolated ones included). */
  slicesUsed: number;
  /** Slice spacing used for the discs, mm; null when unknown. */
  spacingMm: number | null;
  spacingSource: SpacingSource | null;
  /** Whether the sums are of mm² (volumes) or of pixels (EF only). */
  areaUnit: 'mm2' | 'px';
  /** The method, in words, as applied to this input. */
  method: string;
  /** What this input needed: slices left out, slices interpolated, frames dropped, disagreements. */
  notes: string[];
  /** Why the volumes are null. */
  volumeNullReason?: string;
  /** Every phase's summed area and volume (what ED and ES were chosen from), in phase order; ED then ES under the slice-pair rule. */
  phases: LvPhaseSum[];
}

/** One phase of the stack summed over the slices every phase covers (interpolated slices included). */
export interface LvPhaseSum {
  /** 0-based cine phase; null under the slice-pair rule, whose two groups are ED and ES. */
  phase: number | null;
  /** 'ED' or 'ES' for the two phases EF is computed from, else null. */
  role: 'ED' | 'ES' | null;
  /** Σ area over the summed slices, in `areaUnit` (mm², or pixels when a frame has no PixelSpacing). */
  areaSum: number;
  /** areaSum × slice spacing, mL; null when the volumes are (see `volumeNullReason`). */
  volumeMl: number | null;
}

const invalid = (code: string, message: string, details?: Record<string, unknown>) => new LvsegError('invalid-input', code, message, details);

/** Phase key: a cine phase number, or 'ED'/'ES' under the slice-pair rule. */
type PhaseKey = number | 'ED' | 'ES';

interface Placed {
  frame: LvFrame;
  slice: number;
  phase?: number;
}

function placeSlices(frames: readonly LvFrame[]): { placed: Placed[]; positionSpacingMm: number | null; sliceSource: string } {
  if (frames.every((f) => Number.isInteger(f.sliceIndex))) {
    // Spacing per slice step from the positions, when every frame has one: |Δposition| / Δindex of neighbouring slices.
    let positionSpacingMm: number | null = null;
    if (frames.every((f) => Number.isFinite(f.slicePositionMm))) {
      const bySlice = new Map<number, number>();
      for (const f of frames) bySlice.set(f.sliceIndex as number, f.slicePositionMm as number);
      const s = [...bySlice].sort((a, b) => a[0] - b[0]);
      const steps = s.slice(1).map(([i, p], k) => Math.abs(p - s[k][1]) / (i - s[k][0]));
      positionSpacingMm = steps.length ? median(steps) : null;
    }
    return { placed: frames.map((frame) => ({ frame, slice: frame.sliceIndex as number })), positionSpacingMm, sliceSource: 'slice index' };
  }
  if (frames.every((f) => Number.isFinite(f.slicePositionMm))) {
    const s = indexSlicePositions(frames.map((f) => f.slicePositionMm as number));
    return { placed: frames.map((frame, i) => ({ frame, slice: s.index[i] })), positionSpacingMm: s.spacingMm, sliceSource: 'slice position' };
  }
  const bad = frames.find((f) => !Number.isInteger(f.sliceIndex) && !Number.isFinite(f.slicePositionMm)) ?? frames[0];
  throw invalid(LvFunctionErrorCode.NoSlice, `frame ${bad.id} has neither a slice index nor a slice position (and not every frame has the same one)`);
}

function placePhases(placed: Placed[], notes: string[]): { placed: Placed[]; phaseSource: string | null } {
  const withPhase = placed.filter((p) => Number.isInteger(p.frame.phaseIndex));
  if (withPhase.length === placed.length) return { placed: placed.map((p) => ({ ...p, phase: p.frame.phaseIndex })), phaseSource: 'the frames’ cine phase index' };
  if (withPhase.length > 0) {
    notes.push(`${placed.length - withPhase.length} frame(s) without a phase left out: ${placed.filter((p) => !Number.isInteger(p.frame.phaseIndex)).map((p) => p.frame.id).join(', ')}`);
    return { placed: withPhase.map((p) => ({ ...p, phase: p.frame.phaseIndex })), phaseSource: 'the frames’ cine phase index' };
  }
  const order = phaseOrderWithinSlices(placed.map((p) => ({ slice: p.slice, triggerTimeMs: p.frame.triggerTimeMs, instanceNumber: p.frame.instanceNumber })));
  if (!order.source) return { placed, phaseSource: null };
  notes.push(...order.notes);
  const kept = placed.map((p, i) => ({ ...p, phase: order.phaseIndex[i] })).filter((p) => p.phase !== undefined);
  return { placed: kept, phaseSource: order.source === 'trigger-time' ? 'TriggerTime order within each slice' : 'InstanceNumber order within each slice' };
}

/** Area of `frame` in the chosen unit. */
const areaOf = (frame: LvFrame, unit: 'mm2' | 'px') => (unit === 'mm2' ? (frame.areaMm2 as number) : frame.areaPx);

/** Per phase, slice → area; by cine phase, or by the slice-pair rule when no frame has a phase. */
function groupByPhase(placed: Placed[], unit: 'mm2' | 'px', rule: PhaseRule, notes: string[]): Map<PhaseKey, Map<number, number>> {
  const phases = new Map<PhaseKey, Map<number, number>>();
  const put = (phase: PhaseKey, slice: number, area: number, id: string) => {
    const m = phases.get(phase) ?? new Map<number, number>();
    if (m.has(slice)) throw invalid(LvFunctionErrorCode.DuplicateFrame, `two frames at slice ${slice}, phase ${phase} (one is ${id})`);
    m.set(slice, area);
    phases.set(phase, m);
  };
  if (rule === 'cine-phase') {
    for (const p of placed) put(p.phase as number, p.slice, areaOf(p.frame, unit), p.frame.id);
    return phases;
  }
  const bySlice = new Map<number, Placed[]>();
  for (const p of placed) bySlice.set(p.slice, [...(bySlice.get(p.slice) ?? []), p]);
  const left: number[] = [];
  for (const [slice, group] of [...bySlice].sort((a, b) => a[0] - b[0])) {
    const pair = pairSliceEdEs(group, (p) => p.frame.areaPx);
    if ('ed' in pair) {
      put('ED', slice, areaOf(pair.ed.frame, unit), pair.ed.frame.id);
      put('ES', slice, areaOf(pair.es.frame, unit), pair.es.frame.id);
    } else if (pair.reason === 'equal-areas') {
      // Which is which does not matter to the sums: the slice adds the same area to both.
      put('ED', slice, areaOf(group[0].frame, unit), group[0].frame.id);
      put('ES', slice, areaOf(group[1].frame, unit), group[1].frame.id);
    } else left.push(slice);
  }
  if (left.length) notes.push(`slice-pair rule: slice(s) ${left.join(', ')} do not have exactly two frames and are left out`);
  return phases;
}

/** Area of a phase at `slice`: measured, or linear between the phase's nearest measured slices below and above. */
function areaAt(areas: Map<number, number>, slice: number): { area: number; interpolated: boolean } {
  const measured = areas.get(slice);
  if (measured !== undefined) return { area: measured, interpolated: false };
  let below = -Infinity;
  let above = Infinity;
  for (const s of areas.keys()) {
    if (s < slice && s > below) below = s;
    if (s > slice && s < above) above = s;
  }
  const a = areas.get(below) as number;
  const b = areas.get(above) as number;
  return { area: a + ((b - a) * (slice - below)) / (above - below), interpolated: true };
}

function spacingFor(positionSpacingMm: number | null, options: LvFunctionOptions, notes: string[]): { spacingMm: number | null; spacingSource: SpacingSource | null } {
  for (const [name, v] of [['spacingBetweenSlicesMm', options.spacingBetweenSlicesMm], ['sliceThicknessMm', options.sliceThicknessMm]] as const) {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw invalid(LvFunctionErrorCode.BadSpacing, `${name} must be a positive number, got ${v}`);
  }
  if (positionSpacingMm !== null && positionSpacingMm > 0) {
    const tag = options.spacingBetweenSlicesMm;
    if (tag !== undefined && Math.abs(tag - positionSpacingMm) > 0.1 * tag) {
      notes.push(`the slice positions are ${positionSpacingMm.toFixed(2)} mm apart but SpacingBetweenSlices says ${tag} mm; the positions are used`);
    }
    return { spacingMm: positionSpacingMm, spacingSource: 'slice-positions' };
  }
  if (options.spacingBetweenSlicesMm !== undefined) return { spacingMm: options.spacingBetweenSlicesMm, spacingSource: 'spacing-between-slices' };
  if (options.sliceThicknessMm !== undefined) return { spacingMm: options.sliceThicknessMm, spacingSource: 'slice-thickness' };
  return { spacingMm: null, spacingSource: null };
}

const SPACING_WORDS: Record<SpacingSource, string> = {
  'slice-positions': 'the median distance between neighbouring slice positions (per slice step)',
  'spacing-between-slices': 'SpacingBetweenSlices (0018,0088)',
  'slice-thickness': 'SliceThickness (0018,0050), as neither slice positions nor SpacingBetweenSlices gave one',
};

/**
 * LV volumes and ejection fraction of one short-axis stack by disc summation (see `LvFunction.method` for the rules).
 * Throws `invalid-input` LvsegErrors (`LvFunctionErrorCode`): LV_NO_FRAMES, LV_NO_SLICE, LV_IRREGULAR_SLICE_SPACING,
 * LV_SINGLE_PHASE, LV_NO_COMMON_SLICES, LV_DUPLICATE_FRAME, LV_BAD_AREA, LV_BAD_SPACING, LV_EMPTY_VOLUME (nothing at
 * ED, so no EF). Mixed orientations are refused where geometry is read: `framesFromDicom` (LV_MIXED_ORIENTATION).
 */
export function computeLvFunction(frames: readonly LvFrame[], options: LvFunctionOptions = {}): LvFunction {
  if (frames.length === 0) throw invalid(LvFunctionErrorCode.NoFrames, 'no frames: LV function needs frames at two phases at least');
  for (const f of frames) {
    if (!(Number.isFinite(f.areaPx) && f.areaPx >= 0) || (f.areaMm2 !== null && !(Number.isFinite(f.areaMm2) && f.areaMm2 >= 0))) {
      throw invalid(LvFunctionErrorCode.BadArea, `frame ${f.id}: areas must be finite and not negative (areaPx ${f.areaPx}, areaMm2 ${f.areaMm2})`);
    }
  }
  const notes: string[] = [];
  const sliced = placeSlices(frames);
  const phased = placePhases(sliced.placed, notes);
  const rule: PhaseRule = phased.phaseSource ? 'cine-phase' : 'slice-pair';

  const missingMm2 = phased.placed.filter((p) => p.frame.areaMm2 === null).length;
  const unit: 'mm2' | 'px' = missingMm2 === 0 ? 'mm2' : 'px';
  const byPhase = groupByPhase(phased.placed, unit, rule, notes);
  if (byPhase.size < 2) {
    throw invalid(LvFunctionErrorCode.SinglePhase, `frames of ${byPhase.size === 1 ? 'a single phase' : 'no usable phase'} only: ED and ES need two phases at least`, { phases: [...byPhase.keys()] });
  }

  // Every phase is summed over the same slices: from the highest of the phases' lowest slices to the lowest of their highest.
  const phaseKeys = [...byPhase.keys()];
  const lo = Math.max(...phaseKeys.map((k) => Math.min(...(byPhase.get(k) as Map<number, number>).keys())));
  const hi = Math.min(...phaseKeys.map((k) => Math.max(...(byPhase.get(k) as Map<number, number>).keys())));
  if (lo > hi) throw invalid(LvFunctionErrorCode.NoCommonSlices, 'the phases share no slice range: their volumes cannot be compared');
  const sums = new Map<PhaseKey, number>();
  for (const k of phaseKeys) {
    const areas = byPhase.get(k) as Map<number, number>;
    const outside = [...areas.keys()].filter((s) => s < lo || s > hi).sort((a, b) => a - b);
    if (outside.length) notes.push(`phase ${k}: slice(s) ${outside.join(', ')} left out (outside the slice range ${lo}–${hi} every phase covers)`);
    let sum = 0;
    const filled: number[] = [];
    for (let s = lo; s <= hi; s++) {
      const { area, interpolated } = areaAt(areas, s);
      sum += area;
      if (interpolated) filled.push(s);
    }
    if (filled.length) notes.push(`phase ${k}: slice(s) ${filled.join(', ')} missing, area interpolated linearly from the neighbouring slices`);
    sums.set(k, sum);
  }

  let ed = phaseKeys[0];
  let es = phaseKeys[0];
  if (rule === 'slice-pair') [ed, es] = ['ED', 'ES'];
  else for (const k of phaseKeys) {
    if ((sums.get(k) as number) > (sums.get(ed) as number)) ed = k;
    if ((sums.get(k) as number) < (sums.get(es) as number)) es = k;
  }
  const edSum = sums.get(ed) as number;
  const esSum = sums.get(es) as number;
  if (!(edSum > 0)) throw invalid(LvFunctionErrorCode.EmptyVolume, 'no LV area at any slice of any phase: EF is undefined');
  const ef = (edSum - esSum) / edSum;

  if (rule === 'cine-phase') {
    const edAreas = byPhase.get(ed) as Map<number, number>;
    const esAreas = byPhase.get(es) as Map<number, number>;
    const larger = [...edAreas.keys()]
      .filter((s) => s >= lo && s <= hi && esAreas.has(s) && (esAreas.get(s) as number) > (edAreas.get(s) as number))
      .sort((a, b) => a - b);
    if (larger.length) notes.push(`at slice(s) ${larger.join(', ')} the ES phase's area is larger than the ED phase's (kept as acquired; the per-slice pair rule would swap them there)`);
  }

  const { spacingMm, spacingSource } = spacingFor(sliced.positionSpacingMm, options, notes);
  let volumeNullReason: string | undefined;
  if (unit === 'px') volumeNullReason = `${missingMm2} frame(s) have no PixelSpacing, so their areas are in pixels: volumes need mm²`;
  else if (spacingMm === null) volumeNullReason = 'no slice spacing: neither two slice positions, nor SpacingBetweenSlices, nor SliceThickness';
  const ml = (sum: number) => (volumeNullReason === undefined ? (sum * (spacingMm as number)) / 1000 : null);
  const edvMl = ml(edSum);
  const esvMl = ml(esSum);
  // Cine phases in order; the slice-pair rule's two groups as ED, ES.
  const rank = (k: PhaseKey) => (k === 'ED' ? -2 : k === 'ES' ? -1 : k);
  const phases: LvPhaseSum[] = [...phaseKeys]
    .sort((a, b) => rank(a) - rank(b))
    .map((k) => ({ phase: typeof k === 'number' ? k : null, role: k === ed ? 'ED' : k === es ? 'ES' : null, areaSum: sums.get(k) as number, volumeMl: ml(sums.get(k) as number) }));

  const phaseWords =
    rule === 'cine-phase'
      ? `frames are grouped by slice (${sliced.sliceSource}) and by phase (${phased.phaseSource}); ED is the phase of largest summed area, ES the smallest`
      : 'no frame has a phase, so Sunnybrook’s per-slice rule pairs them: at each slice with exactly two frames the larger LV is ED and the smaller ES';
  const volumeWords =
    volumeNullReason === undefined
      ? `volume = Σ area (mm²) × slice spacing ${(spacingMm as number).toFixed(2)} mm, spacing from ${SPACING_WORDS[spacingSource as SpacingSource]}`
      : `volumes are null (${volumeNullReason}); EF is the ratio of the ${unit === 'px' ? 'pixel' : 'mm²'} area sums over the same slice steps, as the spacing cancels`;
  const method =
    `Disc summation over a short-axis stack: ${phaseWords}; ${volumeWords}. ` +
    'Every phase is summed over the same slices, from the highest of the phases’ lowest slices to the lowest of their highest ' +
    '(slices outside that range are left out of every phase); inside it a slice a phase lacks gets its area interpolated linearly ' +
    'from that phase’s nearest slices either side (the same volume as widening those slices’ discs by half the gap each). ' +
    'SV = EDV − ESV; EF = SV / EDV, a fraction. Slice and phase numbers in the notes count from 0.';
  return {
    edvMl,
    esvMl,
    svMl: edvMl === null || esvMl === null ? null : edvMl - esvMl,
    ef,
    edPhase: typeof ed === 'number' ? ed : null,
    esPhase: typeof es === 'number' ? es : null,
    phaseRule: rule,
    slicesUsed: hi - lo + 1,
    spacingMm,
    spacingSource,
    areaUnit: unit,
    method,
    notes,
    ...(volumeNullReason === undefined ? {} : { volumeNullReason }),
    phases,
  };
}

export interface LvFunctionComparison {
  expert: LvFunction;
  model: LvFunction;
  /** model − expert: EF as a fraction, volumes in mL (null when either volume is). */
  difference: { ef: number; edvMl: number | null; esvMl: number | null };
}

/** The model's LV function against the expert's, as model − expert. */
export function compareLvFunction(expert: LvFunction, model: LvFunction): LvFunctionComparison {
  const diff = (m: number | null, e: number | null) => (m === null || e === null ? null : m - e);
  return { expert, model, difference: { ef: model.ef - expert.ef, edvMl: diff(model.edvMl, expert.edvMl), esvMl: diff(model.esvMl, expert.esvMl) } };
}
