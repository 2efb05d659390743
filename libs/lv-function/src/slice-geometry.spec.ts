import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { dataRoot, isLvsegError } from '@lvseg/common';
import { DicomMeta, loadDataset } from '@lvseg/imaging';
import { computeLvFunction } from './lv-function';
import { DicomFrameInput, framesFromDicom, indexSlicePositions, placeDicomFrames, phaseOrderWithinSlices, planeAngleDeg, sliceNormal, slicePositionAlong } from './slice-geometry';
import { parseSunnybrookFileName } from './sunnybrook';

const COS30 = Math.sqrt(3) / 2;
// Axial plane tilted 30° about x: row (1, 0, 0), column (0, cos 30°, sin 30°) → normal row × column = (0, −1/2, √3/2).
const OBLIQUE = [1, 0, 0, 0, COS30, 0.5];

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isLvsegError(e, 'invalid-input')) return e.code;
    throw e;
  }
  throw new Error('expected an LvsegError');
}

describe('slice geometry', () => {
  it('takes the normal as row × column cosines and projects ImagePositionPatient on it (oblique plane)', () => {
    expect(sliceNormal([1, 0, 0, 0, 1, 0])).toEqual([0, 0, 1]);
    const n = sliceNormal(OBLIQUE);
    expect(n[0]).toBeCloseTo(0, 12);
    expect(n[1]).toBeCloseTo(-0.5, 12);
    expect(n[2]).toBeCloseTo(COS30, 12);
    // (10, 20, 30) · (0, −0.5, 0.866…) = −10 + 25.98… = 15.98…
    expect(slicePositionAlong([10, 20, 30], n)).toBeCloseTo(-10 + 30 * COS30, 12);
    expect(planeAngleDeg(n, sliceNormal([1, 0, 0, 0, 1, 0]))).toBeCloseTo(30, 9);
    expect(codeOf(() => sliceNormal([1, 0, 0, 1, 0, 0]))).toBe('LV_BAD_ORIENTATION');
    expect(codeOf(() => sliceNormal([1, 0, 0]))).toBe('LV_BAD_ORIENTATION');
  });

  it('groups positions into slices, measures the median spacing and keeps a gap as a skipped index', () => {
    // Slices at 5, 15.025 (15 and 15.05), 25 and 45: differences 10.025, 9.975, 20 → median 10.025; 45 is 4 steps up.
    expect(indexSlicePositions([5, 15, 15.05, 25, 45, 5])).toEqual({ index: [0, 1, 1, 2, 4, 0], positionsMm: [5, 15.025, 25, 45], spacingMm: expect.closeTo(10.025, 9) });
    expect(indexSlicePositions([3, 3])).toEqual({ index: [0, 0], positionsMm: [3], spacingMm: null });
    expect(codeOf(() => indexSlicePositions([0, 10, 14, 24]))).toBe('LV_IRREGULAR_SLICE_SPACING');
  });

  it('orders phases by TriggerTime within a slice, matching a shorter slice by nearest median trigger time', () => {
    const o = phaseOrderWithinSlices([
      { slice: 0, triggerTimeMs: 950 },
      { slice: 0, triggerTimeMs: 300 },
      { slice: 1, triggerTimeMs: 310 },
      { slice: 1, triggerTimeMs: 960 },
      { slice: 2, triggerTimeMs: 940 }, // only the late frame is labelled here: phase 1, not rank 0
    ]);
    expect(o.source).toBe('trigger-time');
    expect(o.phaseIndex).toEqual([1, 0, 0, 1, 1]);
    expect(o.notes).toEqual(['slice 2: 1 of 2 frames, matched to phases by nearest median trigger time']);
  });

  it('falls back to InstanceNumber order, and leaves a shorter slice without phases rather than guess', () => {
    const o = phaseOrderWithinSlices([
      { slice: 0, instanceNumber: 27 },
      { slice: 0, instanceNumber: 40 },
      { slice: 1, instanceNumber: 60 },
      { slice: 1, instanceNumber: 47, triggerTimeMs: 315 },
      { slice: 2, instanceNumber: 80 },
    ]);
    expect(o.source).toBe('instance-number');
    expect(o.phaseIndex).toEqual([0, 1, 1, 0, undefined]);
    expect(o.notes[0]).toMatch(/slice 2: 1 of 2 frames and no TriggerTime/);
    expect(phaseOrderWithinSlices([{ slice: 0 }]).source).toBeNull();
  });
});

