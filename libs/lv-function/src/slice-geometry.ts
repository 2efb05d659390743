/**
 * Where a frame sits in the short-axis stack and in the cardiac cycle, from DICOM geometry: the slice position along
 * the stack's normal, slice indices with the gaps kept, and the phase order within each slice. Pure functions over
 * numbers (no DICOM parsing here: libs/imaging reads the tags).
 */
import { LvsegError } from '@lvseg/common';
import { LvFunctionErrorCode } from './errors';
import type { LvFrame, LvFunctionOptions } from './lv-function';

/** Frames whose positions differ by less than this are on the same slice. */
export const SAME_SLICE_TOLERANCE_MM = 0.1;
/** Image planes whose normals differ by more than this angle are not one stack. */
export const MAX_ORIENTATION_DIFFERENCE_DEG = 1;

export type Vec3 = [number, number, number];

/** The image plane's normal: row direction × column direction, the two cosines of ImageOrientationPatient (0020,0037). */
export function sliceNormal(imageOrientationPatient: readonly number[]): Vec3 {
  if (imageOrientationPatient.length !== 6 || !imageOrientationPatient.every(Number.isFinite)) {
    throw new LvsegError('invalid-input', LvFunctionErrorCode.BadOrientation, `ImageOrientationPatient needs 6 finite numbers, got ${imageOrientationPatient.length}`);
  }
  const [rx, ry, rz, cx, cy, cz] = imageOrientationPatient;
  const n: Vec3 = [ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx];
  const len = Math.hypot(...n);
  if (!(len > 1e-6)) throw new LvsegError('invalid-input', LvFunctionErrorCode.BadOrientation, 'ImageOrientationPatient row and column directions are parallel or zero');
  return [n[0] / len, n[1] / len, n[2] / len];
}

/** Position (mm) of the plane through ImagePositionPatient (0020,0032) along `normal`: their dot product. */
export function slicePositionAlong(imagePositionPatient: readonly number[], normal: Vec3): number {
  return imagePositionPatient[0] * normal[0] + imagePositionPatient[1] * normal[1] + imagePositionPatient[2] * normal[2];
}

/** Angle in degrees between two planes with these normals (0 for the same plane orientation, either sense). */
export function planeAngleDeg(a: Vec3, b: Vec3): number {
  const dot = Math.min(1, Math.abs(a[0] * b[0] + a[1] * b[1] + a[2] * b[2]));
  return (Math.acos(dot) * 180) / Math.PI;
}

/** Median (mean of the middle two for an even count); NaN for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface IndexedSlices {
  /** Slice index of every input position, 0 at the lowest; a missing slice step leaves an index out. */
  index: number[];
  /** Mean position of each distinct slice, ascending. */
  positionsMm: number[];
  /** Median of the differences between neighbouring distinct slices; null with fewer than two. */
  spacingMm: number | null;
}

/**
 * Groups positions into slices (within `SAME_SLICE_TOLERANCE_MM`), measures the spacing as the median difference of
 * neighbouring slices, and numbers slices by whole spacing steps from the lowest, so a gap of one missing slice skips
 * one index. Throws `LV_IRREGULAR_SLICE_SPACING` when two slices land on the same step.
 */
export function indexSlicePositions(positionsMm: readonly number[]): IndexedSlices {
  const order = positionsMm.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p);
  const clusters: number[][] = [];
  let last = -Infinity;
  for (const { p } of order) {
    if (p - last > SAME_SLICE_TOLERANCE_MM) clusters.push([]);
    clusters[clusters.length - 1].push(p);
    last = p;
  }
  const centres = clusters.map((c) => c.reduce((a, b) => a + b, 0) / c.length);
  const diffs = centres.slice(1).map((c, k) => c - centres[k]);
  const spacingMm = diffs.length ? median(diffs) : null;
  const steps = centres.map((c) => (spacingMm ? Math.round((c - centres[0]) / spacingMm) : 0));
  if (new Set(steps).size !== steps.length) {
    throw new LvsegError('invalid-input', LvFunctionErrorCode.IrregularSliceSpacing, `slice positions are not on a regular grid (median spacing ${spacingMm?.toFixed(2)} mm puts two slices on one step)`, { positionsMm: centres });
  }
  const clusterOf = (p: number) => {
    let best = 0;
    for (let k = 1; k < centres.length; k++) if (Math.abs(centres[k] - p) < Math.abs(centres[best] - p)) best = k;
    return best;
  };
  return { index: positionsMm.map((p) => steps[clusterOf(p)]), positionsMm: centres, spacingMm };
}

/** What orders the frames of one slice in the cardiac cycle. */
export type PhaseOrderSource = 'trigger-time' | 'instance-number';

export interface PhaseOrder {
  /** 0-based phase of every frame; undefined where it could not be told (see `notes`). */
  phaseIndex: Array<number | undefined>;
  source: PhaseOrderSource | null;
  notes: string[];
}

