import { efAgreement, efAgreementPoints, formatEfAgreement, signedPp } from './ef-agreement';

describe('model vs expert EF agreement', () => {
  // Expert 50, 40, 60 %; model 60, 38, 62 %: differences +10, −2, +2 pp, bias +3.33 pp, SD 6.11 pp
  // (squared deviations 44.44 + 28.44 + 1.78 = 74.67, / 2, √), limits 3.33 ± 11.98 = −8.64 and +15.31 pp;
  // r = Σxy / √(Σx² Σy²) = 110 / √(200 × 74.67) = 0.901.
  const cases = [
    { case: 'A', expert: 0.5, model: 0.6 },
    { case: 'B', expert: 0.4, model: 0.38 },
    { case: 'X', expert: 0.55, model: null },
    { case: 'C', expert: 0.6, model: 0.62 },
  ];

  it('takes the patients with both EFs, as fractions, and counts the rest', () => {
    const a = efAgreement(cases);
    expect(a).toMatchObject({ unit: 'fraction', difference: 'model − expert', patients: 4, n: 3 });
    expect(a.bias).toBeCloseTo(0.033333, 6);
    expect(a.sd).toBeCloseTo(0.061101, 6);
    expect(a.lowerLimit).toBeCloseTo(-0.086425, 6);
    expect(a.upperLimit).toBeCloseTo(0.153091, 6);
    expect(a.pearsonR).toBeCloseTo(0.901127, 6);
    expect(efAgreementPoints(cases).map((p) => [p.case, p.meanPct, p.differencePp])).toEqual([
      ['A', expect.closeTo(55, 9), expect.closeTo(10, 9)],
      ['B', expect.closeTo(39, 9), expect.closeTo(-2, 9)],
      ['C', expect.closeTo(61, 9), expect.closeTo(2, 9)],
    ]);
  });

  it('states n, bias, SD, limits and r on one line in signed percentage points', () => {
    expect(formatEfAgreement(efAgreement(cases))).toBe('n = 3 of 4 patients, bias +3.3 pp, SD 6.1 pp, limits of agreement −8.6 to +15.3 pp, Pearson r 0.901');
    expect(formatEfAgreement(efAgreement(cases.slice(0, 2)))).toMatch(/^n = 2 patients, bias \+4\.0 pp/);
    expect(formatEfAgreement(efAgreement([]))).toBe('n = 0 patients: no patient has both an expert and a model EF');
    expect([signedPp(0.012), signedPp(-0.0549), signedPp(0.0004)]).toEqual(['+1.2', '−5.5', '±0.0']);
  });
});
