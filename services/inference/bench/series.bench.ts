/**
 * How long a whole labelled series takes to be answered by POST /segment/series: each Sunnybrook patient of
 * `<data>/sunnybrook-dicom/manifest.csv` is one series (its DICOMs as `files`, its expert contours as `labels`), posted
 * one request at a time, `--repeat` times after one warm-up. Prints per patient the request time (min / median / max),
 * the service's own stage timings (median), its CPU time per series, and the model's and expert's EF.
 *
 * Without --url it starts the built service (`dist/services/inference/src/main.js`, same environment: the configured
 * store, LVSEG_ENGINE, LVSEG_ORT_THREADS…) on a free port and stops it at the end (bench-service.ts).
 *
 *   npm run build && npm run bench:series -- [--url http://host:port] [--repeat 5] [--model <version>] [--no-labels] [--json]
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@lvseg/config';
import { BenchService, cpuSeconds, runningService, startBuiltService } from './bench-service';
import { readCsvRecords } from '@lvseg/imaging';

interface Options {
  url?: string;
  repeat: number;
  model?: string;
  labels: boolean;
  json: boolean;
  data: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { repeat: 5, labels: true, json: false, data: join(loadConfig().dataDir, 'sunnybrook-dicom') };
  for (let i = 0; i < argv.length; i++) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--url') (o.url = v), i++;
    else if (k === '--repeat') (o.repeat = Number(v)), i++;
    else if (k === '--model') (o.model = v), i++;
    else if (k === '--data') (o.data = v), i++;
    else if (k === '--no-labels') o.labels = false;
    else if (k === '--json') o.json = true;
    else throw new Error(`unknown option ${k}`);
  }
  if (!(Number.isInteger(o.repeat) && o.repeat > 0)) throw new Error('--repeat takes a positive integer');
  return o;
}

/** One patient's series: its DICOMs named `<InstanceNumber>.dcm` and contours named `<InstanceNumber>.txt`. */
interface Series {
  patient: string;
  parts: Array<{ field: 'files' | 'labels'; name: string; bytes: Buffer }>;
  images: number;
  bytes: number;
}

function loadSeries(dir: string, labels: boolean): Series[] {
  const byPatient = new Map<string, Series>();
  for (const v of readCsvRecords(join(dir, 'manifest.csv'))) {
    const [patient, image, contour, n] = [v.case, v.image, v.contour, v.instance_number];
    const s = byPatient.get(patient) ?? { patient, parts: [], images: 0, bytes: 0 };
    s.parts.push({ field: 'files', name: `${n}.dcm`, bytes: readFileSync(join(dir, image)) });
    if (labels) s.parts.push({ field: 'labels', name: `${n}.txt`, bytes: readFileSync(join(dir, contour)) });
    s.images++;
    byPatient.set(patient, s);
  }
  for (const s of byPatient.values()) s.bytes = s.parts.reduce((n, p) => n + p.bytes.length, 0);
  return [...byPatient.values()];
}

interface SeriesAnswer {
  images: Array<{ label?: { dice: number } }>;
  function: { ef: number; edvMl: number | null; esvMl: number | null } | null;
  comparison?: { expert: { ef: number; edvMl: number | null; esvMl: number | null } } | null;
  timings: Record<string, number>;
}

async function postSeries(service: BenchService, s: Series, model?: string): Promise<{ ms: number; body: SeriesAnswer }> {
  const form = new FormData();
  for (const p of s.parts) form.append(p.field, new Blob([p.bytes]), p.name);
  const started = performance.now();
  const r = await fetch(`${service.url}/segment/series${model ? `?model=${encodeURIComponent(model)}` : ''}`, { method: 'POST', body: form });
  const body = (await r.json()) as SeriesAnswer & { error?: { code: string; message: string } };
  const ms = performance.now() - started;
  if (!r.ok) throw new Error(`${s.patient}: ${r.status} ${body.error?.code}: ${body.error?.message}`);
  return { ms, body };
}

const round = (v: number, digits = 1) => Number(v.toFixed(digits));
const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

