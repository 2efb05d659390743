/**
 * Backfill throughput: series per minute for 1 and 2 `lvseg worker` processes on this machine, the workers' CPU per
 * series, and Orthanc's WADO-RS rate (how fast the PACS hands out series, alone), on a real redis-server and a real
 * Orthanc started here (temporary folders, loopback, free ports). The Sunnybrook DICOM patients are stored `--copies`
 * times each under new Study/Series/SOP UIDs, so every run has the same number of fresh series; each run backfills a
 * new copy of the shipped model (a new version id: nothing is "already segmented"). Prints the load average, since
 * the machine may be shared (a training run).
 *
 *   npm run build && npm run bench:backfill -- [--copies 4] [--workers 1,2] [--json]
 *
 * Throughput is given twice: over the whole run (model load included) and steady (from the moment every worker has
 * finished its first series, i.e. loaded its model, to the last series).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dcmjs from 'dcmjs';
import pino from 'pino';
import { dataRoot, repoRoot } from '@lvseg/common';
import { loadConfig } from '@lvseg/config';
import { readCsvRecords } from '@lvseg/imaging';
import { openModelStore } from '@lvseg/model-store';
import { backfillSeries, waitForJobs } from '../src/pacs/queue/backfill';
import { BullmqSeriesJobQueue } from '../src/pacs/queue/bullmq-series-job-queue';
import { searchSeries } from '../src/pacs/queue/pacs-series-search';
import { cpuSeconds } from './bench-service';
import { startOrthanc } from './support/orthanc';
import { startRedis } from './support/redis';
import { waitUntil } from './support/wait-until';

interface Options {
  copies: number;
  workers: number[];
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { copies: 4, workers: [1, 2], json: false };
  for (let i = 0; i < argv.length; i++) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--copies') (o.copies = Number(v)), i++;
    else if (k === '--workers') (o.workers = v.split(',').map(Number)), i++;
    else if (k === '--json') o.json = true;
    else throw new Error(`unknown option ${k}`);
  }
  if (!(Number.isInteger(o.copies) && o.copies > 0)) throw new Error('--copies takes a positive integer');
  if (!o.workers.every((w) => Number.isInteger(w) && w > 0)) throw new Error('--workers takes a comma list of positive integers');
  return o;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** CPU seconds a child has used so far (user + system; `cpuSeconds`, which answers undefined for a gone process). */
const cpuSecondsOf = (pid: number): number => {
  const s = cpuSeconds(pid);
  if (s === undefined) throw new Error(`process ${pid} is gone: its CPU time cannot be read`);
  return s;
};
const newUid = () => `2.25.${BigInt(`0x${randomBytes(15).toString('hex')}`)}`;

interface Started {
  child: ChildProcess;
  stop(): Promise<void>;
}