/**
 * Phases by order within each slice: by TriggerTime when every frame has one, else by InstanceNumber. The rank is a
 * phase only when slices hold the same phases; a slice with fewer frames than the fullest ones is matched by trigger
 * time to the nearest of their median times per rank (by InstanceNumber alone it cannot be, so its frames get none).
 */
export function phaseOrderWithinSlices(frames: ReadonlyArray<{ slice: number; triggerTimeMs?: number; instanceNumber?: number }>): PhaseOrder {
  const source: PhaseOrderSource | null = frames.every((f) => Number.isFinite(f.triggerTimeMs))
    ? 'trigger-time'
    : frames.every((f) => Number.isFinite(f.instanceNumber))
      ? 'instance-number'
      : null;
  const phaseIndex: Array<number | undefined> = frames.map(() => undefined);
  const notes: string[] = [];
  if (!source) return { phaseIndex, source, notes: ['no TriggerTime or InstanceNumber on every frame: no phase order'] };
  const key = (i: number) => (source === 'trigger-time' ? (frames[i].triggerTimeMs as number) : (frames[i].instanceNumber as number));
  const bySlice = new Map<number, number[]>();
  frames.forEach((f, i) => bySlice.set(f.slice, [...(bySlice.get(f.slice) ?? []), i]));
  for (const idx of bySlice.values()) idx.sort((a, b) => key(a) - key(b));
  const fullest = Math.max(...[...bySlice.values()].map((v) => v.length));
  const full = [...bySlice.values()].filter((v) => v.length === fullest);
  const reference = Array.from({ length: fullest }, (_, r) => median(full.map((idx) => key(idx[r]))));
  for (const [slice, idx] of bySlice) {
    if (idx.length === fullest) {
      idx.forEach((i, r) => (phaseIndex[i] = r));
      continue;
    }
    if (source === 'instance-number') {
      notes.push(`slice ${slice}: ${idx.length} of ${fullest} frames and no TriggerTime, so its phases are unknown and it is left out`);
      continue;
    }
    const nearest = idx.map((i) => reference.reduce((best, t, r) => (Math.abs(t - key(i)) < Math.abs(reference[best] - key(i)) ? r : best), 0));
    if (new Set(nearest).size !== nearest.length) {
      notes.push(`slice ${slice}: two frames are nearest the same phase's trigger time, so its phases are unknown and it is left out`);
      continue;
    }
    idx.forEach((i, k) => (phaseIndex[i] = nearest[k]));
    notes.push(`slice ${slice}: ${idx.length} of ${fullest} frames, matched to phases by nearest median trigger time`);
  }
  return { phaseIndex, source, notes };
}

/** The non-identifying DICOM tags of one frame that place it in the stack and the cycle (libs/imaging's `FrameAcquisition`). */
export interface DicomFrameTags {
  imagePositionPatient?: readonly number[];
  imageOrientationPatient?: readonly number[];
  sliceLocation?: number;
  triggerTimeMs?: number;
  instanceNumber?: number;
  sliceThicknessMm?: number;
  spacingBetweenSlicesMm?: number;
}

export interface DicomFrameInput extends DicomFrameTags {
  id: string;
  areaMm2: number | null;
  areaPx: number;
}

export interface FramesFromDicom {
  frames: LvFrame[];
  slicePositionSource: 'image-position' | 'slice-location';
  phaseSource: PhaseOrderSource | null;
  /** The frames' SpacingBetweenSlices (0018,0088) and SliceThickness (0018,0050) (median when they differ), for `computeLvFunction`. */
  spacingBetweenSlicesMm?: number;
  sliceThicknessMm?: number;
  notes: string[];
}

function sharedValue(values: Array<number | undefined>, name: string, notes: string[]): number | undefined {
  const v = values.filter((x): x is number => Number.isFinite(x) && (x as number) > 0);
  if (v.length === 0) return undefined;
  if (new Set(v).size > 1) notes.push(`${name} differs between frames (${Math.min(...v)}–${Math.max(...v)} mm); the median is used`);
  return median(v);
}

/**
 * LV frames placed by DICOM geometry: slice position = ImagePositionPatient projected on the normal of
 * ImageOrientationPatient (row × column cosines) when every frame has both, else SliceLocation (0020,1041); phase by
 * `phaseOrderWithinSlices`. Throws `LV_MIXED_ORIENTATION` when the planes are not parallel (within
 * `MAX_ORIENTATION_DIFFERENCE_DEG`), `LV_NO_SLICE_POSITION` when neither position is on every frame, `LV_NO_FRAMES`.
 */
