/**
 * The LV function of one PACS series from its images' LV areas: each image placed in the stack and the cycle by its
 * DICOM geometry (libs/lv-function `framesFromDicom`), then disc summation (`computeLvFunction`). Pure.
 */
import { isLvsegError } from '@lvseg/common';
import type { DicomMeta } from '@lvseg/imaging';
import { LvFrame, LvFunction, LvFunctionOptions, computeLvFunction, framesFromDicom } from '@lvseg/lv-function';

/** One segmented image of the series: its SOP Instance UID (the frame id in notes), DICOM geometry and LV area. */
export interface SeriesImageArea {
  sopInstanceUid: string;
  meta: DicomMeta;
  area: { pixels: number; mm2: number | null };
}

/** The LV function with the frames as placed (same order as the input), or why there is none. */
export type SeriesLvFunction = { lvFunction: LvFunction; frames: LvFrame[] } | { reason: { code: string; message: string } };

/**
 * EDV/ESV/SV/EF of the series, or the reason (an LV_* code of libs/lv-function) when the images cannot give one, e.g.
 * LV_SINGLE_PHASE for a series of one cardiac phase (common in a PACS), LV_MIXED_ORIENTATION, LV_EMPTY_VOLUME.
 * The placement notes open the result's notes. Errors other than invalid input are thrown.
 */
export function lvFunctionOfSeries(images: readonly SeriesImageArea[]): SeriesLvFunction {
  try {
    const placed = framesFromDicom(
      images.map((im) => ({
        id: im.sopInstanceUid,
        areaPx: im.area.pixels,
        areaMm2: im.area.mm2,
        imagePositionPatient: im.meta.imagePositionPatient,
        imageOrientationPatient: im.meta.imageOrientationPatient,
        sliceLocation: im.meta.sliceLocation,
        triggerTimeMs: im.meta.triggerTimeMs,
        instanceNumber: im.meta.instanceNumber,
        sliceThicknessMm: im.meta.sliceThicknessMm,
        spacingBetweenSlicesMm: im.meta.spacingBetweenSlicesMm,
      })),
    );
    const options: LvFunctionOptions = {
      ...(placed.spacingBetweenSlicesMm !== undefined ? { spacingBetweenSlicesMm: placed.spacingBetweenSlicesMm } : {}),
      ...(placed.sliceThicknessMm !== undefined ? { sliceThicknessMm: placed.sliceThicknessMm } : {}),
    };
    const fn = computeLvFunction(placed.frames, options);
    return { lvFunction: { ...fn, notes: [...placed.notes, ...fn.notes] }, frames: placed.frames };
  } catch (e) {
    if (isLvsegError(e, 'invalid-input')) return { reason: { code: e.code, message: e.message } };
    throw e;
  }
}