function started(child: ChildProcess): Started {
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** The Sunnybrook patients' DICOMs, stored `copies` times each with new Study/Series/SOP UIDs; returns the series count. */
async function storeCopies(orthanc: { url: string; authorization: string }, copies: number): Promise<{ series: number; images: number; bytes: number }> {
  const dir = join(dataRoot(), 'sunnybrook-dicom');
  const byPatient = new Map<string, string[]>();
  for (const r of readCsvRecords(join(dir, 'manifest.csv'))) byPatient.set(r.case, [...(byPatient.get(r.case) ?? []), join(dir, r.image)]);
  let images = 0;
  let bytes = 0;
  for (let c = 0; c < copies; c++) {
    for (const files of byPatient.values()) {
      const [study, series] = [newUid(), newUid()];
      for (const f of files) {
        const b = readFileSync(f);
        const dict = dcmjs.data.DicomMessage.readFile(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
        const sop = newUid();
        dict.dict['0020000D'].Value = [study];
        dict.dict['0020000E'].Value = [series];
        dict.dict['00080018'].Value = [sop];
        dict.meta['00020003'].Value = [sop];
        const out = Buffer.from(dict.write());
        const res = await fetch(`${orthanc.url}/instances`, { method: 'POST', body: out, headers: { Authorization: orthanc.authorization, 'Content-Type': 'application/dicom' } });
        if (!res.ok) throw new Error(`storing a copy: HTTP ${res.status}`);
        images++;
        bytes += out.length;
      }
    }
  }
  return { series: copies * byPatient.size, images, bytes };
}

/** Orthanc alone: every MR series retrieved over WADO-RS by `parallel` clients; series/s, MB/s, Orthanc CPU per series. */
async function measureWado(orthanc: { url: string; authorization: string; pid: number }, parallel: number) {
  const list = (await (await fetch(`${orthanc.url}/dicom-web/series?Modality=MR&includefield=0020000D`, { headers: { Authorization: orthanc.authorization, Accept: 'application/dicom+json' } })).json()) as Array<Record<string, { Value?: string[] }>>;
  const refs = list.map((s) => [s['0020000D'].Value![0], s['0020000E'].Value![0]]);
  const cpu0 = cpuSecondsOf(orthanc.pid);
  const t0 = performance.now();
  let bytes = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < refs.length) {
        const [study, series] = refs[next++];
        const res = await fetch(`${orthanc.url}/dicom-web/studies/${study}/series/${series}`, { headers: { Authorization: orthanc.authorization, Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
        const n = (await res.arrayBuffer()).byteLength;
        bytes += n;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { parallel, series: refs.length, seriesPerSecond: refs.length / seconds, mbPerSecond: bytes / 1e6 / seconds, orthancCpuMsPerSeries: ((cpuSecondsOf(orthanc.pid) - cpu0) * 1000) / refs.length };
}

interface WorkerProcess {
  child: ChildProcess;
  lines(): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

function startWorker(env: NodeJS.ProcessEnv): WorkerProcess {
  // The CLI next to this file: dist/…/main.js when built, or the sources when run with a TypeScript loader.
  const main = join(__dirname, '..', '..', 'trainer', 'src', __filename.endsWith('.ts') ? 'main.ts' : 'main.js');
  const child = spawn(process.execPath, [...process.execArgv, main, 'worker'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += String(d)));
  child.stderr?.on('data', (d) => (err += String(d)));
  child.once('exit', (code) => {
    if (code) process.stderr.write(`worker ${child.pid} exited ${code}: ${err.slice(-2000)}\n`);
  });
  const s = started(child);
  return {
    child,
    lines: () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
    stop: s.stop,
  };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const log = pino({ level: 'warn' });
  const stops: Array<() => Promise<void>> = [];
  try {
    const redis = await startRedis();
    stops.push(redis.stop);
    const orthanc = await startOrthanc({ stableAgeSeconds: 1 }); // no webhook: the backfill finds the series itself
    stops.push(orthanc.stop);
    const stored = await storeCopies(orthanc, o.copies);
    process.stderr.write(`stored ${stored.images} images (${(stored.bytes / 1e6).toFixed(1)} MB) in ${stored.series} series\n`);
    await sleep(1500); // StableAge 1 s: every series complete

    const wado = [await measureWado(orthanc, 1), await measureWado(orthanc, 4)];
    const storeDir = mkdtempSync(join(tmpdir(), 'lvseg-bench-models-'));
    stops.push(async () => rmSync(storeDir, { recursive: true, force: true }));
    const store = openModelStore(`file://${storeDir}`, { seedFrom: join(repoRoot(), 'models') });
    const base = await store.load('production');

    const runs = [];
    for (const n of o.workers) {
      const queueName = `bench-${n}-${Date.now()}`;
      const { version: _v, createdAt: _c, files: _f, ...body } = base.card;
      const version = (await store.publish({ ...body, notes: `bench:backfill copy (${n} worker(s))`, files: base.files })).version;
      const env = {
        LVSEG_REDIS_URL: redis.url,
        LVSEG_JOBS_QUEUE: queueName,
        LVSEG_JOBS_RATE_MAX: '100000',
        LVSEG_JOBS_RATE_SECONDS: '1',
        PACS_URL: orthanc.url,
        PACS_USERNAME: orthanc.username,
        PACS_PASSWORD: orthanc.password,
        PACS_WEBHOOK_SECRET: randomBytes(16).toString('hex'),
        LVSEG_MODEL_STORE: `file://${storeDir}`,
        LOG_LEVEL: 'info',
      };
      const workers = Array.from({ length: n }, () => startWorker(env));
      await waitUntil('the workers', () => workers.every((w) => w.lines().some((l) => l.event === 'queue.worker_ready')), 5 * 60_000);
      const queue = new BullmqSeriesJobQueue(loadConfig(env).queue!, async () => version, log);
      const load0 = loadavg()[0];
      const t0 = Date.now();
      const cpu0 = workers.map((w) => cpuSecondsOf(w.child.pid!));
      const r = await backfillSeries(queue, searchSeries({ dicomWebUrl: `${orthanc.url}/dicom-web`, credentials: { username: orthanc.username, password: orthanc.password } }, { modality: 'MR' }), { modelVersion: version });
      const p = await waitForJobs(queue, r.jobIds, { pollMs: 250 });
      const wallS = (Date.now() - t0) / 1000;
      const cpuS = workers.reduce((sum, w, i) => sum + cpuSecondsOf(w.child.pid!) - cpu0[i], 0);
      const finishes = workers.flatMap((w) => w.lines().filter((l) => l.event === 'queue.job_finished' && l.outcome === 'segmented').map((l) => ({ at: Number(l.time), cpuMs: Number(l.cpuMs), pid: w.child.pid })));
      const firstPerWorker = workers.map((w) => Math.min(...finishes.filter((f) => f.pid === w.child.pid).map((f) => f.at)));
      const steadyFrom = Math.max(...firstPerWorker);
      const steady = finishes.filter((f) => f.at > steadyFrom);
      const steadyEnd = Math.max(...finishes.map((f) => f.at));
      runs.push({
        workers: n,
        series: r.found,
        segmented: p.done,
        failed: p.failed,
        wallSeconds: wallS,
        seriesPerMinute: (p.done / wallS) * 60,
        steadySeriesPerMinute: steady.length > 0 && steadyEnd > steadyFrom ? (steady.length / ((steadyEnd - steadyFrom) / 1000)) * 60 : undefined,
        workerCpuSecondsPerSeries: cpuS / p.done,
        steadyWorkerCpuMsPerSeries: steady.length ? steady.reduce((s, f) => s + f.cpuMs, 0) / steady.length : undefined,
        loadAverageBefore: load0,
        loadAverageAfter: loadavg()[0],
      });
      await queue.onApplicationShutdown();
      await Promise.all(workers.map((w) => w.stop()));
    }
    const one = runs.find((x) => x.workers === 1);
    const two = runs.find((x) => x.workers === 2);
    const result = { cores: cpus().length, copies: o.copies, stored, wado, runs, scaling2over1: one && two ? { wall: two.seriesPerMinute / one.seriesPerMinute, steady: two.steadySeriesPerMinute && one.steadySeriesPerMinute ? two.steadySeriesPerMinute / one.steadySeriesPerMinute : undefined } : undefined };
    if (o.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else {
      const f = (x: number | undefined, d = 1) => (x === undefined ? '–' : x.toFixed(d));
      process.stdout.write(`backfill bench: ${stored.series} series (${stored.images} images), ${cpus().length} cores\n`);
      for (const w of wado) process.stdout.write(`Orthanc WADO-RS alone, ${w.parallel} client(s): ${f(w.seriesPerSecond * 60, 0)} series/min, ${f(w.mbPerSecond)} MB/s, Orthanc CPU ${f(w.orthancCpuMsPerSeries, 0)} ms per series\n`);
      for (const r of runs) {
        process.stdout.write(
          `${r.workers} worker(s): ${r.segmented}/${r.series} segmented (${r.failed} failed) in ${f(r.wallSeconds)} s = ${f(r.seriesPerMinute)} series/min (steady ${f(r.steadySeriesPerMinute)}); ` +
            `worker CPU ${f(r.workerCpuSecondsPerSeries, 2)} s per series (steady ${f(r.steadyWorkerCpuMsPerSeries, 0)} ms); load average ${f(r.loadAverageBefore)} → ${f(r.loadAverageAfter)}\n`,
        );
      }
      if (result.scaling2over1) process.stdout.write(`2 workers / 1 worker: ${f(result.scaling2over1.wall, 2)}× (steady ${f(result.scaling2over1.steady, 2)}×)\n`);
    }
  } finally {
    for (const s of stops.reverse()) await s();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
