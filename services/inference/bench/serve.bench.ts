/**
 * Load test of the inference service with autocannon: POSTs real Sunnybrook DICOMs (round-robin over
 * `<data>/sunnybrook-dicom/manifest.csv`) to /segment and prints p50/p90/p99 latency, req/s and status counts for each
 * concurrency, with and without heatmaps, plus the service's CPU time per request and the load average.
 *
 * Without --url it starts the built service itself (`dist/services/inference/src/main.js`, same environment: the
 * configured store, LVSEG_ENGINE, LVSEG_ORT_THREADS…) on a free port and stops it at the end; with --seeded <arch> that
 * service serves an untrained seeded model from a temporary file store instead of the configured store's alias.
 *
 *   npm run build && npm run bench:serve -- [--url http://host:port] [--seeded fcn-paper] [--concurrency 1,8]
 *        [--duration 20] [--queries ',?heatmaps=all'] [--node-arg --cpu-prof] [--json]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { sha256Hex } from '@lvseg/common';
import { loadConfig } from '@lvseg/config';
import { buildModel, modelToFiles } from '@lvseg/model';
import { openModelStore } from '@lvseg/model-store';
import { BenchService as Service, busyShare, cpuSeconds, machineTicks, peakRssMb, runningService, startBuiltService } from './bench-service';
import { readCsvRecords } from '@lvseg/imaging';

// autocannon ships no types; the part used here.
interface Histogram {
  average: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}
interface AutocannonResult {
  latency: Histogram;
  requests: Histogram & { total: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
}
type Autocannon = (opts: {
  url: string;
  connections: number;
  duration?: number;
  amount?: number;
  timeout?: number;
  requests: Array<{ method: 'POST'; path: string; headers: Record<string, string>; body: Buffer }>;
}) => Promise<AutocannonResult>;
// eslint-disable-next-line @typescript-eslint/no-var-requires
const autocannon = require('autocannon') as Autocannon;

interface Options {
  url?: string;
  seeded?: string;
  concurrency: number[];
  durationS: number;
  queries: string[];
  json: boolean;
  data: string;
  /** Extra arguments for the node process of a started service (e.g. --cpu-prof). */
  nodeArgs: string[];
}

function parseArgs(argv: string[]): Options {
  const o: Options = { concurrency: [1, 8], durationS: 20, queries: ['', '?heatmaps=all'], json: false, data: join(loadConfig().dataDir, 'sunnybrook-dicom'), nodeArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--url') (o.url = v), i++;
    else if (k === '--seeded') (o.seeded = v), i++;
    else if (k === '--concurrency') (o.concurrency = v.split(',').map(Number)), i++;
    else if (k === '--duration') (o.durationS = Number(v)), i++;
    else if (k === '--queries') (o.queries = v.split(',')), i++;
    else if (k === '--data') (o.data = v), i++;
    else if (k === '--node-arg') o.nodeArgs.push(v), i++;
    else if (k === '--json') o.json = true;
    else throw new Error(`unknown option ${k}`);
  }
  if (o.concurrency.some((c) => !(Number.isInteger(c) && c > 0)) || !(o.durationS > 0)) throw new Error('--concurrency takes positive integers, --duration a positive number');
  return o;
}

function loadDicoms(dir: string): Buffer[] {
  return readCsvRecords(join(dir, 'manifest.csv')).map((r) => readFileSync(join(dir, r.image)));
}

/** Publishes an untrained seeded model as `production` in a fresh temporary file store; returns the store URI. */
async function seededStore(architecture: string): Promise<{ uri: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'lvseg-bench-store-'));
  const uri = `file://${dir}`;
  const store = openModelStore(uri);
  const model = buildModel(architecture, { seed: 1 });
  try {
    const card = await store.publish({
      architecture,
      parameterCount: model.countParams(),
      inputShape: [256, 256, 1],
      classes: ['background', 'lv'],
      preprocessing: { normalize: { lowPercentile: 0.5, highPercentile: 99.5 }, resize: 'bilinear 256x256' },
      hyperParameters: { seed: 1 },
      data: { manifestSha256: sha256Hex('untrained seed 1'), trainImages: 0, valImages: 0 },
      metrics: { val: { dice: 0, pixelAccuracy: 0 } },
      backend: tf.getBackend(),
      trainingTimeMs: 0,
      gitCommit: 'bench',
      notes: `untrained ${architecture}, seed 1: benchmark fixture`,
      files: await modelToFiles(model),
    });
    await store.setAlias('production', card.version);
  } finally {
    model.dispose();
  }
  return { uri, dir };
}

async function startService(o: Options): Promise<Service> {
  if (!o.seeded) return startBuiltService({ nodeArgs: o.nodeArgs, notReadyHint: 'no production model in the configured store? try --seeded fcn-paper' });
  const s = await seededStore(o.seeded);
  return startBuiltService({
    env: { LVSEG_MODEL_STORE: s.uri },
    nodeArgs: o.nodeArgs,
    note: `untrained seeded ${o.seeded} in ${s.uri}`,
    afterStop: () => rmSync(s.dir, { recursive: true, force: true }),
  });
}

interface ScenarioResult {
  query: string;
  concurrency: number;
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  reqPerS: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  cpuMsPerRequest?: number;
  /** CPU of this benchmark process (autocannon, the load generator), per request: it shares the machine. */
  clientCpuMsPerRequest: number;
  /** Busy share of all cores during the window (the service, the load generator and anything else running). */
  machineBusyPct?: number;
  loadAvg1m: number;
}

