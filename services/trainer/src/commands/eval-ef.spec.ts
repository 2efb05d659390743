import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { dataRoot } from '@lvseg/common';
import { BinaryMask, loadDataset } from '@lvseg/imaging';
import { caseEjectionFraction, EfItem, ejectionFractionByCase } from './eval-ef';

/** A 32 × 32 mask with its first `n` pixels set. */
const maskOf = (n: number): BinaryMask => {
  const data = new Uint8Array(32 * 32);
  data.fill(1, 0, n);
  return { rows: 32, columns: 32, data };
};

/** A Sunnybrook PNG-set image: frame N of `case`, expert and model LV pixel counts. */
const png = (caseId: string, frame: number, truthPx: number, predPx: number): EfItem => {
  const name = `${caseId}-IM-0001-${String(frame).padStart(4, '0')}`;
  return { id: `${caseId}/${name}`, case: caseId, imageName: `${caseId}/${name}`, truth: maskOf(truthPx), pred: maskOf(predPx) };
};

describe('ejection fraction per case for lvseg eval', () => {
  it('places PNG images by their file names and compares the model with the expert', () => {
    // Slices 2 and 3 (frames 48/59, 68/79), phases 7 and 18. Expert: ED 200 + 180, ES 100 + 80 → EF 200/380.
    // Model: ED 190 + 170, ES 110 + 90 → EF 160/360.
    const items = [png('A', 48, 100, 110), png('A', 59, 200, 190), png('A', 68, 80, 90), png('A', 79, 180, 170)];
    const ef = caseEjectionFraction(items);
    expect(ef).toMatchObject({ unit: 'fraction', placement: 'file-name', volumesMl: null, notes: [] });
    expect(ef.expert).toBeCloseTo(200 / 380, 12);
    expect(ef.model).toBeCloseTo(160 / 360, 12);
    expect(ef.absError).toBeCloseTo(200 / 380 - 160 / 360, 12);
    expect(ef.reason).toBeUndefined();
    expect(ef.method).toMatch(/ratio of the pixel area sums/);
  });

  it('places DICOM images by their geometry and gives volumes in mL with a pixel spacing', () => {
    // Two axial slices 10 mm apart, ED (trigger 900) and ES (trigger 300); 1 mm² pixels.
    const dicom = (slice: number, trigger: number, truthPx: number, predPx: number): EfItem => ({
      id: `D/${slice}-${trigger}`,
      case: 'D',
      imageName: `D/${slice * 20 + (trigger > 500 ? 19 : 7)}`,
      truth: maskOf(truthPx),
      pred: maskOf(predPx),
      pixelSpacingMm: [1, 1],
      acquisition: { imagePositionPatient: [0, 0, 10 * slice], imageOrientationPatient: [1, 0, 0, 0, 1, 0], triggerTimeMs: trigger, sliceThicknessMm: 8 },
    });
    // Expert: ED (500 + 300) mm² × 10 mm = 8 mL, ES (200 + 200) → 4 mL, EF 0.5. Model: ED 9 mL, ES 3 mL, EF 2/3.
    const ef = caseEjectionFraction([dicom(0, 900, 500, 600), dicom(0, 300, 200, 200), dicom(1, 900, 300, 300), dicom(1, 300, 200, 100)]);
    expect(ef.placement).toBe('dicom-geometry');
    expect(ef.expert).toBeCloseTo(0.5, 12);
    expect(ef.model).toBeCloseTo(2 / 3, 12);
    expect(ef.volumesMl).toEqual({ expert: { edv: 8, esv: 4 }, model: { edv: 9, esv: 3 } });
  });

  it('gives null with a reason where EF cannot be had, and averages the rest', () => {
    const noNames: EfItem[] = ['x', 'y'].map((n) => ({ id: `C/${n}`, case: 'C', imageName: `C/${n}.png`, truth: maskOf(10), pred: maskOf(10) }));
    const emptyModel = [png('E', 48, 100, 0), png('E', 59, 200, 0)];
    const good = [png('A', 48, 100, 100), png('A', 59, 200, 200)]; // EF 0.5 both
    const off = [png('B', 48, 100, 50), png('B', 59, 200, 200)]; // expert 0.5, model 0.75
    const { perCase, summary } = ejectionFractionByCase([...noNames, ...emptyModel, ...good, ...off]);
    expect([...perCase.keys()]).toEqual(['C', 'E', 'A', 'B']);
    expect(perCase.get('C')).toMatchObject({ expert: null, model: null, absError: null, placement: null });
    expect(perCase.get('C')?.reason).toMatch(/neither DICOM geometry nor a Sunnybrook IM-0001-NNNN file name/);
    expect(perCase.get('E')).toMatchObject({ expert: 0.5, model: null, absError: null });
    expect(perCase.get('E')?.reason).toMatch(/^model: LV_EMPTY_VOLUME/);
    expect(summary).toEqual({ unit: 'fraction', meanAbsError: expect.closeTo(0.125, 12), patients: 4, patientsWithEf: 2 });
    expect(ejectionFractionByCase(noNames).summary.meanAbsError).toBeNull();
  });
});

describe('ejection fraction on the real Sunnybrook DICOM set', () => {
  const dir = join(dataRoot(), 'sunnybrook-dicom');
  const present = existsSync(join(dir, 'manifest.csv'));
  if (!present) {
    if (process.env.CI === 'true') it('needs ../shared/data/sunnybrook-dicom under CI', () => expect(dir).toBe('present'));
    // eslint-disable-next-line no-console
    else console.warn(`skipping the real Sunnybrook DICOM EF spec: ${dir}/manifest.csv not found (set LVSEG_DATA_DIR)`);
  }
  const maybe = present ? it : it.skip;

  maybe('reads geometry through the dataset loader and scores the expert masks against themselves as 0 error', () => {
    const { items } = loadDataset(dir, { splits: ['val'] });
    const ef = ejectionFractionByCase(items.map((it) => ({ id: it.id, case: it.case, imageName: it.id, truth: it.mask, pred: it.mask, pixelSpacingMm: it.image.pixelSpacingMm, acquisition: it.acquisition })));
    expect(ef.summary).toEqual({ unit: 'fraction', meanAbsError: 0, patients: 2, patientsWithEf: 2 });
    for (const c of ef.perCase.values()) {
      expect(c.placement).toBe('dicom-geometry');
      // Heart-failure patients: an enlarged LV with a low EF (plausibility, not an oracle).
      expect(c.volumesMl?.expert.edv).toBeGreaterThan(80);
      expect(c.volumesMl?.expert.edv).toBeLessThan(400);
      expect(c.expert).toBeGreaterThan(0.05);
      expect(c.expert).toBeLessThan(0.6);
    }
  });
});
