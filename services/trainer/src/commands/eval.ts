import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { LvsegError } from '@lvseg/common';
import { loadDataset } from '@lvseg/imaging';
import { EvaluationReport, disposeLvModel, evaluateCases, loadLvModelByRef, maskOptionsOf, segmentCases } from '@lvseg/model';
import { ModelStore } from '@lvseg/model-store';
import { EfAgreement, efAgreement, EfPair, efBlandAltmanChart, formatEfAgreement, ModelEfInput, modelEfContext, renderChartSvg } from '@lvseg/report';
import { requireDataDir } from '../store';
import { CaseEf, EfItem, EfSummary, ejectionFractionByCase } from './eval-ef';
import { protocolSplits } from './train';

/**
 * The pseudo-split `lvseg eval --split paper-holdout`: the paper protocol's seeded per-image 10 % holdout of split=train,
 * the same images `lvseg train --protocol paper` selects on (so its per-image number can be re-measured).
 */
export const PAPER_HOLDOUT_SPLIT = 'paper-holdout';

/** The evaluation report with each case's ejection fraction (expert vs model) added. */
export type EvalReport = Omit<EvaluationReport, 'perCase'> & { perCase: Array<EvaluationReport['perCase'][number] & { ef: CaseEf }> };

export interface EvalResult {
  model: { source: string; version?: string; architecture?: string };
  data: string;
  split: string;
  report: EvalReport;
  /** Mean |model − expert| EF over the patients (a fraction; the text table shows percentage points). */
  ejectionFraction: EfSummary;
  /** Bland–Altman of model vs expert EF over the patients with both (fractions): bias, SD, limits of agreement, Pearson r. */
  efAgreement: EfAgreement;
}

/** Each patient's expert and model EF (fractions), as the agreement figures and the Bland–Altman chart take them. */
export function efPairsOf(report: EvalReport): EfPair[] {
  return report.perCase.map((c) => ({ case: c.case, expert: c.ef.expert, model: c.ef.model }));
}

/** Adds the per-case EF of the images `efItems` to an evaluation report (the reporting half of `evaluateModel`). */
export function withEjectionFraction(report: EvaluationReport, efItems: readonly EfItem[]): { report: EvalReport; ejectionFraction: EfSummary; efAgreement: EfAgreement } {
  const ef = ejectionFractionByCase(efItems);
  const withEf: EvalReport = { ...report, perCase: report.perCase.map((c) => ({ ...c, ef: ef.perCase.get(c.case) as CaseEf })) };
  return { report: withEf, ejectionFraction: ef.summary, efAgreement: efAgreement(efPairsOf(withEf)) };
}

/** What `lvseg report --model` puts in its "Model vs expert: ejection fraction" section, from an evaluation. */
export function modelEfInputOf(r: EvalResult, evaluationMs?: number): ModelEfInput {
  return {
    model: r.model,
    split: r.split,
    images: r.report.images,
    meanDice: r.report.meanDice,
    meanAbsError: r.ejectionFraction.meanAbsError,
    ...(evaluationMs !== undefined ? { evaluationMs } : {}),
    perCase: r.report.perCase.map((c) => ({ case: c.case, images: c.images, meanDice: c.meanDice, expert: c.ef.expert, model: c.ef.model, ...(c.ef.reason ? { reason: c.ef.reason } : {}) })),
  };
}

/** Writes the Bland–Altman plot of model vs expert EF as a standalone SVG file (`lvseg eval --plot`). */
export async function writeEfPlot(r: EvalResult, file: string): Promise<void> {
  const chart = efBlandAltmanChart(efPairsOf(r.report), { context: `${modelEfContext(r)} of ${basename(r.data)}` });
  const svg = await renderChartSvg(chart.spec, `${chart.title}. ${chart.caption}`);
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, svg + '\n');
  } catch (e) {
    throw new LvsegError('invalid-input', 'EVAL_PLOT_WRITE', `cannot write the plot to ${file}: ${(e as Error).message}`);
  }
}

