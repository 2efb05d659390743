import { loadDataset } from '@lvseg/imaging';
import { EvaluationReport, evaluateCases, loadModelByRef, maskOptionsOf, segmentImages } from '@lvseg/model';
import { ModelStore } from '@lvseg/model-store';
import { requireDataDir } from '../store';

export interface EvalResult {
  model: { source: string; version?: string; architecture?: string };
  data: string;
  split: string;
  report: EvaluationReport;
}

/** Evaluate a model on one split of a data set with the serving path (the same masks /segment returns). */
export async function evaluateModel(store: ModelStore, ref: string, data: string, split: string): Promise<EvalResult> {
  const dir = requireDataDir(data);
  const { model, card, source } = await loadModelByRef(store, ref);
  try {
    const { items } = loadDataset(dir, { splits: [split] });
    const mask = maskOptionsOf(card);
    const results = segmentImages(model, items.map((i) => i.image), mask);
    const report = evaluateCases(
      items.map((it, k) => ({ id: it.id, case: it.case, pred: results[k].mask, truth: it.mask, pixelSpacingMm: it.image.pixelSpacingMm })),
    );
    return { model: { source, version: card?.version, architecture: card?.architecture }, data: dir, split, report };
  } finally {
    model.dispose();
  }
}

/** Human-readable evaluation table. */
export function formatEval(r: EvalResult): string {
  const rep = r.report;
  const f = (v: number | null | undefined, d = 4) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));
  const lines = [
    `model ${r.model.version ?? r.model.source} (${r.model.architecture ?? 'unknown arch'})  data ${r.data}  split ${r.split}`,
    '',
    'case                images  mean Dice  pixel acc  good (APD<5mm)  mean APD',
    ...rep.perCase.map(
      (c) => `${c.case.padEnd(20)}${String(c.images).padStart(6)}  ${f(c.meanDice).padStart(9)}  ${f(c.pixelAccuracy).padStart(9)}  ${f(c.goodContourRate, 3).padStart(14)}  ${f(c.meanApdMm, 2).padStart(8)}`,
    ),
    '',
    `images ${rep.images}   mean Dice ${f(rep.meanDice)}   pixel accuracy ${f(rep.pixelAccuracy)}   mean Jaccard ${f(rep.meanJaccard)}`,
    `2009 challenge protocol: good contours (APD < 5 ${rep.apdInPixels ? 'px' : 'mm'}) ${f(rep.goodContourRate * 100, 1)}%   Dice over good ${f(rep.meanDiceGood)}   APD over good ${f(rep.meanApdMmGood, 2)} ${rep.apdInPixels ? 'px' : 'mm'}`,
  ];
  return lines.join('\n');
}
