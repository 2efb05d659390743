import { assignCardiacPhases, cinePosition, frameFromPaths, pairSliceEdEs, parseSunnybrookFileName } from './sunnybrook';

describe('Sunnybrook numbering', () => {
  it('reads the cine frame number from Sunnybrook file names', () => {
    expect(frameFromPaths('images/SC-HF-I-01-IM-0001-0048.png', 'labels/SC-HF-I-01-IM-0001-0048.png')).toBe(48);
    expect(frameFromPaths('SCD0000401/100.dcm', undefined, 'SCD0000401/IM-0001-0100-icontour-manual.txt')).toBe(100);
    expect(frameFromPaths('a/b.png', 'a/c.png')).toBeNull();
  });

  it('maps a frame to its 0-based slice and cine phase (20 phases per slice)', () => {
    expect(cinePosition(1, 20)).toEqual({ slice: 0, phase: 0 });
    expect(cinePosition(20, 20)).toEqual({ slice: 0, phase: 19 });
    expect(cinePosition(21, 20)).toEqual({ slice: 1, phase: 0 });
    expect(cinePosition(48, 20)).toEqual({ slice: 2, phase: 7 });
    expect(cinePosition(59)).toEqual({ slice: 2, phase: 18 });
  });

  it('parses a PNG file name into slice (N − 1) div 20 and phase (N − 1) mod 20, or null', () => {
    expect(parseSunnybrookFileName('images/SC-HF-I-01-IM-0001-0048.png')).toEqual({ frame: 48, slice: 2, phase: 7 });
    expect(parseSunnybrookFileName('SC-HF-NI-34-IM-0001-0121.png')).toEqual({ frame: 121, slice: 6, phase: 0 });
    // The dataset id (case/file name without extension) carries the same number.
    expect(parseSunnybrookFileName('SC-N-02/SC-N-02-IM-0001-0020')).toEqual({ frame: 20, slice: 0, phase: 19 });
    expect(parseSunnybrookFileName('SCD0000401/100.dcm')).toBeNull();
    expect(parseSunnybrookFileName('x-IM-0001-0000.png')).toBeNull();
    expect(parseSunnybrookFileName('')).toBeNull();
  });
});

describe('the per-slice ED/ES rule', () => {
  it('calls the larger of exactly two frames ED, and says why otherwise', () => {
    const area = (x: number) => x;
    expect(pairSliceEdEs([3, 7], area)).toEqual({ ed: 7, es: 3 });
    expect(pairSliceEdEs([7, 3], area)).toEqual({ ed: 7, es: 3 });
    expect(pairSliceEdEs([5, 5], area)).toEqual({ reason: 'equal-areas' });
    expect(pairSliceEdEs([5], area)).toEqual({ reason: 'not-a-pair' });
    expect(pairSliceEdEs([1, 2, 3], area)).toEqual({ reason: 'not-a-pair' });
  });

  it('calls the larger LV of a slice pair ED and the smaller ES, and leaves the rest unknown', () => {
    const got = assignCardiacPhases(
      [
        { case: 'A', frame: 48, lvPixels: 60 }, // slice 2, phase 7: smaller → ES
        { case: 'A', frame: 59, lvPixels: 100 }, // slice 2, phase 18: larger → ED
        { case: 'A', frame: 80, lvPixels: 50 }, // slice 3 alone → unknown
        { case: 'B', frame: 48, lvPixels: 70 }, // case B slice 2 is a different slice from A's
        { case: 'B', frame: 59, lvPixels: 70 }, // equal areas → unknown
        { case: 'B', frame: 61, lvPixels: 10 }, // slice 3 with three frames → unknown
        { case: 'B', frame: 68, lvPixels: 20 },
        { case: 'B', frame: 79, lvPixels: 30 },
        { case: 'C', frame: null, lvPixels: 40 },
        { case: 'C', frame: 7, lvPixels: 90 }, // slice 0: the larger frame is ED even at an early phase
        { case: 'C', frame: 20, lvPixels: 30 },
      ],
      20,
    );
    expect(got.map((g) => g.phase)).toEqual(['ES', 'ED', 'unknown', 'unknown', 'unknown', 'unknown', 'unknown', 'unknown', 'unknown', 'ED', 'ES']);
    expect(got.map((g) => g.reason)).toEqual([undefined, undefined, 'not-a-pair', 'equal-areas', 'equal-areas', 'not-a-pair', 'not-a-pair', 'not-a-pair', 'no-frame-number', undefined, undefined]);
    expect(got[1]).toEqual({ phase: 'ED', slice: 2, phaseIndex: 18 });
    expect(got[8]).toEqual({ phase: 'unknown', slice: null, phaseIndex: null, reason: 'no-frame-number' });
  });
});
