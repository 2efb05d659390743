/** `lvseg report`: writes index.html (self-contained) and report.json about a data set folder. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LvsegError } from '@lvseg/common';
import { renderChartSvg, reportCharts } from './charts';
import { collectDataset, CollectOptions, DEFAULT_COLLECT_OPTIONS, loadRowNamed, pickExamples } from './collect';
import { DataReport, ModelEfInput, summarizeDataset } from './data-report';
import { efAgreement } from './ef-agreement';
import { RenderedChart, RenderedExample, renderReportHtml } from './html';
import { renderOutlinedPng } from './overlay';

export interface DataReportOptions extends Partial<CollectOptions> {
  /** Data set folder with manifest.csv. */
  dataDir: string;
  /** Output folder (created when missing). */
  outDir: string;
  /** Example images per split (default 3: smallest, median and largest LV fraction). */
  examplesPerSplit?: number;
  /** A model's EFs on one split (`lvseg report --model`): adds the "Model vs expert: ejection fraction" section. */
  modelEf?: ModelEfInput;
}

export interface DataReportResult {
  report: DataReport;
  htmlPath: string;
  jsonPath: string;
}

/** Reads the data set, computes the statistics, renders charts and examples, and writes index.html + report.json. */
export async function writeDataReport(options: DataReportOptions): Promise<DataReportResult> {
  const t0 = performance.now();
  const collectOptions: CollectOptions = {
    phasesPerSlice: options.phasesPerSlice ?? DEFAULT_COLLECT_OPTIONS.phasesPerSlice,
    intensityBins: options.intensityBins ?? DEFAULT_COLLECT_OPTIONS.intensityBins,
  };
  if (!(Number.isInteger(collectOptions.phasesPerSlice) && collectOptions.phasesPerSlice > 0)) {
    throw new LvsegError('invalid-input', 'REPORT_OPTION', `phases per slice must be a positive integer, got ${collectOptions.phasesPerSlice}`);
  }
  const collected = collectDataset(resolve(options.dataDir), collectOptions);
  const picked = pickExamples(collected.records, options.examplesPerSplit ?? 3);
  const rowByImage = new Map(collected.manifest.rows.map((row) => [row.image, row]));
  const examples: RenderedExample[] = picked.map((x) => {
    const row = rowByImage.get(x.image);
    if (!row) throw new Error(`example ${x.id} is not in the manifest`); // cannot happen: records come from these rows
    const item = loadRowNamed(collected.manifest, row);
    return { id: x.id, case: x.case, split: x.split, lvFraction: x.lvFraction, cardiacPhase: x.cardiacPhase, png: renderOutlinedPng(item.image, item.mask) };
  });
  const report = summarizeDataset(collected, collectOptions.phasesPerSlice, picked);
  if (options.modelEf) report.modelEf = { ...options.modelEf, efAgreement: efAgreement(options.modelEf.perCase) };
  const t1 = performance.now();

  const charts: RenderedChart[] = [];
  for (const c of reportCharts(report)) charts.push({ id: c.id, title: c.title, caption: c.caption, svg: await renderChartSvg(c.spec, `${c.title}. ${c.caption}`) });
  const t2 = performance.now();
  report.charts = charts.map(({ id, title, caption }) => ({ id, title, caption }));
  report.timingMs = { collect: Math.round(t1 - t0), charts: Math.round(t2 - t1), total: Math.round(t2 - t0) };

  try {
    mkdirSync(options.outDir, { recursive: true });
  } catch (e) {
    throw new LvsegError('invalid-input', 'REPORT_OUT_DIR', `cannot create output folder ${options.outDir}: ${(e as Error).message}`);
  }
  const htmlPath = join(options.outDir, 'index.html');
  const jsonPath = join(options.outDir, 'report.json');
  writeFileSync(htmlPath, renderReportHtml(report, charts, examples));
  writeFileSync(jsonPath, JSON.stringify(report, null, 2) + '\n');
  return { report, htmlPath, jsonPath };
}
