/**
 * Ejection fraction per patient for `lvseg eval`: the expert's EF from the expert masks and the model's from its own
 * masks, both by libs/lv-function's disc summation over the same frames, and how far apart they are.
 */
import { isLvsegError } from '@lvseg/common';
import { countLvPixels, type BinaryMask, type FrameAcquisition } from '@lvseg/imaging';
import { computeLvFunction, framesFromDicom, LvFrame, LvFunction, LvFunctionOptions, parseSunnybrookFileName } from '@lvseg/lv-function';
import { lvAreaMm2 } from '@lvseg/report';

/** One evaluated image: its masks and what places it in the stack and the cycle. */
export interface EfItem {
  id: string;
  case: string;
  /** The image's file name, or the dataset id (`<case>/<file name without extension>`): Sunnybrook's IM-0001-NNNN rule reads it. */
  imageName: string;
  pred: BinaryMask;
  truth: BinaryMask;
  pixelSpacingMm?: [number, number];
  /** DICOM geometry and timing (DICOM data sets); used before the file name when every image of the case has it. */
  acquisition?: FrameAcquisition;
}

/** How a case's frames were put into slices and phases. */
export type EfPlacement = 'dicom-geometry' | 'file-name';

/** One patient's EF, as fractions 0..1. */
export interface CaseEf {
  unit: 'fraction';
  expert: number | null;
  model: number | null;
  /** |model − expert|; null unless both are known. */
  absError: number | null;
  placement: EfPlacement | null;
  /** mL, when the images have a pixel spacing and the stack a slice spacing. */
  volumesMl: { expert: { edv: number | null; esv: number | null }; model: { edv: number | null; esv: number | null } } | null;
  /** The method as applied to the expert masks (the model's masks go through the same placement and rules). */
  method?: string;
  /** Notes of both computations, prefixed `expert:` / `model:`. */
  notes: string[];
  /** Why `expert` or `model` is null. */
  reason?: string;
}

export interface EfSummary {
  unit: 'fraction';
  /** Mean of the per-patient |model − expert| over the patients where both are known; null when none is. */
  meanAbsError: number | null;
  patients: number;
  patientsWithEf: number;
}

function placeFrames(items: readonly EfItem[], mask: (it: EfItem) => BinaryMask): { frames: LvFrame[]; options: LvFunctionOptions; placement: EfPlacement } | { reason: string } {
  const areas = items.map((it) => {
    const px = countLvPixels(mask(it));
    return { id: it.id, areaPx: px, areaMm2: lvAreaMm2(px, it.pixelSpacingMm) };
  });
  if (items.every((it) => it.acquisition)) {
    const placed = framesFromDicom(items.map((it, k) => ({ ...areas[k], ...it.acquisition })));
    const options = { spacingBetweenSlicesMm: placed.spacingBetweenSlicesMm, sliceThicknessMm: placed.sliceThicknessMm };
    return { frames: placed.frames, options, placement: 'dicom-geometry' };
  }
  const named = items.map((it) => parseSunnybrookFileName(it.imageName));
  const unnamed = items.filter((_, k) => !named[k]);
  if (unnamed.length) {
    return { reason: `no slice/phase for ${unnamed.length} image(s) (e.g. ${unnamed[0].id}): neither DICOM geometry nor a Sunnybrook IM-0001-NNNN file name` };
  }
  const frames = items.map((_, k) => ({ ...areas[k], sliceIndex: named[k]!.slice, phaseIndex: named[k]!.phase }));
  return { frames, options: {}, placement: 'file-name' };
}

function lvFunctionOf(items: readonly EfItem[], mask: (it: EfItem) => BinaryMask): { result: LvFunction; placement: EfPlacement } | { reason: string } {
  try {
    const placed = placeFrames(items, mask);
    if ('reason' in placed) return placed;
    return { result: computeLvFunction(placed.frames, placed.options), placement: placed.placement };
  } catch (e) {
    if (isLvsegError(e)) return { reason: `${e.code}: ${e.message}` };
    throw e;
  }
}

/** The expert's and the model's EF of one patient's images (see `CaseEf`). */
export function caseEjectionFraction(items: readonly EfItem[]): CaseEf {
  const expert = lvFunctionOf(items, (it) => it.truth);
  const model = lvFunctionOf(items, (it) => it.pred);
  const e = 'result' in expert ? expert.result : null;
  const m = 'result' in model ? model.result : null;
  const reasons = [...('reason' in expert ? [`expert: ${expert.reason}`] : []), ...('reason' in model ? [`model: ${model.reason}`] : [])];
  const withVolumes = e && m && (e.edvMl !== null || m.edvMl !== null);
  return {
    unit: 'fraction',
    expert: e?.ef ?? null,
    model: m?.ef ?? null,
    absError: e && m ? Math.abs(m.ef - e.ef) : null,
    placement: 'placement' in expert ? expert.placement : 'placement' in model ? model.placement : null,
    volumesMl: withVolumes ? { expert: { edv: e.edvMl, esv: e.esvMl }, model: { edv: m.edvMl, esv: m.esvMl } } : null,
    ...(e ? { method: e.method } : {}),
    notes: [...(e?.notes ?? []).map((n) => `expert: ${n}`), ...(m?.notes ?? []).map((n) => `model: ${n}`)],
    ...(reasons.length ? { reason: reasons.join('; ') } : {}),
  };
}

/** EF per case (in order of first appearance) and the mean absolute error over the cases where both EFs are known. */
export function ejectionFractionByCase(items: readonly EfItem[]): { perCase: Map<string, CaseEf>; summary: EfSummary } {
  const byCase = new Map<string, EfItem[]>();
  for (const it of items) byCase.set(it.case, [...(byCase.get(it.case) ?? []), it]);
  const perCase = new Map([...byCase].map(([c, list]) => [c, caseEjectionFraction(list)] as const));
  const errors = [...perCase.values()].map((c) => c.absError).filter((v): v is number => v !== null);
  return {
    perCase,
    summary: {
      unit: 'fraction',
      meanAbsError: errors.length ? errors.reduce((a, b) => a + b, 0) / errors.length : null,
      patients: perCase.size,
      patientsWithEf: errors.length,
    },
  };
}