describe('framesFromDicom', () => {
  // Three slices 7 mm apart along the oblique normal, shifted in-plane too; ED (trigger 950) and ES (trigger 300) at each.
  const n = sliceNormal(OBLIQUE);
  const ipp = (k: number) => [10 + 3 * k + 7 * k * n[0], 20 + 7 * k * n[1], 30 + 7 * k * n[2]];
  const inputs: DicomFrameInput[] = [0, 1, 2].flatMap((k) => [
    { id: `ed${k}`, areaMm2: 1000 - 100 * k, areaPx: 500, imagePositionPatient: ipp(k), imageOrientationPatient: OBLIQUE, triggerTimeMs: 950, spacingBetweenSlicesMm: 7, sliceThicknessMm: 6 },
    { id: `es${k}`, areaMm2: 400 - 100 * k, areaPx: 200, imagePositionPatient: ipp(k), imageOrientationPatient: OBLIQUE, triggerTimeMs: 300, spacingBetweenSlicesMm: 7, sliceThicknessMm: 6 },
  ]);

  it('places an oblique stack by ImagePositionPatient along the normal and phases by TriggerTime', () => {
    const placed = framesFromDicom(inputs);
    expect(placed.slicePositionSource).toBe('image-position');
    expect(placed.phaseSource).toBe('trigger-time');
    expect(placed.frames.map((f) => [f.sliceIndex, f.phaseIndex])).toEqual([[0, 1], [0, 0], [1, 1], [1, 0], [2, 1], [2, 0]]);
    expect(placed.frames[2].slicePositionMm! - placed.frames[0].slicePositionMm!).toBeCloseTo(7, 9);
    expect(placed).toMatchObject({ spacingBetweenSlicesMm: 7, sliceThicknessMm: 6, notes: [] });
    // ED 2700 mm², ES 900 mm² × 7 mm → 18.9 mL and 6.3 mL.
    const r = computeLvFunction(placed.frames, placed);
    expect(r).toMatchObject({ spacingSource: 'slice-positions', edPhase: 1, esPhase: 0 });
    expect(r.spacingMm).toBeCloseTo(7, 9);
    expect(r.edvMl).toBeCloseTo(18.9, 9);
    expect(r.esvMl).toBeCloseTo(6.3, 9);
    expect(r.ef).toBeCloseTo(2 / 3, 12);
  });

  it('accepts rounding in the stored cosines but refuses planes that are not parallel', () => {
    const jitter = inputs.map((f, i) => (i === 3 ? { ...f, imageOrientationPatient: [1, 1e-7, 0, 0, COS30, 0.5] } : f));
    expect(framesFromDicom(jitter).frames.map((f) => f.sliceIndex)).toEqual([0, 0, 1, 1, 2, 2]);
    const mixed = inputs.map((f, i) => (i === 5 ? { ...f, imageOrientationPatient: [1, 0, 0, 0, 1, 0] } : f));
    expect(codeOf(() => framesFromDicom(mixed))).toBe('LV_MIXED_ORIENTATION');
  });

  it('falls back to SliceLocation, and refuses frames with no position at all', () => {
    const withoutPosition = inputs.map((f) => ({ ...f, imagePositionPatient: undefined }));
    const byLocation = withoutPosition.map((f, i) => ({ ...f, sliceLocation: -40 - 8 * Math.floor(i / 2) }));
    const placed = framesFromDicom(byLocation);
    expect(placed.slicePositionSource).toBe('slice-location');
    expect(placed.frames.map((f) => f.sliceIndex)).toEqual([2, 2, 1, 1, 0, 0]);
    expect(placed.notes[0]).toMatch(/SliceLocation/);
    expect(codeOf(() => framesFromDicom(withoutPosition))).toBe('LV_NO_SLICE_POSITION');
    expect(codeOf(() => framesFromDicom([]))).toBe('LV_NO_FRAMES');
  });
});

