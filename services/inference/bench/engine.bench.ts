/**
 * Where a served image's inference time goes, in process and without HTTP: for a model version on the onnx engine
 * (`OnnxEngineFactory`, one worker per network), each network's session alone on its own input size, and the whole
 * `segment` call on real Sunnybrook DICOMs (normalisation, localisation, ROI resampling, pasting back, post-processing),
 * for each intra-op thread count. Prints wall and process CPU milliseconds per image (CPU includes the workers').
 *
 *   npm run build && npm run bench:engine -- [--model production] [--threads 1,2] [--runs 40] [--json]
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { dataRoot } from '@lvseg/common';
import { loadConfig, openConfiguredStore } from '@lvseg/config';
import { GrayImage, decodeDicom, readCsvRecords } from '@lvseg/imaging';
import { initBackend } from '@lvseg/model';
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

/** Wall and process-CPU milliseconds per call of `fn`, after 5 warm-up calls. */
async function timeCalls(runs: number, fn: (k: number) => Promise<unknown>): Promise<{ wallMs: number; cpuMs: number }> {
  for (let k = 0; k < 5; k++) await fn(k);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let k = 0; k < runs; k++) await fn(k);
  const wallMs = (performance.now() - t0) / runs;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 / runs };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  await initBackend();
  const ort = loadOnnxRuntime();
  if (typeof ort === 'string') throw new Error(ort);
  const store = openConfiguredStore(loadConfig());
  const { card, files } = await store.load(o.model);
  const images = loadImages(o.data);
  const rows: Array<Record<string, number | string>> = [];
  for (const threads of o.threads) {
    const engine = await new OnnxEngineFactory(ort, { threads }).create(card, files);
    if (!(engine instanceof OnnxSegmentationEngine)) throw new Error(`${card.version} is not served on onnxruntime: ${(engine as { fallbackReason?: string }).fallbackReason}`);
    for (const stage of engine.stageTimers()) {
      const t = await timeCalls(o.runs, () => stage.run());
      rows.push({ threads, what: `${stage.name} session (${stage.size}²)`, wallMs: t.wallMs, cpuMs: t.cpuMs });
    }
    const whole = await timeCalls(o.runs, (k) => engine.segment([images[k % images.length]]));
    rows.push({ threads, what: 'segment(1 image)', wallMs: whole.wallMs, cpuMs: whole.cpuMs });
    engine.dispose();
  }
  const load = loadavg()[0];
  if (o.json) {
    process.stdout.write(JSON.stringify({ model: card.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, load, runs: o.runs, rows }, null, 2) + '\n');
    return;
  }
  process.stdout.write(`model ${card.version} (${card.architecture}) on onnxruntime, ${o.runs} runs after 5 warm-ups, ${cpus().length} × ${cpus()[0]?.model}, load avg ${load.toFixed(2)}\n\n`);
  process.stdout.write('| intra-op threads | what | wall ms | CPU ms |\n| --- | --- | --- | --- |\n');
  for (const r of rows) process.stdout.write(`| ${r.threads} | ${r.what} | ${(r.wallMs as number).toFixed(1)} | ${(r.cpuMs as number).toFixed(1)} |\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
