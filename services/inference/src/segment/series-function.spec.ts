import { LvsegError, isLvsegError } from '@lvseg/common';
import type { DicomMeta } from '@lvseg/imaging';
import { toHttpError } from '../http/http-error.filter';
import { FrameArea, frameIds, placeSeries, seriesLvComparison, seriesLvFunction } from './series-function';

const IOP: DicomMeta['imageOrientationPatient'] = [1, 0, 0, 0, 1, 0];

/** A frame of a stack: slice `slice` 10 mm apart along z, phase by trigger time (`phase` × 40 ms). */
function meta(slice: number, phase: number, extra: Partial<DicomMeta> = {}): DicomMeta {
  return {
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    rows: 256,
    columns: 256,
    bitsAllocated: 16,
    bitsStored: 16,
    highBit: 15,
    pixelRepresentation: 1,
    photometricInterpretation: 'MONOCHROME2',
    rescaleSlope: 1,
    rescaleIntercept: 0,
    numberOfFrames: 1,
    imageOrientationPatient: IOP,
    imagePositionPatient: [-100, -100, 40 + 10 * slice],
    triggerTimeMs: 40 * phase,
    instanceNumber: 1 + slice * 20 + phase,
    sliceThicknessMm: 8,
    spacingBetweenSlicesMm: 10,
    ...extra,
  };
}

function errorOf(fn: () => unknown): LvsegError {
  try {
    fn();
  } catch (e) {
    if (isLvsegError(e)) return e;
    throw e;
  }
  throw new Error('expected an LvsegError');
}

/** Two slices at phases 0 (ED-like, larger) and 7, in upload order s0p0, s0p7, s1p0, s1p7. */
const stack = [meta(0, 0), meta(0, 7), meta(1, 0), meta(1, 7)];
const ids = ['a.dcm', 'b.dcm', 'c.dcm', 'd.dcm'];
const mm2 = (...v: number[]): FrameArea[] => v.map((a) => ({ pixels: a * 2, mm2: a }));

describe('placeSeries', () => {
  it('places frames by geometry: slice by position along the normal, phase by trigger time order', () => {
    const placed = placeSeries(ids, stack);
    expect(placed.frames.map((f) => [f.id, f.sliceIndex, f.phaseIndex])).toEqual([
      ['a.dcm', 0, 0],
      ['b.dcm', 0, 1],
      ['c.dcm', 1, 0],
      ['d.dcm', 1, 1],
    ]);
    expect(placed).toMatchObject({ slicePositionSource: 'image-position', phaseSource: 'trigger-time', options: { spacingBetweenSlicesMm: 10, sliceThicknessMm: 8 }, notes: [] });
  });

  it('refuses, before any inference, a stack that can give no LV function (422 with the LV_ code)', () => {
    const tilted = [...stack.slice(0, 3), meta(1, 7, { imageOrientationPatient: [1, 0, 0, 0, 0, 1] })];
    const cases: Array<[DicomMeta[], string]> = [
      [tilted, 'LV_MIXED_ORIENTATION'],
      // One frame per slice: every frame is phase 0.
      [[meta(0, 0), meta(1, 0), meta(2, 0)], 'LV_SINGLE_PHASE'],
      [stack.map((m) => ({ ...m, imagePositionPatient: undefined, sliceLocation: undefined })), 'LV_NO_SLICE_POSITION'],
    ];
    for (const [metas, code] of cases) {
      const e = errorOf(() => placeSeries(ids.slice(0, metas.length), metas));
      expect(e.code).toBe(code);
      expect(toHttpError(e).status).toBe(422);
    }
  });
});