interface PatientResult {
  patient: string;
  images: number;
  megabytes: number;
  requestMs: { min: number; median: number; max: number };
  /** Median of each stage the service reports. */
  stagesMs: Record<string, number>;
  cpuMsPerSeries?: number;
  efModel: number | null;
  efExpert: number | null;
  edvMl: { model: number | null; expert: number | null };
  esvMl: { model: number | null; expert: number | null };
  meanDice: number | null;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const series = loadSeries(o.data, o.labels);
  const service = o.url ? runningService(o.url) : await startBuiltService({ notReadyHint: 'no production model in the configured store?' });
  try {
    const ready = (await (await fetch(`${service.url}/health/ready`)).json()) as { version?: string; architecture?: string; engine?: Record<string, unknown> };
    const header = {
      service: service.describe,
      model: o.model ?? `${ready.version} (${ready.architecture})`,
      engine: ready.engine,
      cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
      loadAvgAtStart: loadavg().map((v) => round(v, 2)),
      series: `${series.length} patients from ${o.data}${o.labels ? ', with their contours' : ''}`,
      repeat: o.repeat,
    };
    if (!o.json) console.log(JSON.stringify(header, null, 2));
    const results: PatientResult[] = [];
    for (const s of series) {
      await postSeries(service, s, o.model); // warm-up: not recorded
      const times: number[] = [];
      const stages: Record<string, number[]> = {};
      let last: SeriesAnswer | undefined;
      const cpu0 = cpuSeconds(service.pid);
      for (let i = 0; i < o.repeat; i++) {
        const { ms, body } = await postSeries(service, s, o.model);
        times.push(ms);
        for (const [k, v] of Object.entries(body.timings)) (stages[k] ??= []).push(v);
        last = body;
      }
      const cpu1 = cpuSeconds(service.pid);
      const body = last as SeriesAnswer;
      const dices = body.images.map((im) => im.label?.dice).filter((d): d is number => d !== undefined);
      const r: PatientResult = {
        patient: s.patient,
        images: s.images,
        megabytes: round(s.bytes / (1024 * 1024), 2),
        requestMs: { min: round(Math.min(...times)), median: round(median(times)), max: round(Math.max(...times)) },
        stagesMs: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, round(median(v))])),
        cpuMsPerSeries: cpu0 !== undefined && cpu1 !== undefined ? round(((cpu1 - cpu0) * 1000) / o.repeat) : undefined,
        efModel: body.function ? round(body.function.ef, 3) : null,
        efExpert: body.comparison ? round(body.comparison.expert.ef, 3) : null,
        edvMl: { model: body.function?.edvMl ?? null, expert: body.comparison?.expert.edvMl ?? null },
        esvMl: { model: body.function?.esvMl ?? null, expert: body.comparison?.expert.esvMl ?? null },
        meanDice: dices.length ? round(dices.reduce((a, b) => a + b, 0) / dices.length, 3) : null,
      };
      results.push(r);
      if (!o.json) {
        console.log(
          `${r.patient}: ${r.images} images (${r.megabytes} MiB), request ${r.requestMs.min} / ${r.requestMs.median} / ${r.requestMs.max} ms (min / median / max), ` +
            `service CPU ${r.cpuMsPerSeries ?? '?'} ms/series, stages ${JSON.stringify(r.stagesMs)}`,
        );
      }
    }
    if (o.json) {
      console.log(JSON.stringify({ ...header, results }));
      return;
    }
    const v = (x: number | null) => (x === null ? '–' : round(x).toString());
    console.log('\n| patient | images | request ms min / median / max | decode | queue | inference | postprocess | function | service total | service CPU ms | EF model | EF expert | EDV model / expert mL | ESV model / expert mL | mean Dice |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of results) {
      const st = r.stagesMs;
      console.log(
        `| ${r.patient} | ${r.images} | ${r.requestMs.min} / ${r.requestMs.median} / ${r.requestMs.max} | ${st.decodeMs} | ${st.queueMs} | ${st.inferenceMs} | ${st.postprocessMs} | ${st.functionMs} | ${st.totalMs} | ` +
          `${r.cpuMsPerSeries ?? '?'} | ${r.efModel ?? '–'} | ${r.efExpert ?? '–'} | ${v(r.edvMl.model)} / ${v(r.edvMl.expert)} | ${v(r.esvMl.model)} / ${v(r.esvMl.expert)} | ${r.meanDice ?? '–'} |`,
      );
    }
    const all = results.map((r) => r.requestMs.median);
    console.log(`\nmedian request per series over the ${results.length} patients: ${round(median(all))} ms; per image: ${round(median(results.map((r) => r.requestMs.median / r.images)), 2)} ms`);
  } finally {
    await service.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