/** Evaluate a model on one split of a data set with the serving path (the same masks /segment returns). */
export async function evaluateModel(store: ModelStore, ref: string, data: string, split: string, opts: { series?: boolean; onProgress?: (done: number, total: number) => void } = {}): Promise<EvalResult> {
  const dir = requireDataDir(data);
  const { model, card, source } = await loadLvModelByRef(store, ref);
  try {
    const { manifest, items } =
      split === PAPER_HOLDOUT_SPLIT ? (({ manifest, select }) => ({ manifest, items: select }))(protocolSplits(dir, 'paper')) : loadDataset(dir, { splits: [split] });
    if (items.length === 0) {
      const splits = [...new Set(manifest.rows.map((r) => r.split))];
      throw new LvsegError('not-found', 'SPLIT_NOT_FOUND', `${dir} has no images in split "${split}"; its splits: ${splits.join(', ') || '(none)'}${splits.includes('train') ? ` (and ${PAPER_HOLDOUT_SPLIT}, the paper protocol's per-image holdout of train)` : ''}`);
    }
    const mask = maskOptionsOf(card);
    // As a series: each case's images together (the PACS path and the series endpoint), so a cascade can use the
    // series' consensus LV position; alone: every image on its own, as POST /segment.
    const results = await segmentCases(model, items, mask, { series: opts.series, onProgress: opts.onProgress });
    const report = evaluateCases(
      items.map((it, k) => ({ id: it.id, case: it.case, pred: results[k].mask, truth: it.mask, pixelSpacingMm: it.image.pixelSpacingMm })),
    );
    const efItems = items.map((it, k) => ({ id: it.id, case: it.case, imageName: it.id, pred: results[k].mask, truth: it.mask, pixelSpacingMm: it.image.pixelSpacingMm, acquisition: it.acquisition }));
    return { model: { source, version: card?.version, architecture: card?.architecture }, data: dir, split, ...withEjectionFraction(report, efItems) };
  } finally {
    disposeLvModel(model);
  }
}

/** Human-readable evaluation table: APD in the report's unit (mm, or px without pixel spacing), EF in percent. */
export function formatEval(r: EvalResult): string {
  const rep = r.report;
  const unit = rep.apdUnit;
  const f = (v: number | null | undefined, d = 4) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));
  const pct = (v: number | null) => (v === null ? '-' : (v * 100).toFixed(1));
  const good = `good (APD<${rep.goodApdMm} ${unit})`;
  const apd = `mean APD (${unit})`;
  const ef = r.ejectionFraction;
  const withoutEf = rep.perCase.filter((c) => c.ef.absError === null);
  const lines = [
    `model ${r.model.version ?? r.model.source} (${r.model.architecture ?? 'unknown arch'})  data ${r.data}  split ${r.split}`,
    '',
    `case                images  mean Dice  pixel acc  ${good}  ${apd}  EF expert %  EF model %  |ΔEF| pp`,
    ...rep.perCase.map(
      (c) =>
        `${c.case.padEnd(20)}${String(c.images).padStart(6)}  ${f(c.meanDice).padStart(9)}  ${f(c.pixelAccuracy).padStart(9)}  ${f(c.goodContourRate, 3).padStart(good.length)}  ${f(c.meanApdMm, 2).padStart(apd.length)}` +
        `  ${pct(c.ef.expert).padStart(11)}  ${pct(c.ef.model).padStart(10)}  ${pct(c.ef.absError).padStart(8)}`,
    ),
    '',
    `images ${rep.images}   mean Dice ${f(rep.meanDice)}   pooled Dice ${f(rep.pooledDice)}   pixel accuracy ${f(rep.pixelAccuracy)}   mean Jaccard ${f(rep.meanJaccard)}`,
    `2009 challenge protocol (APD in ${unit}${unit === 'px' ? ': the images carry no pixel spacing' : ''}): good contours (APD < ${rep.goodApdMm} ${unit}) ${f(rep.goodContourRate * 100, 1)}%   Dice over good ${f(rep.meanDiceGood)}   APD over good ${f(rep.meanApdMmGood, 2)} ${unit}`,
    `ejection fraction (disc summation, expert masks vs model masks): mean |EF model − EF expert| ${ef.meanAbsError === null ? '-' : `${(ef.meanAbsError * 100).toFixed(1)} percentage points`} over ${ef.patientsWithEf} of ${ef.patients} patients`,
    `EF agreement (Bland–Altman, model − expert): ${formatEfAgreement(r.efAgreement)}`,
    '',
    'by expert LV area, pixels (quartiles)  images  mean Dice  share of the loss  Dice < 0.5  drawn nothing  median area model/expert',
    ...rep.bySize.map(
      (g) =>
        `${`${g.minAreaPx}–${g.maxAreaPx}`.padEnd(38)}${String(g.images).padStart(6)}  ${f(g.meanDice).padStart(9)}  ${`${(g.lossShare * 100).toFixed(1)} %`.padStart(17)}  ${String(g.diceBelowHalf).padStart(10)}  ${String(g.emptyPredictions).padStart(13)}  ${f(g.medianAreaRatio, 2).padStart(24)}`,
    ),
    ...withoutEf.map((c) => `  no EF for ${c.case}: ${c.ef.reason ?? 'unknown'}`),
  ];
  return lines.join('\n');
}
