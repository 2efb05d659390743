import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateCases } from '@lvseg/model';
import type { BinaryMask } from '@lvseg/imaging';
import { EvalResult, formatEval, modelEfInputOf, withEjectionFraction, writeEfPlot } from './eval';
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
    // Pooled Dice beside the mean (issue 14: the paper's lab pools it over the set), in the text and the JSON.
    expect(text).toMatch(new RegExp(`mean Dice ${r.report.meanDice.toFixed(4)}   pooled Dice ${r.report.pooledDice.toFixed(4)}   pixel accuracy`));
    expect(json.pooledDice).toBe(r.report.pooledDice);
    expect(json.perCase[0].pooledDice).toEqual(expect.any(Number));
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

  it('adds the Bland–Altman agreement of model and expert EF: --json efAgreement, one text line, the --plot SVG', async () => {
    // Case A: expert 0.5, model 0.375 (−12.5 pp); case B: expert 200/400 = 0.5, model 120/200 = 0.6 (+10 pp); case C: no EF.
    const png = (c: string, frame: number, truth: number, pred: number): EfItem => {
      const id = `${c}/${c}-IM-0001-${String(frame).padStart(4, '0')}`;
      return { id, case: c, imageName: id, truth: maskOf(truth), pred: maskOf(pred) };
    };
    const items = [png('A', 48, 50, 50), png('A', 59, 100, 80), png('B', 48, 100, 80), png('B', 59, 200, 200), { ...png('C', 1, 10, 10), imageName: 'C/x.png' }];
    const report = evaluateCases(items.map((it) => ({ id: it.id, case: it.case, pred: it.pred, truth: it.truth })));
    const r: EvalResult = { model: { source: 'test', version: 'v7', architecture: 'unet-small' }, data: '/data/sunnybrook-png', split: 'val', ...withEjectionFraction(report, items) };
    // Differences −0.125 and +0.1: bias −0.0125, SD √((0.1125² + 0.1125²) / 1) = 0.159099, limits −0.0125 ± 0.311834.
    expect(r.efAgreement).toMatchObject({ unit: 'fraction', difference: 'model − expert', n: 2, patients: 3, bias: expect.closeTo(-0.0125, 12), sd: expect.closeTo(0.159099, 6) });
    expect(r.efAgreement.lowerLimit).toBeCloseTo(-0.324334, 6);
    expect(r.efAgreement.upperLimit).toBeCloseTo(0.299334, 6);
    expect(r.efAgreement.pearsonR).toBeNull(); // the expert EF is 0.5 for both: no spread to correlate
    expect(formatEval(r)).toContain('EF agreement (Bland–Altman, model − expert): n = 2 of 3 patients, bias −1.3 pp, SD 15.9 pp, limits of agreement −32.4 to +29.9 pp, Pearson r – (no spread)');
    expect(JSON.parse(JSON.stringify({ ...r, ...r.report })).efAgreement).toMatchObject({ n: 2, bias: expect.closeTo(-0.0125, 12) });
    expect(modelEfInputOf(r, 1234)).toEqual({
      model: r.model,
      split: 'val',
      images: 5,
      meanDice: r.report.meanDice,
      meanAbsError: expect.closeTo(0.1125, 12),
      evaluationMs: 1234,
      perCase: [
        { case: 'A', images: 2, meanDice: expect.any(Number), expert: 0.5, model: 0.375 },
        { case: 'B', images: 2, meanDice: expect.any(Number), expert: 0.5, model: expect.closeTo(0.6, 12) },
        { case: 'C', images: 1, meanDice: 1, expert: null, model: null, reason: expect.stringMatching(/^expert: no slice\/phase/) },
      ],
    });

    const dir = mkdtempSync(join(tmpdir(), 'lvseg-eval-plot-'));
    try {
      const file = join(dir, 'sub', 'ba.svg');
      await writeEfPlot(r, file);
      const svg = readFileSync(file, 'utf8');
      expect(svg).toMatch(/^<svg role="img" aria-label="Model vs expert: ejection fraction \(Bland–Altman\)\. One point per patient/);
      expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
      expect(svg).toContain('model v7 (unet-small) · split val of sunnybrook-png');
      expect(svg).toContain('n = 2 of 3 patients · bias −1.3 pp · SD 15.9 pp');
      expect(svg).toMatch(/>A<\/text>.*>B<\/text>/);
      expect(svg).not.toMatch(/>C<\/text>/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