describe('seriesLvFunction', () => {
  it('sums discs over every frame: EDV, ESV, SV = EDV − ESV, EF = SV / EDV', () => {
    // Phase 0: (1000 + 800) mm² × 10 mm = 18 mL; phase 7: (500 + 300) mm² × 10 mm = 8 mL.
    const r = seriesLvFunction(placeSeries(ids, stack), mm2(1000, 500, 800, 300));
    if (!('value' in r)) throw new Error(r.error.message);
    const f = r.value;
    expect(f.edvMl).toBeCloseTo(18, 10);
    expect(f.esvMl).toBeCloseTo(8, 10);
    expect(f.svMl).toBeCloseTo(10, 10);
    expect(f.ef).toBeCloseTo(10 / 18, 12);
    expect(f).toMatchObject({ edPhase: 0, esPhase: 1, phaseRule: 'cine-phase', slicesUsed: 2, spacingMm: 10, spacingSource: 'slice-positions', areaUnit: 'mm2' });
    expect(f.method).toMatch(/disc summation/i);
  });

  it('puts the placement notes first', () => {
    // A third slice with phase 0 only, and no trigger times: its phase cannot be told by InstanceNumber alone.
    const metas = [...stack, meta(2, 0)].map((m) => ({ ...m, triggerTimeMs: undefined }));
    const r = seriesLvFunction(placeSeries([...ids, 'e.dcm'], metas), mm2(1000, 500, 800, 300, 600));
    if (!('value' in r)) throw new Error(r.error.message);
    expect(r.value.notes[0]).toMatch(/slice 2: 1 of 2 frames and no TriggerTime/);
    expect(r.value.notes.join(' ')).toMatch(/without a phase left out: e\.dcm/);
  });

  it('gives the comparison the same placement notes, so with every frame labelled its model side is the series function', () => {
    const metas = [...stack, meta(2, 0)].map((m) => ({ ...m, triggerTimeMs: undefined }));
    const placed = placeSeries([...ids, 'e.dcm'], metas);
    const model = mm2(1000, 500, 800, 300, 600);
    const whole = seriesLvFunction(placed, model);
    const cmp = seriesLvComparison(placed, model, mm2(900, 400, 900, 400, 500));
    if (!('value' in whole) || !('value' in cmp)) throw new Error('no function');
    expect(cmp.value.model).toEqual(whole.value);
    expect(cmp.value.expert.notes[0]).toBe(whole.value.notes[0]);
  });

  it('answers an error, not a throw, when the model found no LV at all', () => {
    const r = seriesLvFunction(placeSeries(ids, stack), mm2(0, 0, 0, 0));
    expect(r).toEqual({ error: { code: 'LV_EMPTY_VOLUME', message: expect.stringMatching(/no LV area/) } });
  });

  it('gives null volumes with a reason, and EF from pixels, without PixelSpacing', () => {
    const r = seriesLvFunction(
      placeSeries(ids, stack),
      [1000, 500, 800, 300].map((p) => ({ pixels: p, mm2: null })),
    );
    if (!('value' in r)) throw new Error(r.error.message);
    expect(r.value).toMatchObject({ edvMl: null, esvMl: null, svMl: null, areaUnit: 'px' });
    expect(r.value.ef).toBeCloseTo(10 / 18, 12);
    expect(r.value.volumeNullReason).toMatch(/no PixelSpacing/);
  });
});

describe('seriesLvComparison', () => {
  const placed = placeSeries(ids, stack);
  const model = mm2(1000, 500, 800, 300);

  it('with every frame labelled: the model side equals the series function, difference = model − expert', () => {
    const r = seriesLvComparison(placed, model, mm2(900, 400, 900, 400));
    if (!('value' in r)) throw new Error(r.error.message);
    const whole = seriesLvFunction(placed, model);
    if (!('value' in whole)) throw new Error('no function');
    expect(r.value.frames).toBe(4);
    expect(r.value.model).toEqual(whole.value);
    expect(r.value.expert.edvMl).toBeCloseTo(18, 10);
    expect(r.value.expert.esvMl).toBeCloseTo(8, 10);
    expect(r.value.difference.ef).toBeCloseTo(10 / 18 - 10 / 18, 12);
    expect(r.value.difference.edvMl).toBeCloseTo(0, 10);
  });

  it('with some frames labelled: both sides over the labelled frames only, at the slices and phases the series gave them', () => {
    // Slice 1 only: model 800 → 300 mm², expert 1000 → 250 mm²; one slice, spacing from SpacingBetweenSlices.
    const r = seriesLvComparison(placed, model, [undefined, undefined, ...mm2(1000, 250)]);
    if (!('value' in r)) throw new Error(r.error.message);
    expect(r.value.frames).toBe(2);
    expect(r.value.model).toMatchObject({ slicesUsed: 1, spacingSource: 'spacing-between-slices', edPhase: 0, esPhase: 1 });
    expect(r.value.model.edvMl).toBeCloseTo(8, 10);
    expect(r.value.expert.edvMl).toBeCloseTo(10, 10);
    expect(r.value.expert.esvMl).toBeCloseTo(2.5, 10);
    expect(r.value.difference.edvMl).toBeCloseTo(-2, 10);
    expect(r.value.difference.esvMl).toBeCloseTo(0.5, 10);
    expect(r.value.difference.ef).toBeCloseTo(5 / 8 - 7.5 / 10, 12);
  });

  it('answers an error when the labelled frames give no LV function', () => {
    expect(seriesLvComparison(placed, model, [mm2(1000)[0], undefined, mm2(800)[0], undefined])).toEqual({
      error: { code: 'LV_SINGLE_PHASE', message: expect.any(String) },
    });
  });
});

describe('frameIds', () => {
  it('uses the file names when unique, else adds the upload position', () => {
    expect(frameIds(['a.dcm', 'b.dcm'])).toEqual(['a.dcm', 'b.dcm']);
    expect(frameIds(['x.dcm', 'x.dcm'])).toEqual(['x.dcm#1', 'x.dcm#2']);
  });
});
