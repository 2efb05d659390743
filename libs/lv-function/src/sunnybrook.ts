/**
 * The Sunnybrook cine numbering and its end-diastole / end-systole pairing rule, shared by the data report and the
 * ejection-fraction code. Slice and phase indices here are 0-based (the data READMEs number phases from 1).
 */

/** Cine phases per slice position in the Sunnybrook series. */
export const SUNNYBROOK_PHASES_PER_SLICE = 20;

/**
 * The cine frame number of a Sunnybrook file, from the `IM-0001-<NNNN>` in its name (the original DICOM file name;
 * for the DICOM set it equals the InstanceNumber, see the data READMEs); null when no path carries one.
 */
export function frameFromPaths(...paths: Array<string | undefined>): number | null {
  for (const p of paths) {
    const m = p ? /IM-\d+-(\d+)/.exec(p) : null;
    if (m) return Number(m[1]);
  }
  return null;
}

/** 0-based slice index and cine phase of frame `frame` (1-based): slice (N − 1) div phasesPerSlice, phase (N − 1) mod phasesPerSlice. */
export function cinePosition(frame: number, phasesPerSlice = SUNNYBROOK_PHASES_PER_SLICE): { slice: number; phase: number } {
  return { slice: Math.floor((frame - 1) / phasesPerSlice), phase: (frame - 1) % phasesPerSlice };
}

/**
 * Slice and phase (0-based) of a Sunnybrook file name such as `images/SC-HF-I-01-IM-0001-0048.png` (frame 48: slice 2,
 * phase 7); null when the name carries no positive `IM-<series>-<frame>` number.
 */
export function parseSunnybrookFileName(name: string, phasesPerSlice = SUNNYBROOK_PHASES_PER_SLICE): { frame: number; slice: number; phase: number } | null {
  const frame = frameFromPaths(name);
  if (frame === null || frame < 1) return null;
  return { frame, ...cinePosition(frame, phasesPerSlice) };
}

export type CardiacPhase = 'ED' | 'ES' | 'unknown';

/** Why a frame's ED/ES call is unknown. */
export type UnknownPhaseReason = 'no-frame-number' | 'not-a-pair' | 'equal-areas';

/**
 * Sunnybrook's per-slice rule: experts contoured end-diastole and end-systole, so of exactly two labelled frames at one
 * slice the larger LV is ED (the fullest ventricle by definition) and the smaller ES. Anything else is not guessed.
 */
export function pairSliceEdEs<T>(frames: readonly T[], lvArea: (frame: T) => number): { ed: T; es: T } | { reason: 'not-a-pair' | 'equal-areas' } {
  if (frames.length !== 2) return { reason: 'not-a-pair' };
  const [a, b] = frames;
  if (lvArea(a) === lvArea(b)) return { reason: 'equal-areas' };
  return lvArea(a) > lvArea(b) ? { ed: a, es: b } : { ed: b, es: a };
}

export interface PhaseInput {
  case: string;
  frame: number | null;
  lvPixels: number;
}

export interface PhaseAssignment {
  phase: CardiacPhase;
  /** 0-based slice index; null without a frame number. */
  slice: number | null;
  /** 0-based cine phase; null without a frame number. */
  phaseIndex: number | null;
  reason?: UnknownPhaseReason;
}

/**
 * ED / ES of every labelled frame by `pairSliceEdEs`, over the frames of one case at one slice position (same
 * `(frame − 1) div phasesPerSlice`). Frames without a number, slices without exactly two frames and equal pairs stay unknown.
 */
export function assignCardiacPhases(items: readonly PhaseInput[], phasesPerSlice = SUNNYBROOK_PHASES_PER_SLICE): PhaseAssignment[] {
  const out: PhaseAssignment[] = items.map((it) => {
    if (it.frame === null) return { phase: 'unknown', slice: null, phaseIndex: null, reason: 'no-frame-number' };
    const { slice, phase } = cinePosition(it.frame, phasesPerSlice);
    return { phase: 'unknown', slice, phaseIndex: phase };
  });
  const groups = new Map<string, number[]>();
  items.forEach((it, i) => {
    if (out[i].slice === null) return;
    const key = `${it.case}\u0000${out[i].slice}`;
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  for (const idx of groups.values()) {
    const pair = pairSliceEdEs(idx, (i) => items[i].lvPixels);
    if ('reason' in pair) {
      for (const i of idx) out[i].reason = pair.reason;
      continue;
    }
    out[pair.ed].phase = 'ED';
    out[pair.es].phase = 'ES';
  }
  return out;
}
