/** `lvseg report`: the pre-modelling data set report ("know the data before modelling"), optionally with a model's EF against the expert's. */
import { resolve } from 'node:path';
import { LvsegError } from '@lvseg/common';
import { formatEfAgreement, ModelEfInput, openDataFolder, writeDataReport } from '@lvseg/report';
import { EvalResult, modelEfInputOf } from './eval';

export interface ReportCommandOptions {
  data: string;
  out: string;
  examples?: number;
  phasesPerSlice?: number;
  /** A model (version, alias or folder): adds the "Model vs expert: ejection fraction" section. */
  model?: string;
  /** The split the model segments (default val). */
  modelSplit?: string;
}

/** `evaluateModel` with its store bound (the CLI passes the configured one; a spec, a fake). */
export type EvaluateModel = (ref: string, data: string, split: string) => Promise<EvalResult>;

/** Writes the report and returns the one-line summary the CLI prints; with `model`, segments `modelSplit` with it first. */
export async function runReport(o: ReportCommandOptions, evaluate?: EvaluateModel): Promise<string> {
  if (!o.out) throw new LvsegError('invalid-input', 'REPORT_OUT_MISSING', '--out <dir> is required');
  let modelEf: ModelEfInput | undefined;
  if (o.model) {
    if (!evaluate) throw new Error('runReport: a model was given but no way to evaluate it'); // a wiring bug, not user input
    openDataFolder(resolve(o.data)); // the data folder's own errors first, as without --model
    const t0 = performance.now();
    modelEf = modelEfInputOf(await evaluate(o.model, o.data, o.modelSplit ?? 'val'), Math.round(performance.now() - t0));
  }
  const { report, htmlPath, jsonPath } = await writeDataReport({ dataDir: o.data, outDir: o.out, examplesPerSplit: o.examples, phasesPerSlice: o.phasesPerSlice, modelEf });
  const im = report.imbalance;
  const m = report.modelEf;
  return (
    `${report.counts.images} images, ${report.counts.cases} cases; mean LV fraction ${(im.meanLvFraction * 100).toFixed(2)} %, ` +
    `all-background pixel accuracy ${(im.allBackgroundPixelAccuracy * 100).toFixed(1)} %; ` +
    `ED/ES/unknown ${report.phases.counts.ED}/${report.phases.counts.ES}/${report.phases.counts.unknown}; ` +
    `${(report.timingMs.total / 1000).toFixed(1)} s\n` +
    (m ? `model ${m.model.version ?? m.model.source} on ${m.split}: mean Dice ${m.meanDice.toFixed(4)}; EF agreement (model − expert): ${formatEfAgreement(m.efAgreement)}\n` : '') +
    `${htmlPath}\n${jsonPath}`
  );
}
