/**
 * Where a served image's inference time goes, in process and without HTTP: for a model version on the onnx engine
 * (`OnnxEngineFactory`, one worker per network), each network's session alone on its own input size, and the whole
 * `segment` call on real Sunnybrook DICOMs (normalisation, localisation, ROI resampling, pasting back, post-processing),
 * for each intra-op thread count. Prints wall and process CPU milliseconds per image (CPU includes the workers').
 * A version carrying `int8-calibration.json` is timed with its float and its INT8 graphs, in alternating blocks.
 *
 *   npm run build && npm run bench:engine -- [--model production] [--threads 1,2] [--runs 40] [--json]
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { dataRoot } from '@lvseg/common';
import { loadConfig } from '@lvseg/config';
import { openConfiguredStore } from '@lvseg/model-store';
import { GrayImage, decodeDicom, readCsvRecords } from '@lvseg/imaging';
import { INT8_CALIBRATION_FILE, initBackend } from '@lvseg/model';
import { loadOnnxRuntime } from '../src/engine/engine-selection';
import { OnnxEngineFactory, OnnxSegmentationEngine } from '../src/engine/onnx-engine';

interface Options {
  model: string;
  threads: number[];
  runs: number;
  json: boolean;
  data: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { model: 'production', threads: [1, 2], runs: 40, json: false, data: join(dataRoot(), 'sunnybrook-dicom') };
  for (let i = 0; i < argv.length; i++) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--model') (o.model = v), i++;
    else if (k === '--threads') (o.threads = v.split(',').map(Number)), i++;
    else if (k === '--runs') (o.runs = Number(v)), i++;
    else if (k === '--data') (o.data = v), i++;
    else if (k === '--json') o.json = true;
    else throw new Error(`unknown option ${k}`);
  }
  if (o.threads.some((t) => !(Number.isInteger(t) && t > 0)) || !(Number.isInteger(o.runs) && o.runs > 0)) throw new Error('--threads and --runs take positive integers');
  return o;
}

function loadImages(dir: string): GrayImage[] {
  return readCsvRecords(join(dir, 'manifest.csv')).map((r) => decodeDicom(readFileSync(join(dir, r.image))).image);
}

/** Wall and process-CPU milliseconds of one block of `runs` calls of `fn`. */
async function timeBlock(runs: number, fn: (k: number) => Promise<unknown>): Promise<{ wallMs: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let k = 0; k < runs; k++) await fn(k);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/**
 * Milliseconds per call of each of `fns` (after 5 warm-up calls each), timed in alternating blocks of 5 calls
 * (A B A B …, `runs` calls each in all) so that variants share the machine's load of the same minutes.
 */
async function timeInterleaved(runs: number, fns: Array<(k: number) => Promise<unknown>>): Promise<Array<{ wallMs: number; cpuMs: number }>> {
  for (const fn of fns) for (let k = 0; k < 5; k++) await fn(k);
  const total = fns.map(() => ({ wallMs: 0, cpuMs: 0 }));
  for (let done = 0; done < runs; done += 5) {
    const n = Math.min(5, runs - done);
    for (const [i, fn] of fns.entries()) {
      const t = await timeBlock(n, (k) => fn(done + k));
      total[i].wallMs += t.wallMs;
      total[i].cpuMs += t.cpuMs;
    }
  }
  return total.map((t) => ({ wallMs: t.wallMs / runs, cpuMs: t.cpuMs / runs }));
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  await initBackend();
  const ort = loadOnnxRuntime();
  if (typeof ort === 'string') throw new Error(ort);
  const loadAtStart = loadavg()[0];
  const store = openConfiguredStore(loadConfig());
  const { card, files } = await store.load(o.model);
  const images = loadImages(o.data);
  // A version with an INT8 calibration is timed in float and in INT8, interleaved; any other in float only.
  const variants = files.has(INT8_CALIBRATION_FILE) ? [false, true] : [false];
  const rows: Array<Record<string, number | string>> = [];
  for (const threads of o.threads) {
    const engines: OnnxSegmentationEngine[] = [];
    for (const int8 of variants) {
      const engine = await new OnnxEngineFactory(ort, { threads, int8 }).create(card, files);
      if (!(engine instanceof OnnxSegmentationEngine)) throw new Error(`${card.version} is not served on onnxruntime: ${(engine as { fallbackReason?: string }).fallbackReason}`);
      engines.push(engine);
    }
    const label = (i: number) => (variants[i] ? 'int8' : 'fp32');
    const timers = engines.map((e) => e.stageTimers());
    for (const [s, stage] of timers[0].entries()) {
      const t = await timeInterleaved(o.runs, timers.map((ts) => () => ts[s].run()));
      t.forEach((r, i) => rows.push({ threads, graph: label(i), what: `${stage.name} session (${stage.size}²)`, wallMs: r.wallMs, cpuMs: r.cpuMs }));
    }
    const whole = await timeInterleaved(o.runs, engines.map((e) => (k: number) => e.segment([images[k % images.length]])));
    whole.forEach((r, i) => rows.push({ threads, graph: label(i), what: 'segment(1 image)', wallMs: r.wallMs, cpuMs: r.cpuMs }));
    for (const e of engines) e.dispose();
  }
  // Other processes share the cores: the 1-minute load average at start and end goes with every figure.
  const load = { start: loadAtStart, end: loadavg()[0] };
  if (o.json) {
    process.stdout.write(JSON.stringify({ model: card.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, load, runs: o.runs, rows }, null, 2) + '\n');
    return;
  }
  process.stdout.write(`model ${card.version} (${card.architecture}) on onnxruntime, ${o.runs} runs after 5 warm-ups${variants.length > 1 ? ', fp32 and int8 in alternating blocks of 5' : ''}, ${cpus().length} × ${cpus()[0]?.model}, load avg ${load.start.toFixed(2)} at start, ${load.end.toFixed(2)} at end\n\n`);
  process.stdout.write('| intra-op threads | graph | what | wall ms | CPU ms |\n| --- | --- | --- | --- | --- |\n');
  for (const r of rows) process.stdout.write(`| ${r.threads} | ${r.graph} | ${r.what} | ${(r.wallMs as number).toFixed(1)} | ${(r.cpuMs as number).toFixed(1)} |\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
