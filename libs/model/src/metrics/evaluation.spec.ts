import { isLvsegError } from '@lvseg/common';
import type { BinaryMask } from '@lvseg/imaging';
import { evaluateCases, sizeGroups, type EvaluationItem } from './evaluation';
import { maskWith, rectMask } from './test-support/masks';
import { readAllLabels, sunnybrookDataDir } from './test-support/sunnybrook-png-labels';

describe('evaluateCases', () => {
  const square = rectMask(20, 20, 5, 5, 14, 14);
  const shifted = rectMask(20, 20, 5, 7, 14, 16);
  const corner = rectMask(20, 20, 0, 0, 3, 3);
  const farCorner = rectMask(20, 20, 12, 12, 15, 15);
  // farCorner's 12 boundary points are all nearest to corner's pixel (3, 3): offsets 9..12 in rows and columns.
  const farOffsets: Array<[number, number]> = [
    [9, 9], [9, 10], [9, 11], [9, 12], [12, 9], [12, 10], [12, 11], [12, 12], [10, 9], [11, 9], [10, 12], [11, 12],
  ];
  const farApd = farOffsets.reduce((s, [a, b]) => s + Math.hypot(a, b), 0) / farOffsets.length;

  const items: EvaluationItem[] = [
    { id: 'a1', case: 'A', pred: square, truth: square, pixelSpacingMm: [1.5, 1.5] },
    // 10 x 10 square shifted 2 px: tp 80, fp 20, fn 20 → Dice 0.8, Jaccard 2/3, accuracy 360/400; APD 1 px (see contour.spec).
    { id: 'a2', case: 'A', pred: shifted, truth: square, pixelSpacingMm: [1.5, 1.5] },
    // Empty prediction: Dice 0, accuracy 300/400, APD undefined.
    { id: 'b1', case: 'B', pred: maskWith(20, 20), truth: square, pixelSpacingMm: [1.5, 1.5] },
    // Disjoint 4 x 4 squares, no spacing: Dice 0, accuracy 368/400, APD in pixels.
    { id: 'b2', case: 'B', pred: farCorner, truth: corner },
  ];

  it('scores a hand-worked set of four images in two cases, in px for all as one image has no spacing', () => {
    const report = evaluateCases(items);
    const px = { apdUnit: 'px', apdInPixels: true };
    expect(report.perImage).toEqual([
      { id: 'a1', case: 'A', dice: 1, jaccard: 1, pixelAccuracy: 1, apdMm: 0, good: true, ...px, confusion: { tp: 100, fp: 0, fn: 0, tn: 300 } },
      {
        id: 'a2',
        case: 'A',
        dice: expect.closeTo(0.8, 12),
        jaccard: expect.closeTo(2 / 3, 12),
        pixelAccuracy: expect.closeTo(0.9, 12),
        apdMm: expect.closeTo(1, 12), // 1 px, its 1.5 mm spacing not used: a report never averages mm with px
        good: true,
        ...px,
        confusion: { tp: 80, fp: 20, fn: 20, tn: 280 },
      },
      { id: 'b1', case: 'B', dice: 0, jaccard: 0, pixelAccuracy: 0.75, apdMm: null, good: false, ...px, confusion: { tp: 0, fp: 0, fn: 100, tn: 300 } },
      {
        id: 'b2',
        case: 'B',
        dice: 0,
        jaccard: 0,
        pixelAccuracy: expect.closeTo(0.92, 12),
        apdMm: expect.closeTo(farApd, 12),
        good: false,
        ...px,
        confusion: { tp: 0, fp: 16, fn: 16, tn: 368 },
      },
    ]);
    expect(farApd).toBeGreaterThan(5);

    expect(report.images).toBe(4);
    expect(report.goodApdMm).toBe(5);
    expect(report.apdUnit).toBe('px');
    expect(report.apdInPixels).toBe(true);
    expect(report.meanDice).toBeCloseTo((1 + 0.8 + 0 + 0) / 4, 12);
    // Pooled as the paper's TF1 lab does: 2·ΣTP / (Σ|pred| + Σ|truth|) = 2·180 / ((100 + 100 + 0 + 16) + (100 + 100 + 100 + 16)).
    expect(report.pooledDice).toBeCloseTo(360 / 532, 12);
    expect(report.meanJaccard).toBeCloseTo((1 + 2 / 3) / 4, 12);
    expect(report.pixelAccuracy).toBeCloseTo((1 + 0.9 + 0.75 + 0.92) / 4, 12);
    expect(report.goodContourRate).toBe(0.5);
    expect(report.meanDiceGood).toBeCloseTo(0.9, 12);
    expect(report.meanApdMmGood).toBeCloseTo(0.5, 12);
    expect(report.meanApdMm).toBeCloseTo((0 + 1 + farApd) / 3, 12);

    expect(report.perCase.map((c) => c.case)).toEqual(['A', 'B']);
    const [a, b] = report.perCase;
    expect(a.images).toBe(2);
    expect(a.meanDice).toBeCloseTo(0.9, 12);
    expect(a.pooledDice).toBeCloseTo(360 / 400, 12);
    expect(a.pixelAccuracy).toBeCloseTo(0.95, 12);
    expect(a.goodContourRate).toBe(1);
    expect(a.meanApdMm).toBeCloseTo(0.5, 12);
    expect(b.images).toBe(2);
    expect(b.meanDice).toBe(0);
    expect(b.pooledDice).toBe(0);
    expect(b.pixelAccuracy).toBeCloseTo((0.75 + 0.92) / 2, 12);
    expect(b.goodContourRate).toBe(0);
    expect(b.meanApdMm).toBeCloseTo(farApd, 12);
    expect(b.meanApdMmGood).toBeNull();
    expect(b.meanDiceGood).toBeNull();
    // The report is plain JSON (no Infinity/NaN hiding in it).
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('measures APD in mm when every image has a pixel spacing', () => {
    const report = evaluateCases(items.slice(0, 3));
    expect(report).toMatchObject({ apdUnit: 'mm', apdInPixels: false, goodApdMm: 5 });
    expect(report.perImage.map((e) => e.apdUnit)).toEqual(['mm', 'mm', 'mm']);
    expect(report.perImage[1].apdMm).toBeCloseTo(1.5, 12); // 1 px at 1.5 mm per pixel
    expect(report.meanApdMmGood).toBeCloseTo(0.75, 12);
    expect(report.perCase[0].meanApdMm).toBeCloseTo(0.75, 12);
  });

  it('calls a contour good only when APD is strictly below the threshold, in the report unit', () => {
    const mm = evaluateCases(items.slice(0, 3), { goodApdMm: 1.5 });
    expect(mm.perImage.map((e) => e.good)).toEqual([true, false, false]); // a2: 1.5 mm is not below 1.5 mm
    expect(mm.goodContourRate).toBeCloseTo(1 / 3, 12);
    const px = evaluateCases(items, { goodApdMm: 1 });
    expect(px.perImage.map((e) => e.good)).toEqual([true, false, false, false]); // a2: 1 px is not below 1 px
    expect(px.goodContourRate).toBe(0.25);
    expect(evaluateCases(items, { goodApdMm: 1.5 }).perImage.map((e) => e.good)).toEqual([true, true, false, false]);
  });

  it('treats an empty prediction of an empty truth as a perfect answer', () => {
    const empty = maskWith(4, 4);
    const [image] = evaluateCases([{ id: 'x', case: 'C', pred: empty, truth: empty }]).perImage;
    expect(image).toMatchObject({ dice: 1, jaccard: 1, pixelAccuracy: 1, apdMm: 0, good: true });
  });

  it('rejects no images, a bad threshold and a size mismatch with invalid-input', () => {
    const cases: Array<() => unknown> = [
      () => evaluateCases([]),
      () => evaluateCases(items, { goodApdMm: 0 }),
      () => evaluateCases([{ id: 'x', case: 'C', pred: maskWith(4, 4), truth: maskWith(4, 5) }]),
      () => evaluateCases([{ id: 'x', case: 'C', pred: square, truth: square, pixelSpacingMm: [1, 0] }]),
      // A bad spacing is refused even where a px report would not use it.
      () => evaluateCases([items[3], { id: 'x', case: 'C', pred: square, truth: square, pixelSpacingMm: [1, NaN] }]),
    ];
    for (const f of cases) {
      try {
        f();
        throw new Error('expected a throw');
      } catch (e) {
        expect(isLvsegError(e, 'invalid-input')).toBe(true);
      }
    }
  });
});

describe('evaluateCases on the real Sunnybrook labels', () => {
  const dataDir = sunnybrookDataDir();
  const maybe = dataDir ? it : it.skip;

  maybe('scores the labels as their own prediction perfectly, and an all-background answer as README says', () => {
    const labels = readAllLabels(dataDir as string);
    const caseOf = (name: string) => name.slice(0, name.indexOf('-IM-'));
    const asItems = (pred: (truth: BinaryMask) => BinaryMask): EvaluationItem[] =>
      labels.map(({ name, mask }) => ({ id: name, case: caseOf(name), pred: pred(mask), truth: mask }));

    const perfect = evaluateCases(asItems((truth) => truth));
    expect(perfect.images).toBe(526);
    expect(perfect.perCase).toHaveLength(30);
    expect(perfect.meanDice).toBe(1);
    expect(perfect.goodContourRate).toBe(1);
    expect(perfect.meanApdMmGood).toBe(0);
    expect(perfect.apdUnit).toBe('px'); // the PNGs carry no pixel spacing
    expect(perfect.apdInPixels).toBe(true);

    // README: "LV pixels are on average 1.6 % of an image ... 'background' everywhere scores 98.4 % pixel accuracy and Dice 0."
    const background = evaluateCases(asItems((truth) => maskWith(truth.rows, truth.columns)));
    expect(background.meanDice).toBe(0);
    expect(background.goodContourRate).toBe(0);
    expect(background.meanDiceGood).toBeNull();
    expect(Math.abs(background.pixelAccuracy - 0.984)).toBeLessThan(0.0006);
  });
});

describe('sizeGroups (bySize)', () => {
  const img = (id: string, tp: number, fp: number, fn: number) => ({ id, case: 'A', dice: tp + fp + fn === 0 ? 1 : (2 * tp) / (2 * tp + fp + fn), confusion: { tp, fp, fn, tn: 1000 } }) as Parameters<typeof sizeGroups>[0][number];

  it('cuts the images with an expert LV into quartiles by its area, with each group’s share of the Dice loss', () => {
    // Expert areas (tp + fn) 10, 20, …, 80; no-LV images (area 0) are left out.
    const images = [
      img('a', 0, 0, 10), // area 10, drawn nothing: Dice 0
      img('b', 10, 30, 10), // area 20, drawn 40: Dice 1/3
      img('c', 30, 0, 0),
      img('d', 40, 0, 0),
      img('e', 45, 5, 5), // area 50, Dice 0.9
      img('f', 60, 0, 0),
      img('g', 70, 0, 0),
      img('h', 80, 0, 0),
      img('none', 0, 0, 0),
    ];
    const groups = sizeGroups(images);
    const loss = 1 + 2 / 3 + 0.1;
    expect(groups.map((g) => [g.minAreaPx, g.maxAreaPx, g.images])).toEqual([[10, 20, 2], [30, 40, 2], [50, 60, 2], [70, 80, 2]]);
    expect(groups[0]).toEqual({ minAreaPx: 10, maxAreaPx: 20, images: 2, meanDice: expect.closeTo(1 / 6, 12), lossShare: expect.closeTo((1 + 2 / 3) / loss, 12), diceBelowHalf: 2, emptyPredictions: 1, medianAreaRatio: 2 });
    expect(groups[2]).toMatchObject({ meanDice: expect.closeTo(0.95, 12), lossShare: expect.closeTo(0.1 / loss, 12), diceBelowHalf: 0, emptyPredictions: 0, medianAreaRatio: 1 });
    expect(groups.reduce((a, g) => a + g.lossShare, 0)).toBeCloseTo(1, 12);
  });

  it('keeps tied areas in one group (a cut never splits equal areas) and says nothing for no LV at all', () => {
    const tied = ['a', 'b', 'c', 'd', 'e'].map((id) => img(id, 50, 0, 0)).concat([img('f', 60, 0, 0), img('g', 70, 0, 0), img('h', 80, 0, 0)]);
    const groups = sizeGroups(tied);
    expect(groups.map((g) => [g.minAreaPx, g.maxAreaPx, g.images])).toEqual([[50, 50, 5], [60, 60, 1], [70, 80, 2]]);
    expect(sizeGroups([img('none', 0, 0, 0)])).toEqual([]);
  });

  it('is part of the report evaluateCases gives', () => {
    const square = rectMask(20, 20, 5, 5, 14, 14);
    const report = evaluateCases([{ id: 'x', case: 'A', pred: square, truth: square }]);
    expect(report.bySize).toEqual([{ minAreaPx: 100, maxAreaPx: 100, images: 1, meanDice: 1, lossShare: 0, diceBelowHalf: 0, emptyPredictions: 0, medianAreaRatio: 1 }]);
  });
});
