/**
 * Load generator for a running inference service (no dependencies beyond Node): POSTs real Sunnybrook DICOMs
 * (round-robin over `<data>/sunnybrook-dicom/manifest.csv`) to /segment at a fixed concurrency and prints latency
 * percentiles, throughput and status counts.
 *
 *   node dist/services/inference/bench/serve.bench.js [--url http://localhost:3000] [--concurrency 8]
 *        [--requests 200 | --duration 20] [--query '?heatmaps=all'] [--warmup 5] [--json]
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { dataRoot } from '@lvseg/common';

interface Options {
  url: string;
  concurrency: number;
  requests?: number;
  durationS?: number;
  query: string;
  warmup: number;
  json: boolean;
  data: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { url: 'http://localhost:3000', concurrency: 1, query: '', warmup: 5, json: false, data: join(dataRoot(), 'sunnybrook-dicom') };
  for (let i = 0; i < argv.length; i++) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--url') (o.url = v), i++;
    else if (k === '--concurrency') (o.concurrency = Number(v)), i++;
    else if (k === '--requests') (o.requests = Number(v)), i++;
    else if (k === '--duration') (o.durationS = Number(v)), i++;
    else if (k === '--query') (o.query = v), i++;
    else if (k === '--warmup') (o.warmup = Number(v)), i++;
    else if (k === '--data') (o.data = v), i++;
    else if (k === '--json') o.json = true;
    else throw new Error(`unknown option ${k}`);
  }
  if (o.requests === undefined && o.durationS === undefined) o.requests = 100;
  return o;
}

function loadDicoms(dir: string): Buffer[] {
  const [header, ...lines] = readFileSync(join(dir, 'manifest.csv'), 'utf8').trim().split(/\r?\n/);
  const col = header.split(',').indexOf('image');
  return lines.map((l) => readFileSync(join(dir, l.split(',')[col])));
}

function post(agent: Agent, url: URL, body: Buffer): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'Content-Type': 'application/dicom', 'Content-Length': body.length } }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const dicoms = loadDicoms(o.data);
  const url = new URL(`/segment${o.query}`, o.url);
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
  let next = 0;
  for (let i = 0; i < o.warmup; i++) await post(agent, url, dicoms[next++ % dicoms.length]);

  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  const started = performance.now();
  const deadline = o.durationS !== undefined ? started + o.durationS * 1000 : Infinity;
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && (o.requests === undefined || issued < o.requests)) {
      issued++;
      const { status, ms } = await post(agent, url, dicoms[next++ % dicoms.length]);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 200) latencies.push(ms);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const elapsedS = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const summary = {
    url: url.href,
    concurrency: o.concurrency,
    requests: issued,
    statuses,
    elapsedS: Number(elapsedS.toFixed(2)),
    reqPerS: Number((issued / elapsedS).toFixed(1)),
    p50Ms: Number(percentile(latencies, 50).toFixed(1)),
    p90Ms: Number(percentile(latencies, 90).toFixed(1)),
    p99Ms: Number(percentile(latencies, 99).toFixed(1)),
    meanMs: Number((latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length)).toFixed(1)),
  };
  if (o.json) console.log(JSON.stringify(summary));
  else
    console.log(
      `${summary.url}  concurrency ${summary.concurrency}  ${summary.requests} requests in ${summary.elapsedS} s  ` +
        `${summary.reqPerS} req/s  p50 ${summary.p50Ms} ms  p90 ${summary.p90Ms} ms  p99 ${summary.p99Ms} ms  statuses ${JSON.stringify(statuses)}`,
    );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
