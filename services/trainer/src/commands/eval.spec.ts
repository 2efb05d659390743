import { evaluateCases } from '@lvseg/model';
import type { BinaryMask } from '@lvseg/imaging';
import { EvalResult, formatEval, withEjectionFraction } from './eval';
import type { EfItem } from './eval-ef';

const maskOf = (n: number): BinaryMask => {
  const data = new Uint8Array(16 * 16);
  data.fill(1, 0, n);
  return { rows: 16, columns: 16, data };
};

/** Two PNG-set images of case A (slice 2, phases 7 and 18), optionally with a pixel spacing. */
function result(pixelSpacingMm?: [number, number]): EvalResult {
  const items: EfItem[] = [
    { id: 'A/A-IM-0001-0048', case: 'A', imageName: 'A/A-IM-0001-0048', truth: maskOf(50), pred: maskOf(50), pixelSpacingMm },
    { id: 'A/A-IM-0001-0059', case: 'A', imageName: 'A/A-IM-0001-0059', truth: maskOf(100), pred: maskOf(80), pixelSpacingMm },
  ];
  const report = evaluateCases(items.map((it) => ({ id: it.id, case: it.case, pred: it.pred, truth: it.truth, pixelSpacingMm })));
  return { model: { source: 'test' }, data: '/data', split: 'val', ...withEjectionFraction(report, items) };
}

describe('lvseg eval output', () => {
  it('names one APD unit everywhere (px without pixel spacing) and adds EF per case and overall', () => {
    const r = result();
    expect(r.report.apdUnit).toBe('px');
    // Expert EF (100 − 50) / 100 = 0.5, model (80 − 50) / 80 = 0.375: 12.5 percentage points apart.
    expect(r.report.perCase[0].ef).toMatchObject({ unit: 'fraction', expert: 0.5, model: 0.375, absError: 0.125 });
    expect(r.ejectionFraction).toEqual({ unit: 'fraction', meanAbsError: 0.125, patients: 1, patientsWithEf: 1 });
    const text = formatEval(r);
    const [header, row] = text.split('\n').slice(2, 4);
    expect(header).toContain('good (APD<5 px)');
    expect(header).toContain('mean APD (px)');
    expect(header).toContain('EF expert %  EF model %  |ΔEF| pp');
    expect(row).toMatch(/50\.0\s+37\.5\s+12\.5$/);
    expect(text).toContain('2009 challenge protocol (APD in px: the images carry no pixel spacing): good contours (APD < 5 px)');
    expect(text).toMatch(/APD over good \S+ px/);
    expect(text).toContain('mean |EF model − EF expert| 12.5 percentage points over 1 of 1 patients');
    expect(text).not.toMatch(/\bmm\b/);
    // Columns line up with the header.
    expect(row.length).toBe(header.length);
    // The JSON lvseg eval --json prints carries the same unit and EF as fractions.
    const json = JSON.parse(JSON.stringify({ ...r, ...r.report }));
    expect(json).toMatchObject({ apdUnit: 'px', goodApdMm: 5, ejectionFraction: { unit: 'fraction', meanAbsError: 0.125 } });
    expect(json.perCase[0].ef).toMatchObject({ expert: 0.5, model: 0.375, absError: 0.125 });
  });

  it('says mm where every image has a pixel spacing, and why a case has no EF', () => {
    const text = formatEval(result([1.5, 1.5]));
    expect(text).toContain('good (APD<5 mm)');
    expect(text).toContain('mean APD (mm)');
    expect(text).toContain('2009 challenge protocol (APD in mm): good contours (APD < 5 mm)');
    expect(text).not.toMatch(/\bpx\b/);

    const single: EfItem[] = [{ id: 'B/x', case: 'B', imageName: 'B/x.png', truth: maskOf(10), pred: maskOf(10) }];
    const report = evaluateCases(single.map((it) => ({ id: it.id, case: it.case, pred: it.pred, truth: it.truth })));
    const noEf = formatEval({ model: { source: 'test' }, data: '/data', split: 'val', ...withEjectionFraction(report, single) });
    expect(noEf).toContain('mean |EF model − EF expert| - over 0 of 1 patients');
    expect(noEf).toMatch(/no EF for B: expert: no slice\/phase/);
  });
});