export function framesFromDicom(inputs: readonly DicomFrameInput[]): FramesFromDicom {
  if (inputs.length === 0) throw new LvsegError('invalid-input', LvFunctionErrorCode.NoFrames, 'no frames to place');
  const notes: string[] = [];
  let positions: number[];
  let slicePositionSource: FramesFromDicom['slicePositionSource'];
  if (inputs.every((f) => f.imagePositionPatient?.length === 3 && f.imageOrientationPatient?.length === 6)) {
    const normals = inputs.map((f) => sliceNormal(f.imageOrientationPatient as number[]));
    const worst = normals.reduce((w, n, i) => (planeAngleDeg(n, normals[0]) > planeAngleDeg(normals[w], normals[0]) ? i : w), 0);
    const angle = planeAngleDeg(normals[worst], normals[0]);
    if (angle > MAX_ORIENTATION_DIFFERENCE_DEG) {
      throw new LvsegError(
        'invalid-input',
        LvFunctionErrorCode.MixedOrientation,
        `frames ${inputs[0].id} and ${inputs[worst].id} are not in parallel planes (${angle.toFixed(1)}° apart): not one short-axis stack`,
        { angleDeg: angle },
      );
    }
    // One normal for all, so rounding in the stored cosines cannot move a slice.
    positions = inputs.map((f) => slicePositionAlong(f.imagePositionPatient as number[], normals[0]));
    slicePositionSource = 'image-position';
  } else if (inputs.every((f) => Number.isFinite(f.sliceLocation))) {
    positions = inputs.map((f) => f.sliceLocation as number);
    slicePositionSource = 'slice-location';
    notes.push('slice positions from SliceLocation: ImagePositionPatient/ImageOrientationPatient are not on every frame');
  } else {
    throw new LvsegError('invalid-input', LvFunctionErrorCode.NoSlicePosition, 'neither ImagePositionPatient + ImageOrientationPatient nor SliceLocation is on every frame');
  }
  const slices = indexSlicePositions(positions);
  const order = phaseOrderWithinSlices(inputs.map((f, i) => ({ slice: slices.index[i], triggerTimeMs: f.triggerTimeMs, instanceNumber: f.instanceNumber })));
  notes.push(...order.notes);
  const frames: LvFrame[] = inputs.map((f, i) => ({
    id: f.id,
    areaMm2: f.areaMm2,
    areaPx: f.areaPx,
    slicePositionMm: positions[i],
    sliceIndex: slices.index[i],
    ...(order.phaseIndex[i] === undefined ? {} : { phaseIndex: order.phaseIndex[i] }),
    ...(f.triggerTimeMs === undefined ? {} : { triggerTimeMs: f.triggerTimeMs }),
    ...(f.instanceNumber === undefined ? {} : { instanceNumber: f.instanceNumber }),
  }));
  return {
    frames,
    slicePositionSource,
    phaseSource: order.source,
    spacingBetweenSlicesMm: sharedValue(inputs.map((f) => f.spacingBetweenSlicesMm), 'SpacingBetweenSlices', notes),
    sliceThicknessMm: sharedValue(inputs.map((f) => f.sliceThicknessMm), 'SliceThickness', notes),
    notes,
  };
}

/** One image of a series for `placeDicomFrames`: its frame id (used in notes), its DICOM tags and its LV area. */
export interface DicomImageArea {
  id: string;
  /** The image's placing tags; libs/imaging's `DicomMeta` (or `FrameAcquisition`) fits as is, only these tags are read. */
  tags: DicomFrameTags;
  area: { pixels: number; mm2: number | null };
}

/** The frames of a series as `framesFromDicom` places them, with the `computeLvFunction` options their spacing tags give. */
export interface PlacedDicomFrames extends FramesFromDicom {
  options: LvFunctionOptions;
}

/**
 * One series' images (DICOM tags and LV areas) as LV frames placed by `framesFromDicom`, and the options
 * (SpacingBetweenSlices, SliceThickness) `computeLvFunction` needs for them: the one mapping from DICOM metadata to
 * frames that every series entry point uses. Throws `framesFromDicom`'s LV_* errors.
 */
export function placeDicomFrames(images: readonly DicomImageArea[]): PlacedDicomFrames {
  const placed = framesFromDicom(
    images.map(({ id, tags, area }) => ({
      id,
      areaPx: area.pixels,
      areaMm2: area.mm2,
      imagePositionPatient: tags.imagePositionPatient,
      imageOrientationPatient: tags.imageOrientationPatient,
      sliceLocation: tags.sliceLocation,
      triggerTimeMs: tags.triggerTimeMs,
      instanceNumber: tags.instanceNumber,
      sliceThicknessMm: tags.sliceThicknessMm,
      spacingBetweenSlicesMm: tags.spacingBetweenSlicesMm,
    })),
  );
  const options: LvFunctionOptions = {
    ...(placed.spacingBetweenSlicesMm !== undefined ? { spacingBetweenSlicesMm: placed.spacingBetweenSlicesMm } : {}),
    ...(placed.sliceThicknessMm !== undefined ? { sliceThicknessMm: placed.sliceThicknessMm } : {}),
  };
  return { ...placed, options };
}