describe('placeDicomFrames', () => {
  /** A decoded image's metadata (libs/imaging's DicomMeta): slice 8 mm apart along z, phase by TriggerTime. */
  const meta = (slice: number, phase: number, extra: Partial<DicomMeta> = {}): DicomMeta => ({
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    rows: 256,
    columns: 256,
    bitsAllocated: 16,
    bitsStored: 16,
    highBit: 15,
    pixelRepresentation: 0,
    photometricInterpretation: 'MONOCHROME2',
    rescaleSlope: 1,
    rescaleIntercept: 0,
    numberOfFrames: 1,
    seriesInstanceUid: '1.2.3',
    imageOrientationPatient: [1, 0, 0, 0, 1, 0],
    imagePositionPatient: [-100, -100, 8 * slice],
    triggerTimeMs: 300 + 600 * phase,
    instanceNumber: 1 + 20 * slice + phase,
    sliceThicknessMm: 6,
    spacingBetweenSlicesMm: 8,
    ...extra,
  });
  const images = [0, 1].flatMap((slice) => [0, 1].map((phase) => ({ id: `${slice}.${phase}`, tags: meta(slice, phase), area: { pixels: 100 * (1 + phase), mm2: 200 * (1 + phase) } })));

  it('places DICOM metadata as framesFromDicom does, with the spacing options computeLvFunction takes', () => {
    const placed = placeDicomFrames(images);
    const direct = framesFromDicom(images.map((im) => ({ id: im.id, areaPx: im.area.pixels, areaMm2: im.area.mm2, ...im.tags })));
    expect(placed).toEqual({ ...direct, options: { spacingBetweenSlicesMm: 8, sliceThicknessMm: 6 } });
    expect(placed.frames.map((f) => [f.id, f.sliceIndex, f.phaseIndex, f.areaPx, f.areaMm2])).toEqual([
      ['0.0', 0, 0, 100, 200],
      ['0.1', 0, 1, 200, 400],
      ['1.0', 1, 0, 100, 200],
      ['1.1', 1, 1, 200, 400],
    ]);
    // Only the placing tags are read: the rest of the metadata never reaches a frame.
    expect(Object.keys(placed.frames[0]).sort()).toEqual(['areaMm2', 'areaPx', 'id', 'instanceNumber', 'phaseIndex', 'sliceIndex', 'slicePositionMm', 'triggerTimeMs']);
    expect(computeLvFunction(placed.frames, placed.options)).toMatchObject({ edPhase: 1, esPhase: 0, spacingMm: 8 });
  });

  it('leaves out the options a series does not have, and throws the LV_* errors', () => {
    const untagged = images.map((im) => ({ ...im, tags: meta(Number(im.id[0]), Number(im.id[2]), { sliceThicknessMm: undefined, spacingBetweenSlicesMm: undefined }) }));
    expect(placeDicomFrames(untagged).options).toEqual({});
    const unplaced = images.map((im) => ({ ...im, tags: { ...im.tags, imagePositionPatient: undefined } }));
    expect(codeOf(() => placeDicomFrames(unplaced))).toBe('LV_NO_SLICE_POSITION');
  });
});

describe('framesFromDicom on the real Sunnybrook DICOMs', () => {
  const dir = join(dataRoot(), 'sunnybrook-dicom');
  const present = existsSync(join(dir, 'manifest.csv'));
  if (!present) {
    if (process.env.CI === 'true') it('needs ../shared/data/sunnybrook-dicom under CI', () => expect(dir).toBe('present'));
    // eslint-disable-next-line no-console
    else console.warn(`skipping the real Sunnybrook DICOM spec: ${dir}/manifest.csv not found (set LVSEG_DATA_DIR)`);
  }
  const maybe = present ? it : it.skip;

  maybe('agrees with the file-name rule (InstanceNumber = frame number) and with SpacingBetweenSlices', () => {
    const { items } = loadDataset(dir, { splits: ['val'] });
    for (const caseId of ['SCD0000401', 'SCD0000501']) {
      const mine = items.filter((it) => it.case === caseId);
      const inputs = mine.map((it) => {
        let px = 0;
        for (const v of it.mask.data) px += v;
        const [sr, sc] = it.image.pixelSpacingMm!;
        return { id: it.id, areaPx: px, areaMm2: px * sr * sc, ...it.acquisition };
      });
      const placed = framesFromDicom(inputs);
      expect(placed.slicePositionSource).toBe('image-position');
      const byGeometry = computeLvFunction(placed.frames, placed);
      // The same frames placed by frame number N = InstanceNumber: slice (N − 1) div 20, phase (N − 1) mod 20.
      const byNumber = computeLvFunction(
        inputs.map((f) => {
          const pos = parseSunnybrookFileName(`IM-0001-${f.instanceNumber}`)!;
          return { id: f.id, areaPx: f.areaPx, areaMm2: f.areaMm2, sliceIndex: pos.slice, phaseIndex: pos.phase };
        }),
        { spacingBetweenSlicesMm: placed.spacingBetweenSlicesMm },
      );
      expect(byGeometry.spacingMm).toBeCloseTo(placed.spacingBetweenSlicesMm as number, 2); // 8 mm in both cases
      expect(byGeometry.slicesUsed).toBe(byNumber.slicesUsed);
      expect(byGeometry.ef).toBeCloseTo(byNumber.ef, 9);
      expect(byGeometry.edvMl).toBeCloseTo(byNumber.edvMl as number, 1);
      expect(byGeometry.ef).toBeGreaterThan(0.05);
      expect(byGeometry.ef).toBeLessThan(0.8);
    }
  });
});
