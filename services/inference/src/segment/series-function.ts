/**
 * The LV function of one uploaded series: frames placed by their DICOM geometry once (libs/lv-function), checked
 * before any inference, then the model's volumes over every frame and, with labels, the expert's against the model's
 * over the labelled frames. Pure functions over areas.
 */
import { isLvsegError } from '@lvseg/common';
import type { DicomMeta } from '@lvseg/imaging';
import { FramesFromDicom, LvFrame, LvFunction, LvFunctionComparison, LvFunctionOptions, compareLvFunction, computeLvFunction, placeDicomFrames } from '@lvseg/lv-function';

/** LV area of one image: pixels, and mm² when the pixel spacing is known. */
export interface FrameArea {
  pixels: number;
  mm2: number | null;
}

/** The frames of a series placed in slices and phases, areas still to come. */
export interface PlacedSeries {
  /** One per image, in upload order: id, slice position and index, phase index (when told). */
  frames: LvFrame[];
  options: LvFunctionOptions;
  slicePositionSource: FramesFromDicom['slicePositionSource'];
  phaseSource: FramesFromDicom['phaseSource'];
  /** What the placement needed (e.g. a slice with fewer phases); they open the model's `notes`. */
  notes: string[];
}

/** An LV function, or why there is none (a stable code and a sentence). */
export type LvFunctionOutcome<T> = { value: T } | { error: { code: string; message: string } };

/**
 * Places the images by DICOM geometry (`placeDicomFrames`) and checks the stack gives an LV function at all, before
 * any inference: with the same area everywhere only the geometry can fail (mixed orientations, no slice position,
 * irregular spacing, a single phase, two frames at one slice and phase). Throws those LV_* LvsegErrors.
 */
export function placeSeries(ids: readonly string[], metas: readonly DicomMeta[]): PlacedSeries {
  const placed = placeDicomFrames(metas.map((m, k) => ({ id: ids[k], tags: m, area: { pixels: 1, mm2: 1 } })));
  computeLvFunction(placed.frames, placed.options);
  return { frames: placed.frames, options: placed.options, slicePositionSource: placed.slicePositionSource, phaseSource: placed.phaseSource, notes: placed.notes };
}

/** The placed frames at `indices` with these areas (one per placed frame). */
function framesWithAreas(placed: PlacedSeries, areas: readonly FrameArea[], indices: readonly number[]): LvFrame[] {
  return indices.map((k) => ({ ...placed.frames[k], areaPx: areas[k].pixels, areaMm2: areas[k].mm2 }));
}

function outcome<T>(fn: () => T): LvFunctionOutcome<T> {
  try {
    return { value: fn() };
  } catch (e) {
    // Only the areas can fail here (the geometry passed `placeSeries`): no LV anywhere at ED gives no EF.
    if (isLvsegError(e, 'invalid-input')) return { error: { code: e.code, message: e.message } };
    throw e;
  }
}

/** The model's LV function over every frame; the placement notes come first in its notes. */
export function seriesLvFunction(placed: PlacedSeries, modelAreas: readonly FrameArea[]): LvFunctionOutcome<LvFunction> {
  return outcome(() => {
    const f = computeLvFunction(framesWithAreas(placed, modelAreas, placed.frames.map((_, k) => k)), placed.options);
    return { ...f, notes: [...placed.notes, ...f.notes] };
  });
}

/**
 * The expert's LV function against the model's, both by the same rule over the same frames: the labelled ones, at
 * the slices and phases the whole series placed them (equal to `seriesLvFunction` when every image has a label); the
 * placement notes come first in both.
 */
export function seriesLvComparison(
  placed: PlacedSeries,
  modelAreas: readonly FrameArea[],
  expertAreas: ReadonlyArray<FrameArea | undefined>,
): LvFunctionOutcome<LvFunctionComparison & { frames: number }> {
  const labelled = expertAreas.map((a, k) => (a ? k : -1)).filter((k) => k >= 0);
  return outcome(() => {
    const of = (areas: ReadonlyArray<FrameArea | undefined>): LvFunction => {
      const f = computeLvFunction(framesWithAreas(placed, areas as FrameArea[], labelled), placed.options);
      return { ...f, notes: [...placed.notes, ...f.notes] };
    };
    return { frames: labelled.length, ...compareLvFunction(of(expertAreas), of(modelAreas)) };
  });
}

/** Frame ids for notes: the file names when they are unique, else the file name with its position in the upload. */
export function frameIds(fileNames: readonly string[]): string[] {
  const unique = new Set(fileNames).size === fileNames.length;
  return fileNames.map((n, k) => (unique ? n : `${n}#${k + 1}`));
}
