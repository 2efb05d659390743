import {
  accumulateHistogram,
  accumulateSplitHistogram,
  binStarts,
  blandAltman,
  classImbalance,
  distinctCounts,
  lvAreaMm2,
  mode,
  summarize,
} from './stats';

describe('report statistics on synthetic inputs', () => {
  it('converts LV pixels to mm² only when the spacing is known', () => {
    expect(lvAreaMm2(10, [0.5, 2])).toBe(10);
    expect(lvAreaMm2(100, [1.25, 1.25])).toBeCloseTo(156.25, 10);
    expect(lvAreaMm2(10, null)).toBeNull();
    expect(lvAreaMm2(10, undefined)).toBeNull();
  });

  it('bins values: last bin closed, out-of-range and NaN ignored, accumulating into one array', () => {
    const spec = { bins: 4, min: 0, max: 1 };
    const counts = accumulateHistogram([0, 0.1, 0.25, 0.5, 0.99, 1, 1.2, -0.1, NaN], spec);
    expect(Array.from(counts)).toEqual([2, 1, 1, 2]);
    accumulateHistogram([0.3], spec, counts);
    expect(Array.from(counts)).toEqual([2, 2, 1, 2]);
    expect(binStarts(spec)).toEqual([0, 0.25, 0.5, 0.75]);
  });

  it('splits a histogram by a mask', () => {
    const inside = new Float64Array(2);
    const outside = new Float64Array(2);
    accumulateSplitHistogram([0.1, 0.9, 0.2, 0.8, 1], [1, 1, 0, 0, 0], { bins: 2, min: 0, max: 1 }, inside, outside);
    expect(Array.from(inside)).toEqual([1, 1]);
    expect(Array.from(outside)).toEqual([1, 2]);
  });

  it('summarises: mean, median (even and odd n), min, max', () => {
    expect(summarize([3, 1, 2, 10])).toEqual({ n: 4, mean: 4, median: 2.5, min: 1, max: 10 });
    expect(summarize([5, 1, 3])).toEqual({ n: 3, mean: 3, median: 3, min: 1, max: 5 });
    expect(summarize([]).n).toBe(0);
    expect(summarize([]).mean).toBeNaN();
  });

  it('computes the class imbalance and the all-background baseline (mean over images vs pooled)', () => {
    // 10×10 image with 10 LV pixels (10 %) and a 10×30 image with none: mean 5 %, pooled 10 / 400 = 2.5 %.
    const im = classImbalance([
      { lvPixels: 10, totalPixels: 100 },
      { lvPixels: 0, totalPixels: 300 },
    ]);
    expect(im.images).toBe(2);
    expect(im.imagesWithLv).toBe(1);
    expect(im.meanLvFraction).toBeCloseTo(0.05, 12);
    expect(im.medianLvFraction).toBeCloseTo(0.05, 12);
    expect(im.maxLvFraction).toBeCloseTo(0.1, 12);
    expect(im.pooledLvFraction).toBeCloseTo(0.025, 12);
    // Per-image accuracies 0.9 and 1.0, as lvseg eval averages them.
    expect(im.allBackgroundPixelAccuracy).toBeCloseTo(0.95, 12);
    // Dice of an empty prediction: 0 where there is LV, 1 where there is none (libs/model's convention).
    expect(im.allBackgroundMeanDice).toBeCloseTo(0.5, 12);

    const typical = classImbalance(Array.from({ length: 5 }, () => ({ lvPixels: 1049, totalPixels: 65536 })));
    expect(typical.allBackgroundPixelAccuracy).toBeCloseTo(1 - 1049 / 65536, 12);
    expect(typical.allBackgroundMeanDice).toBe(0);
  });

  it('counts distinct values (most frequent first) and finds the mode', () => {
    expect(distinctCounts(['256 × 256', '128 × 128', '256 × 256'])).toEqual([
      { value: '256 × 256', count: 2 },
      { value: '128 × 128', count: 1 },
    ]);
    expect(mode([20, 7, 20, 19])).toBe(20);
    expect(mode([9, 19])).toBe(9);
    expect(mode([])).toBeNull();
  });

  it('gives the Bland–Altman bias, SD, limits of agreement and Pearson r of a hand-worked example', () => {
    // reference 1 2 3 4, test 2 2 5 5: differences 1 0 2 1, bias 1, squared deviations 0 1 1 0 → SD √(2/3) = 0.81650;
    // limits 1 ± 1.96 × 0.81650 = −0.60033 and 2.60033 (1.96 × 0.816497 = 1.600333). r: deviations (−1.5 −0.5 0.5 1.5) and (−1.5 −1.5 1.5 1.5),
    // Σxy = 6, Σx² = 5, Σy² = 9 → r = 6 / √45 = 0.894427.
    const ba = blandAltman([1, 2, 3, 4], [2, 2, 5, 5]);
    expect(ba.n).toBe(4);
    expect(ba.bias).toBeCloseTo(1, 12);
    expect(ba.sd).toBeCloseTo(0.816497, 6);
    expect(ba.lowerLimit).toBeCloseTo(-0.600333, 6);
    expect(ba.upperLimit).toBeCloseTo(2.600333, 6);
    expect(ba.pearsonR).toBeCloseTo(0.894427, 6);
    // Swapping the methods flips the sign of the bias and limits, not the SD or r.
    expect(blandAltman([2, 2, 5, 5], [1, 2, 3, 4])).toMatchObject({ bias: expect.closeTo(-1, 12), sd: expect.closeTo(0.816497, 6), upperLimit: expect.closeTo(0.600333, 6), pearsonR: expect.closeTo(0.894427, 6) });
  });

  it('leaves undefined Bland–Altman figures null: no pairs, one pair, a constant method', () => {
    expect(blandAltman([], [])).toEqual({ n: 0, bias: null, sd: null, lowerLimit: null, upperLimit: null, pearsonR: null });
    expect(blandAltman([0.5], [0.6])).toEqual({ n: 1, bias: expect.closeTo(0.1, 12), sd: null, lowerLimit: null, upperLimit: null, pearsonR: null });
    // Perfect agreement: SD 0, limits at the bias, r 1; a constant test method has no correlation.
    expect(blandAltman([1, 2, 3], [1, 2, 3])).toEqual({ n: 3, bias: 0, sd: 0, lowerLimit: 0, upperLimit: 0, pearsonR: 1 });
    expect(blandAltman([1, 2, 3], [2, 2, 2]).pearsonR).toBeNull();
    expect(() => blandAltman([1, 2], [1])).toThrow(/2 reference values but 1 test values/);
  });
});
