import { isLvsegError } from '@lvseg/common';
import { compareLvFunction, computeLvFunction, LvFrame, LvFunctionOptions } from './lv-function';
import { parseSunnybrookFileName } from './sunnybrook';

/** A frame at 0-based slice/phase with an area in mm² (null: no PixelSpacing) and, by default, 2 px per mm². */
const frame = (slice: number, phase: number, areaMm2: number | null, extra: Partial<LvFrame> = {}): LvFrame => ({
  id: `s${slice}p${phase}`,
  areaMm2,
  areaPx: (areaMm2 ?? 0) * 2,
  sliceIndex: slice,
  phaseIndex: phase,
  ...extra,
});

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isLvsegError(e, 'invalid-input')) return e.code;
    throw e;
  }
  throw new Error('expected an LvsegError');
}

describe('computeLvFunction', () => {
  it('sums discs: two slices 10 mm apart at two phases', () => {
    // Phase 0: 1000 + 800 mm² × 10 mm = 18 000 mm³ = 18 mL. Phase 7: 500 + 300 mm² × 10 mm = 8 mL.
    const frames = [
      frame(0, 0, 1000, { slicePositionMm: 40 }),
      frame(1, 0, 800, { slicePositionMm: 50 }),
      frame(0, 7, 500, { slicePositionMm: 40 }),
      frame(1, 7, 300, { slicePositionMm: 50 }),
    ];
    const r = computeLvFunction(frames);
    expect(r.edvMl).toBeCloseTo(18, 12);
    expect(r.esvMl).toBeCloseTo(8, 12);
    expect(r.svMl).toBeCloseTo(10, 12);
    expect(r.ef).toBeCloseTo(10 / 18, 12);
    expect(r).toMatchObject({ edPhase: 0, esPhase: 7, phaseRule: 'cine-phase', slicesUsed: 2, spacingMm: 10, spacingSource: 'slice-positions', areaUnit: 'mm2', notes: [] });
    expect(r.volumeNullReason).toBeUndefined();
    expect(r.method).toMatch(/disc summation/i);
    expect(r.method).toMatch(/EF = SV \/ EDV/);
    // Positions alone (no indices) give the same answer, and so does a stack numbered the other way round.
    const byPosition = frames.map((f) => ({ ...f, sliceIndex: undefined }));
    expect(computeLvFunction(byPosition)).toEqual({ ...r, method: expect.stringContaining('grouped by slice (slice position)') });
    const flipped = computeLvFunction(frames.map((f) => ({ ...f, slicePositionMm: -(f.slicePositionMm as number) })));
    expect(flipped.edvMl).toBeCloseTo(18, 12);
  });

  it('takes the spacing from positions, else SpacingBetweenSlices, else SliceThickness, and says which', () => {
    const frames = [frame(0, 0, 1000), frame(1, 0, 800), frame(0, 7, 500), frame(1, 7, 300)];
    const withBoth: LvFunctionOptions = { spacingBetweenSlicesMm: 8, sliceThicknessMm: 6 };
    const a = computeLvFunction(frames, withBoth);
    expect(a).toMatchObject({ spacingMm: 8, spacingSource: 'spacing-between-slices' });
    expect(a.edvMl).toBeCloseTo(1.8 * 8, 12);
    const b = computeLvFunction(frames, { sliceThicknessMm: 6 });
    expect(b).toMatchObject({ spacingMm: 6, spacingSource: 'slice-thickness' });
    expect(b.esvMl).toBeCloseTo(0.8 * 6, 12);
    // Positions win over the tags; a disagreement of more than 10 % is noted.
    const positioned = frames.map((f) => ({ ...f, slicePositionMm: (f.sliceIndex as number) * 10 }));
    const c = computeLvFunction(positioned, withBoth);
    expect(c).toMatchObject({ spacingMm: 10, spacingSource: 'slice-positions' });
    expect(c.notes.join(' ')).toMatch(/10\.00 mm apart but SpacingBetweenSlices says 8 mm/);
    // One slice has no neighbour to measure against: the tag is used.
    const single = [frame(3, 0, 1000, { slicePositionMm: 12 }), frame(3, 9, 400, { slicePositionMm: 12 })];
    expect(computeLvFunction(single, { sliceThicknessMm: 10 })).toMatchObject({ edvMl: 10, esvMl: 4, spacingSource: 'slice-thickness', slicesUsed: 1 });
  });

  it('without any spacing, or without PixelSpacing, gives null volumes with a reason and EF from the area sums', () => {
    const frames = [frame(0, 0, 1000), frame(1, 0, 800), frame(0, 7, 500), frame(1, 7, 300)];
    const noSpacing = computeLvFunction(frames);
    expect(noSpacing).toMatchObject({ edvMl: null, esvMl: null, svMl: null, spacingMm: null, spacingSource: null, areaUnit: 'mm2', edPhase: 0, esPhase: 7 });
    expect(noSpacing.volumeNullReason).toMatch(/no slice spacing/);
    expect(noSpacing.ef).toBeCloseTo(10 / 18, 12);
    expect(noSpacing.phases).toEqual([
      { phase: 0, role: 'ED', areaSum: 1800, volumeMl: null },
      { phase: 7, role: 'ES', areaSum: 800, volumeMl: null },
    ]);

    // PNG-like: no mm² at all. Pixel sums 3600 and 1600 → EF 2000 / 3600.
    const px = frames.map((f) => ({ ...f, areaMm2: null }));
    const r = computeLvFunction(px, { sliceThicknessMm: 10 });
    expect(r).toMatchObject({ edvMl: null, esvMl: null, svMl: null, areaUnit: 'px', spacingMm: 10 });
    expect(r.volumeNullReason).toMatch(/4 frame\(s\) have no PixelSpacing/);
    expect(r.ef).toBeCloseTo(2000 / 3600, 12);
    expect(r.method).toMatch(/ratio of the pixel area sums/);
    // One frame without spacing is enough to fall back to pixels for all (never mm² mixed with px).
    const oneMissing = frames.map((f, i) => (i === 3 ? { ...f, areaMm2: null } : f));
    expect(computeLvFunction(oneMissing, { sliceThicknessMm: 10 })).toMatchObject({ areaUnit: 'px', edvMl: null });
  });

  describe('the gap rule: a missing slice inside the stack is interpolated linearly from its neighbours', () => {
    it('fills one missing slice, the same volume as widening the neighbours’ discs by half the gap each', () => {
      // Slices 0, 1, 3 at 0, 10, 30 mm; slice 2 missing at both phases.
      // ED: 100, 200, (300), 400 → 1000 mm² × 10 mm = 10 mL; by wider discs 100×10 + 200×15 + 400×15 = 10 000 mm³.
      // ES: 50, 100, (150), 200 → 500 mm² → 5 mL.
      const frames = [
        frame(0, 0, 100, { slicePositionMm: 0 }),
        frame(1, 0, 200, { slicePositionMm: 10 }),
        frame(3, 0, 400, { slicePositionMm: 30 }),
        frame(0, 5, 50, { slicePositionMm: 0 }),
        frame(1, 5, 100, { slicePositionMm: 10 }),
        frame(3, 5, 200, { slicePositionMm: 30 }),
      ];
      const r = computeLvFunction(frames);
      expect(r.spacingMm).toBe(10); // per slice step: 10/1 and 20/2
      expect(r.edvMl).toBeCloseTo(10, 12);
      expect((100 * 10 + 200 * 15 + 400 * 15) / 1000).toBeCloseTo(r.edvMl as number, 12);
      expect(r.esvMl).toBeCloseTo(5, 12);
      expect(r.ef).toBeCloseTo(0.5, 12);
      expect(r.slicesUsed).toBe(4);
      expect(r.notes).toEqual([
        'phase 0: slice(s) 2 missing, area interpolated linearly from the neighbouring slices',
        'phase 5: slice(s) 2 missing, area interpolated linearly from the neighbouring slices',
      ]);
    });

    it('fills two missing slices, and finds the gap from positions alone', () => {
      // Positions 0, 10, 20, 40: neighbour differences 10, 10, 20, median 10 → slice 3 is missing.
      // ED 100, 200, 300, (350), 400 = 1350 mm² → 13.5 mL; ES 40 each → 200 mm² → 2 mL.
      const pos = [0, 10, 20, 40];
      const ed = [100, 200, 300, 400];
      const frames = pos.flatMap((p, k) => [
        { id: `ed${k}`, areaMm2: ed[k], areaPx: ed[k], slicePositionMm: p, phaseIndex: 19 },
        { id: `es${k}`, areaMm2: 40, areaPx: 40, slicePositionMm: p, phaseIndex: 7 },
      ]);
      const r = computeLvFunction(frames);
      expect(r).toMatchObject({ spacingMm: 10, slicesUsed: 5, edPhase: 19, esPhase: 7 });
      expect(r.edvMl).toBeCloseTo(13.5, 12);
      expect(r.esvMl).toBeCloseTo(2, 12);

      // Two steps missing between slice indices 0 and 3: 100, (200), (300), 400 → 1000 mm² = the wider discs 100×20 + 400×20.
      const two = [frame(0, 0, 100), frame(3, 0, 400), frame(0, 1, 10), frame(3, 1, 10)];
      const t = computeLvFunction(two, { spacingBetweenSlicesMm: 10 });
      expect(t.edvMl).toBeCloseTo(10, 12);
      expect(t.edvMl).toBeCloseTo((100 * 20 + 400 * 20) / 1000, 12);
      expect(t.notes[0]).toBe('phase 0: slice(s) 1, 2 missing, area interpolated linearly from the neighbouring slices');
    });
  });

  describe('the phase rule: every phase is summed over the slice range all phases cover', () => {
    it('leaves out slices outside the common range (the ES stack is shorter at base and apex)', () => {
      // ED at slices 0..3, ES at 1..2 only → both summed over 1..2: ED 400 + 300, ES 200 + 100 → EF 400 / 700.
      const frames = [frame(0, 19, 100), frame(1, 19, 400), frame(2, 19, 300), frame(3, 19, 50), frame(1, 7, 200), frame(2, 7, 100)];
      const r = computeLvFunction(frames, { spacingBetweenSlicesMm: 10 });
      expect(r).toMatchObject({ edPhase: 19, esPhase: 7, slicesUsed: 2 });
      expect(r.edvMl).toBeCloseTo(7, 12);
      expect(r.esvMl).toBeCloseTo(3, 12);
      expect(r.ef).toBeCloseTo(400 / 700, 12);
      expect(r.notes).toEqual(['phase 19: slice(s) 0, 3 left out (outside the slice range 1–2 every phase covers)']);
    });

    it('interpolates a slice only one phase lacks inside the range, keeping the other phase’s measured area', () => {
      // ED at 0, 1, 2 (100, 200, 300); ES at 0 and 2 (40, 80) → ES slice 1 = 60. ED 600, ES 180.
      const frames = [frame(0, 0, 100), frame(1, 0, 200), frame(2, 0, 300), frame(0, 9, 40), frame(2, 9, 80)];
      const r = computeLvFunction(frames, { sliceThicknessMm: 5 });
      expect(r.edvMl).toBeCloseTo(3, 12);
      expect(r.esvMl).toBeCloseTo(0.9, 12);
      expect(r.notes).toEqual(['phase 9: slice(s) 1 missing, area interpolated linearly from the neighbouring slices']);
    });

    it('with a full cine takes ED as the largest and ES as the smallest of all phases', () => {
      const areas = [30, 50, 90, 70, 40]; // per phase, at each of 2 slices
      const frames = areas.flatMap((a, p) => [frame(0, p, a), frame(1, p, a / 2)]);
      const r = computeLvFunction(frames, { spacingBetweenSlicesMm: 10 });
      expect(r).toMatchObject({ edPhase: 2, esPhase: 0 });
      expect(r.edvMl).toBeCloseTo(1.35, 12);
      expect(r.esvMl).toBeCloseTo(0.45, 12);
      expect(r.ef).toBeCloseTo(2 / 3, 12);
      // Every phase's sum, in phase order, with ED and ES marked: 45, 75, 135, 105, 60 mm² × 10 mm.
      expect(r.phases.map((p) => [p.phase, p.role, p.areaSum])).toEqual([[0, 'ES', 45], [1, null, 75], [2, 'ED', 135], [3, null, 105], [4, null, 60]]);
      r.phases.forEach((p) => expect(p.volumeMl).toBeCloseTo(p.areaSum / 100, 12));
      expect(r.phases.find((p) => p.role === 'ED')!.volumeMl).toBe(r.edvMl);
      expect(r.phases.find((p) => p.role === 'ES')!.volumeMl).toBe(r.esvMl);
    });

    it('notes slices where the ES phase is the larger one, but keeps the phases as acquired', () => {
      const frames = [frame(0, 19, 500), frame(1, 19, 100), frame(0, 7, 200), frame(1, 7, 120)];
      const r = computeLvFunction(frames, { sliceThicknessMm: 10 });
      expect(r).toMatchObject({ edPhase: 19, esPhase: 7 });
      expect(r.ef).toBeCloseTo((600 - 320) / 600, 12);
      expect(r.notes).toEqual(["at slice(s) 1 the ES phase's area is larger than the ED phase's (kept as acquired; the per-slice pair rule would swap them there)"]);
    });

    it('orders phases by TriggerTime within each slice when no phase index is given', () => {
      const frames: LvFrame[] = [
        { id: 'a', areaMm2: 300, areaPx: 300, sliceIndex: 0, triggerTimeMs: 976 },
        { id: 'b', areaMm2: 100, areaPx: 100, sliceIndex: 0, triggerTimeMs: 315 },
        { id: 'c', areaMm2: 200, areaPx: 200, sliceIndex: 1, triggerTimeMs: 300 },
        { id: 'd', areaMm2: 400, areaPx: 400, sliceIndex: 1, triggerTimeMs: 950 },
      ];
      const r = computeLvFunction(frames, { sliceThicknessMm: 10 });
      expect(r).toMatchObject({ edPhase: 1, esPhase: 0, phaseRule: 'cine-phase' });
      expect(r.edvMl).toBeCloseTo(7, 12);
      expect(r.esvMl).toBeCloseTo(3, 12);
      expect(r.method).toMatch(/TriggerTime order within each slice/);
    });

    it('without any phase information pairs frames per slice: the larger is ED, the smaller ES', () => {
      const frames: LvFrame[] = [
        { id: 'a', areaMm2: 100, areaPx: 100, sliceIndex: 0 },
        { id: 'b', areaMm2: 40, areaPx: 40, sliceIndex: 0 },
        { id: 'c', areaMm2: 80, areaPx: 80, sliceIndex: 1 },
        { id: 'd', areaMm2: 90, areaPx: 90, sliceIndex: 1 },
        { id: 'e', areaMm2: 70, areaPx: 70, sliceIndex: 2 }, // alone: left out
      ];
      const r = computeLvFunction(frames, { sliceThicknessMm: 10 });
      expect(r).toMatchObject({ phaseRule: 'slice-pair', edPhase: null, esPhase: null, slicesUsed: 2 });
      expect(r.edvMl).toBeCloseTo(1.9, 12);
      expect(r.esvMl).toBeCloseTo(1.2, 12);
      expect(r.notes).toEqual(['slice-pair rule: slice(s) 2 do not have exactly two frames and are left out']);
      expect(r.method).toMatch(/the larger LV is ED and the smaller ES/);
      expect(r.phases).toEqual([
        { phase: null, role: 'ED', areaSum: 190, volumeMl: r.edvMl },
        { phase: null, role: 'ES', areaSum: 120, volumeMl: r.esvMl },
      ]);
    });
  });

  it('agrees with a Sunnybrook PNG case placed by its file names (20 phases per slice)', () => {
    // Frames 48/59 (slice 2, phases 7/18) and 68/79 (slice 3, phases 7/18); no PixelSpacing in PNGs.
    const px: Record<number, number> = { 48: 300, 59: 700, 68: 250, 79: 650 };
    const frames = Object.entries(px).map(([n, areaPx]) => {
      const name = `images/SC-HF-I-01-IM-0001-${String(n).padStart(4, '0')}.png`;
      const pos = parseSunnybrookFileName(name)!;
      return { id: name, areaMm2: null, areaPx, sliceIndex: pos.slice, phaseIndex: pos.phase };
    });
    const r = computeLvFunction(frames);
    expect(r).toMatchObject({ edPhase: 18, esPhase: 7, areaUnit: 'px', edvMl: null, slicesUsed: 2 });
    expect(r.ef).toBeCloseTo((1350 - 550) / 1350, 12);
  });

  it('refuses what has no answer with typed errors', () => {
    expect(codeOf(() => computeLvFunction([]))).toBe('LV_NO_FRAMES');
    expect(codeOf(() => computeLvFunction([frame(0, 0, 10), frame(1, 0, 20)]))).toBe('LV_SINGLE_PHASE');
    expect(codeOf(() => computeLvFunction([frame(0, 0, 10), frame(0, 0, 20), frame(0, 1, 5)]))).toBe('LV_DUPLICATE_FRAME');
    expect(codeOf(() => computeLvFunction([{ id: 'x', areaMm2: 1, areaPx: 1, phaseIndex: 0 }, frame(0, 1, 1)]))).toBe('LV_NO_SLICE');
    expect(codeOf(() => computeLvFunction([frame(0, 0, 10), frame(1, 0, 10), frame(3, 1, 5), frame(4, 1, 5)]))).toBe('LV_NO_COMMON_SLICES');
    expect(codeOf(() => computeLvFunction([frame(0, 0, 0), frame(0, 1, 0)]))).toBe('LV_EMPTY_VOLUME');
    expect(codeOf(() => computeLvFunction([frame(0, 0, -1), frame(0, 1, 0)]))).toBe('LV_BAD_AREA');
    expect(codeOf(() => computeLvFunction([frame(0, 0, 1), frame(0, 1, NaN)]))).toBe('LV_BAD_AREA');
    expect(codeOf(() => computeLvFunction([frame(0, 0, 10), frame(0, 1, 5)], { sliceThicknessMm: 0 }))).toBe('LV_BAD_SPACING');
    // The slice-pair rule with no pair at all leaves no phase.
    expect(codeOf(() => computeLvFunction([{ id: 'x', areaMm2: 1, areaPx: 1, sliceIndex: 0 }]))).toBe('LV_SINGLE_PHASE');
  });
});

describe('compareLvFunction', () => {
  it('reports model − expert for EF (fraction) and volumes (mL)', () => {
    const expert = computeLvFunction([frame(0, 0, 1000), frame(0, 7, 400)], { sliceThicknessMm: 10 }); // 10 mL, 4 mL, EF 0.6
    const model = computeLvFunction([frame(0, 0, 900), frame(0, 7, 450)], { sliceThicknessMm: 10 }); // 9 mL, 4.5 mL, EF 0.5
    const c = compareLvFunction(expert, model);
    expect(c.expert).toBe(expert);
    expect(c.model).toBe(model);
    expect(c.difference.ef).toBeCloseTo(-0.1, 12);
    expect(c.difference.edvMl).toBeCloseTo(-1, 12);
    expect(c.difference.esvMl).toBeCloseTo(0.5, 12);
    const noVolumes = computeLvFunction([frame(0, 0, 900), frame(0, 7, 450)]);
    expect(compareLvFunction(expert, noVolumes).difference).toEqual({ ef: expect.closeTo(-0.1, 12), edvMl: null, esvMl: null });
  });
});
