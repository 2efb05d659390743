/**
 * The LV function of one PACS series from its images' LV areas: each image placed in the stack and the cycle by its
 * DICOM geometry (libs/lv-function `placeDicomFrames`), then disc summation (`computeLvFunction`). Pure.
 */
import { isLvsegError } from '@lvseg/common';
import type { DicomMeta } from '@lvseg/imaging';
import { LvFrame, LvFunction, computeLvFunction, placeDicomFrames } from '@lvseg/lv-function';

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
    const placed = placeDicomFrames(images.map((im) => ({ id: im.sopInstanceUid, tags: im.meta, area: im.area })));
    const fn = computeLvFunction(placed.frames, placed.options);
    return { lvFunction: { ...fn, notes: [...placed.notes, ...fn.notes] }, frames: placed.frames };
  } catch (e) {
    if (isLvsegError(e, 'invalid-input')) return { reason: { code: e.code, message: e.message } };
    throw e;
  }
}
