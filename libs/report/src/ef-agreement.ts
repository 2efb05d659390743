/**
 * Model vs expert ejection fraction as a method comparison (Bland–Altman): the figures `lvseg eval` prints and puts in
 * its JSON, and that the chart of `lvseg eval --plot` and `lvseg report --model` states.
 */
import { BlandAltman, blandAltman } from './stats';

/** One patient's EF from the expert's masks and from the model's, as fractions 0..1; null where it could not be had. */
export interface EfPair {
  case: string;
  expert: number | null;
  model: number | null;
}

/** Bland–Altman of model vs expert EF over the patients with both (fractions; ×100 gives percentage points). */
export interface EfAgreement extends BlandAltman {
  unit: 'fraction';
  difference: 'model − expert';
  /** All patients, including those without both EFs (`n` counts the pairs). */
  patients: number;
}

const hasBoth = (c: EfPair): c is EfPair & { expert: number; model: number } => c.expert !== null && c.model !== null;

/** The agreement figures of the patients where both EFs are known. */
export function efAgreement(cases: readonly EfPair[]): EfAgreement {
  const both = cases.filter(hasBoth);
  return { unit: 'fraction', difference: 'model − expert', patients: cases.length, ...blandAltman(both.map((c) => c.expert), both.map((c) => c.model)) };
}

/** The patients with both EFs, in percent: the points of the Bland–Altman chart. */
export function efAgreementPoints(cases: readonly EfPair[]): Array<{ case: string; expertPct: number; modelPct: number; meanPct: number; differencePp: number }> {
  return cases.filter(hasBoth).map((c) => ({
    case: c.case,
    expertPct: c.expert * 100,
    modelPct: c.model * 100,
    meanPct: ((c.expert + c.model) / 2) * 100,
    differencePp: (c.model - c.expert) * 100,
  }));
}

/** A fraction as signed percentage points, `+1.2` / `−5.5` (one decimal). */
export function signedPp(fraction: number): string {
  const v = Number((fraction * 100).toFixed(1));
  return `${v > 0 ? '+' : v < 0 ? '−' : '±'}${Math.abs(v).toFixed(1)}`;
}

/** The agreement as short phrases in percentage points (joined into one line by `formatEfAgreement`). */
export function efAgreementPhrases(a: EfAgreement): string[] {
  const of = a.n === a.patients ? `${a.n} patients` : `${a.n} of ${a.patients} patients`;
  if (a.bias === null) return [`n = ${of}: no patient has both an expert and a model EF`];
  if (a.sd === null || a.lowerLimit === null || a.upperLimit === null) return [`n = ${of}`, `bias ${signedPp(a.bias)} pp`, 'SD, limits and r need 2 patients'];
  return [
    `n = ${of}`,
    `bias ${signedPp(a.bias)} pp`,
    `SD ${(a.sd * 100).toFixed(1)} pp`,
    `limits of agreement ${signedPp(a.lowerLimit)} to ${signedPp(a.upperLimit)} pp`,
    `Pearson r ${a.pearsonR === null ? '– (no spread)' : a.pearsonR.toFixed(3)}`,
  ];
}

/** One line: n, bias, SD, limits of agreement (bias ± 1.96 SD) and Pearson r, in percentage points. */
export function formatEfAgreement(a: EfAgreement): string {
  return efAgreementPhrases(a).join(', ');
}