async function scenario(service: Service, dicoms: Buffer[], query: string, concurrency: number, durationS: number): Promise<ScenarioResult> {
  const path = `/segment${query}`;
  const requests = dicoms.map((body) => ({ method: 'POST' as const, path, headers: { 'content-type': 'application/dicom' }, body }));
  // Warm-up: every connection once or twice (kernel caches, JIT, the batching path), not recorded.
  await autocannon({ url: service.url, connections: concurrency, amount: Math.max(4, concurrency * 2), requests, timeout: 120 });
  const cpu0 = cpuSeconds(service.pid);
  const client0 = process.cpuUsage();
  const ticks0 = machineTicks();
  const r = await autocannon({ url: service.url, connections: concurrency, duration: durationS, requests, timeout: 120 });
  const cpu1 = cpuSeconds(service.pid);
  const client = process.cpuUsage(client0);
  const busy = busyShare(ticks0, machineTicks());
  const total = r['2xx'] + r.non2xx;
  return {
    query: query || '(none)',
    concurrency,
    requests: total,
    ok: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    reqPerS: round(r['2xx'] / r.duration, 1),
    p50Ms: r.latency.p50,
    p90Ms: r.latency.p90,
    p99Ms: r.latency.p99,
    cpuMsPerRequest: cpu0 !== undefined && cpu1 !== undefined && total > 0 ? round(((cpu1 - cpu0) * 1000) / total, 1) : undefined,
    clientCpuMsPerRequest: total > 0 ? round((client.user + client.system) / 1000 / total, 1) : 0,
    machineBusyPct: busy === undefined ? undefined : round(busy * 100, 0),
    loadAvg1m: round(loadavg()[0], 2),
  };
}

/** Mean per-stage timings the service reports (`timings`), over sequential requests. */
async function stageTimings(service: Service, dicoms: Buffer[], n = 24): Promise<Record<string, number>> {
  const sums: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${service.url}/segment`, { method: 'POST', headers: { 'content-type': 'application/dicom' }, body: dicoms[i % dicoms.length] });
    const body = (await r.json()) as { timings?: Record<string, number> };
    for (const [k, v] of Object.entries(body.timings ?? {})) sums[k] = (sums[k] ?? 0) + v;
  }
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, round(v / n, 2)]));
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const dicoms = loadDicoms(o.data);
  const service: Service = o.url ? runningService(o.url) : await startService(o);
  try {
    const ready = (await (await fetch(`${service.url}/health/ready`)).json()) as { version?: string; architecture?: string; engine?: Record<string, unknown> };
    const header = {
      service: service.describe,
      model: `${ready.version} (${ready.architecture})`,
      engine: ready.engine,
      cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
      loadAvgAtStart: loadavg().map((v) => round(v, 2)),
      dicoms: `${dicoms.length} from ${o.data}`,
      durationS: o.durationS,
    };
    if (!o.json) console.log(JSON.stringify(header, null, 2));
    // Before the load: afterwards, requests autocannon gave up on may still be queued (heatmaps take seconds).
    const stages = await stageTimings(service, dicoms);
    const results: ScenarioResult[] = [];
    for (const query of o.queries) {
      for (const c of o.concurrency) {
        const r = await scenario(service, dicoms, query, c, o.durationS);
        results.push(r);
        if (!o.json) {
          console.log(
            `/segment${query} concurrency ${c}: ${r.reqPerS} req/s, p50 ${r.p50Ms} ms, p90 ${r.p90Ms} ms, p99 ${r.p99Ms} ms, ` +
              `${r.ok} ok / ${r.non2xx} non-2xx / ${r.errors} errors, service CPU ${r.cpuMsPerRequest ?? '?'} ms/request, ` +
              `load generator CPU ${r.clientCpuMsPerRequest} ms/request, machine busy ${r.machineBusyPct ?? '?'} %, load ${r.loadAvg1m}`,
          );
        }
      }
    }
    // The service's process, its worker threads (where onnxruntime runs) included.
    const rss = peakRssMb(service.pid);
    const servicePeakRssMb = rss === undefined ? undefined : round(rss, 0);
    if (o.json) console.log(JSON.stringify({ ...header, results, stageTimingsMs: stages, servicePeakRssMb }));
    else {
      console.log('\n| query | concurrency | req/s | p50 ms | p90 ms | p99 ms | ok | non-2xx | service CPU ms/req | load generator CPU ms/req | machine busy % | load avg (1 min) |');
      console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
      for (const r of results) console.log(`| ${r.query} | ${r.concurrency} | ${r.reqPerS} | ${r.p50Ms} | ${r.p90Ms} | ${r.p99Ms} | ${r.ok} | ${r.non2xx} | ${r.cpuMsPerRequest ?? '?'} | ${r.clientCpuMsPerRequest} | ${r.machineBusyPct ?? '?'} | ${r.loadAvg1m} |`);
      console.log(`\nmean stage timings of 24 sequential requests before the load (ms): ${JSON.stringify(stages)}`);
      if (servicePeakRssMb !== undefined) console.log(`service peak resident memory (VmHWM): ${servicePeakRssMb} MB`);
    }
  } finally {
    await service.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
