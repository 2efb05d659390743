// Val Dice of the onnx engine with float and with INT8 graphs, by patient: each image segmented alone (as POST
// /segment) by two OnnxEngineFactory engines built from the same version, one with `int8: false`, in alternation (so
// the wall times beside them are taken in the same minutes). A measurement, not serving; the calibration is the
// version's own `int8-calibration.json`, or with --calibrate one measured here on the train split (never on val).
// Usage: npx tsx scripts/int8-eval.ts <version|alias> [--split val] [--calibrate [--every 1] [--weight-bits 8] [--networks localiser,segmenter]] [--json]
// (--calibrate without --networks quantises what `lvseg models quantize` does by default: a cascade's segmenter only.)
import { join } from 'node:path';
import { loadConfig } from '../libs/config/src';
import { loadDataset } from '../libs/imaging/src';
import { INT8_CALIBRATION_FILE, dice, disposeLvModel, evaluateCases, initBackend, lvModelFromFiles } from '../libs/model/src';
import { openConfiguredStore } from '../libs/model-store/src';
import { calibrateModel, requireOnnxRuntime } from '../services/trainer/src/commands/quantize';
import { OnnxEngineFactory, OnnxSegmentationEngine } from '../services/inference/src/engine/onnx-engine';
import { loadavg } from 'node:os';

function arg(name: string, fallback?: string): string | undefined {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? process.argv[k + 1] : fallback;
}

(async () => {
  const loadAtStart = loadavg()[0];
  await initBackend();
  const ref = process.argv[2];
  const split = arg('split', 'val')!;
  const cfg = loadConfig();
  const { card, files } = await openConfiguredStore(cfg).load(ref);
  const data = join(cfg.dataDir, 'sunnybrook-png');
  if (process.argv.includes('--calibrate')) {
    const model = await lvModelFromFiles(files, card);
    const t0 = Date.now();
    const calibration = await calibrateModel(model, card, { data, split: 'train', every: Number(arg('every', '1')), weightBits: Number(arg('weight-bits', '8')) as 7 | 8, networks: arg('networks')?.split(',') });
    disposeLvModel(model);
    process.stderr.write(`calibrated on ${calibration.data.images} train images in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    files.set(INT8_CALIBRATION_FILE, Buffer.from(JSON.stringify(calibration)));
  } else if (!files.has(INT8_CALIBRATION_FILE)) {
    throw new Error(`${card.version} has no ${INT8_CALIBRATION_FILE}: run \`lvseg models quantize ${ref}\` or pass --calibrate`);
  }
  const ort = requireOnnxRuntime();
  const engines = await Promise.all([false, true].map((int8) => new OnnxEngineFactory(ort, { threads: 1, int8 }).create(card, files)));
  for (const e of engines) if (!(e instanceof OnnxSegmentationEngine)) throw new Error(`${card.version} is not served on onnxruntime: ${(e as { fallbackReason?: string }).fallbackReason}`);
  const { items } = loadDataset(data, { splits: [split] });
  const masks: [Array<(typeof items)[number]['mask']>, Array<(typeof items)[number]['mask']>] = [[], []];
  const wall = [0, 0];
  const noLv = [0, 0];
  const agreement: number[] = [];
  for (const [k, it] of items.entries()) {
    // Alternate which engine goes first, so neither always runs right after the other's cache warm-up.
    const order = k % 2 === 0 ? [0, 1] : [1, 0];
    for (const e of order) {
      const t = performance.now();
      const [r] = await engines[e].segment([it.image]);
      wall[e] += performance.now() - t;
      masks[e][k] = r.mask;
      if (!r.lvFound) noLv[e]++;
    }
    const a = masks[0][k].data, b = masks[1][k].data;
    agreement.push(a.some((v) => v) || b.some((v) => v) ? dice(masks[1][k], masks[0][k]) : 1);
  }
  const reports = masks.map((m) => evaluateCases(items.map((it, k) => ({ id: it.id, case: it.case, pred: m[k], truth: it.mask, pixelSpacingMm: it.image.pixelSpacingMm }))));
  for (const e of engines) e.dispose();
  const [fp, q] = reports;
  const rows = fp.perCase.map((c, i) => ({ case: c.case, images: c.images, fp32: c.meanDice, int8: q.perCase[i].meanDice, delta: q.perCase[i].meanDice - c.meanDice }));
  const summary = {
    version: card.version,
    split,
    images: items.length,
    load: { start: loadAtStart, end: loadavg()[0] },
    meanDice: { fp32: fp.meanDice, int8: q.meanDice, delta: q.meanDice - fp.meanDice },
    goodContourRate: { fp32: fp.goodContourRate, int8: q.goodContourRate },
    meanDiceGood: { fp32: fp.meanDiceGood, int8: q.meanDiceGood },
    maskAgreement: { mean: agreement.reduce((s, v) => s + v, 0) / agreement.length, min: Math.min(...agreement) },
    imagesWithoutLv: { fp32: noLv[0], int8: noLv[1] },
    segmentWallMs: { fp32: wall[0] / items.length, int8: wall[1] / items.length },
  };
  if (process.argv.includes('--json')) return void process.stdout.write(JSON.stringify({ ...summary, perCase: rows }, null, 2) + '\n');
  const f = (v: number | null) => (v === null ? '-' : v.toFixed(4));
  process.stdout.write(`${card.version} on ${split} (${items.length} images, each alone), onnx engine 1 thread, load avg ${summary.load.start.toFixed(2)} at start, ${summary.load.end.toFixed(2)} at end\n\n`);
  process.stdout.write('| case | images | Dice fp32 | Dice int8 | Δ |\n| --- | --- | --- | --- | --- |\n');
  for (const r of rows) process.stdout.write(`| ${r.case} | ${r.images} | ${f(r.fp32)} | ${f(r.int8)} | ${r.delta >= 0 ? '+' : ''}${r.delta.toFixed(4)} |\n`);
  process.stdout.write(`\nmean Dice by patient: fp32 ${f(fp.meanDice)}, int8 ${f(q.meanDice)} (Δ ${(q.meanDice - fp.meanDice).toFixed(4)})\n`);
  process.stdout.write(`good contours: fp32 ${(fp.goodContourRate * 100).toFixed(1)} %, int8 ${(q.goodContourRate * 100).toFixed(1)} %; Dice over good: ${f(fp.meanDiceGood)} / ${f(q.meanDiceGood)}\n`);
  process.stdout.write(`int8 vs fp32 masks: mean Dice ${summary.maskAgreement.mean.toFixed(4)}, min ${summary.maskAgreement.min.toFixed(4)}; images answered "no LV": fp32 ${noLv[0]}, int8 ${noLv[1]}\n`);
  process.stdout.write(`segment(1 image) wall, interleaved: fp32 ${summary.segmentWallMs.fp32.toFixed(1)} ms, int8 ${summary.segmentWallMs.int8.toFixed(1)} ms\n`);
})().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
