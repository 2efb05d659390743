/**
 * Training-step benchmark: ms per image of forward + backward + SGD update (batch 4, 256×256×1 input, per-pixel
 * softmax cross-entropy on 2 classes) for each architecture on each backend this process can run; median over the
 * timed steps after warm-up.
 *
 *   npm run build && npm run bench:train -- [--arch fcn-paper,unet-small] [--backends wasm,cpu,tensorflow]
 *                                           [--batch 4] [--steps 10] [--warmup 2] [--profile] [--workers 1,2]
 *
 * --workers N (N ≥ 2) times the data-parallel step of `lvseg train --workers N` (`GradientWorkerPool`: gradients of
 * batch shards on N worker threads, averaged, applied on the main thread); CPU time then includes the workers'.
 *
 * Medians of wall time and of process CPU time (user + system) per step are reported: on a shared machine the CPU
 * time is the honest single-core figure for the single-threaded wasm/cpu backends (tfjs-node uses several threads).
 * On cpu (pure JS, minutes per step) the default is 1 warm-up + 2 timed steps unless --steps/--warmup are given.
 * --profile prints the kernels that take the most time in one step (tf.profile, wall time; kernels nested inside the
 * project's composed kernels are counted again).
 */
import * as tf from '@tensorflow/tfjs';
import { buildModel } from '../src/architectures';
import { initBackend } from '../src/backend';
import { prepareWasm } from '../src/backend/backend';
import { GradientWorkerPool } from '../src/training/data-parallel';
import { segmentationLoss } from '../src/training/loss';

interface BenchOptions {
  archs: string[];
  backends: string[] | null;
  batch: number;
  steps: number;
  warmup: number;
  size: number;
  profile: boolean;
  stepsGiven: boolean;
  workers: number[];
}

/** One measured (architecture, backend) pair. */
export interface BenchRow {
  arch: string;
  backend: string;
  workers: number;
  batch: number;
  steps: number;
  msPerStep: number;
  msPerImage: number;
  minMsPerStep: number;
  /** Process CPU time (user + system): the work done, robust to other load on a shared machine; > wall when threaded. */
  cpuMsPerStep: number;
  cpuMsPerImage: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function parseArgs(argv: string[]): BenchOptions {
  const o: BenchOptions = {
    archs: ['fcn-paper', 'unet-small'],
    backends: null,
    batch: 4,
    steps: 10,
    warmup: 2,
    size: 256,
    profile: false,
    stepsGiven: false,
    workers: [1],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--arch') o.archs = next().split(',');
    else if (a === '--backends') o.backends = next().split(',');
    else if (a === '--batch') o.batch = Number(next());
    else if (a === '--steps') {
      o.steps = Number(next());
      o.stepsGiven = true;
    } else if (a === '--warmup') {
      o.warmup = Number(next());
      o.stepsGiven = true;
    }
    else if (a === '--size') o.size = Number(next());
    else if (a === '--profile') o.profile = true;
    else if (a === '--workers') o.workers = next().split(',').map(Number);
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

/** Backends present in this process, best first. */
async function availableBackends(): Promise<string[]> {
  const out: string[] = [];
  await initBackend(); // the ladder: loads tfjs-node if installed, prepares wasm, registers project kernels
  if (tf.findBackendFactory('tensorflow') !== null) out.push('tensorflow');
  if (typeof prepareWasm() !== 'string' && tf.findBackendFactory('wasm') !== null) out.push('wasm');
  out.push('cpu');
  return out;
}

/** A synthetic batch: images and one-hot labels of a centred disc (content does not change the cost). */
function makeBatch(batch: number, size: number): { x: tf.Tensor4D; y: tf.Tensor4D } {
  return tf.tidy(() => {
    const x = tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', 42) as tf.Tensor4D;
    const r = tf.range(0, size).sub(size / 2);
    const d2 = r.reshape([size, 1]).square().add(r.reshape([1, size]).square());
    const fg = d2.less((size / 5) ** 2).cast('float32').reshape([1, size, size, 1]).tile([batch, 1, 1, 1]);
    const y = tf.concat([tf.sub(1, fg), fg], 3) as tf.Tensor4D;
    return { x, y };
  });
}

/** Times `steps` SGD steps after `warmup` untimed ones; returns per-step milliseconds. */
export async function benchTrainStep(
  arch: string,
  backend: string,
  o: Pick<BenchOptions, 'batch' | 'steps' | 'warmup' | 'size' | 'profile'>,
  workers = 1,
): Promise<BenchRow> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not start`);
  const model = buildModel(arch, { seed: 1, size: o.size });
  const opt = tf.train.sgd(0.01);
  const { x, y } = makeBatch(o.batch, o.size);
  const pool = workers > 1 ? await GradientWorkerPool.start(model, 'ce', workers) : undefined;
  const xs = x.dataSync() as Float32Array;
  const ys = y.dataSync() as Float32Array;
  const step = async (): Promise<void> => {
    if (pool) {
      const r = await pool.step(xs.slice(), ys.slice(), o.batch, o.size);
      opt.applyGradients(r.grads);
      tf.dispose(Object.values(r.grads));
      model.trainableWeights[0].read().dataSync(); // wait for the update
      return;
    }
    const loss = opt.minimize(() => segmentationLoss(model.apply(x, { training: true }) as tf.Tensor4D, y, 'ce'), true);
    loss?.dataSync(); // wait for the step (sync on every backend)
    loss?.dispose();
  };
  for (let i = 0; i < o.warmup; i++) await step();
  if (o.profile && !pool) {
    const p = await tf.profile(() => step());
    const byKernel = new Map<string, number>();
    for (const k of p.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0));
    const top = [...byKernel.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);
    console.log(`profile ${arch} on ${backend} (one step, ms by kernel):\n` + top.map(([k, ms]) => `  ${k.padEnd(28)} ${ms.toFixed(1)}`).join('\n'));
  }
  const times: number[] = [];
  const cpuTimes: number[] = [];
  const before = tf.memory().numTensors;
  for (let i = 0; i < o.steps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await step();
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpuTimes.push((c.user + c.system) / 1000);
  }
  const leaked = tf.memory().numTensors - before;
  await pool?.close();
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
  if (leaked !== 0) throw new Error(`${arch} on ${backend}: ${leaked} tensors leaked over ${o.steps} steps`);
  const med = median(times);
  const cpuMed = median(cpuTimes);
  return {
    arch,
    backend,
    workers,
    batch: o.batch,
    steps: o.steps,
    msPerStep: med,
    msPerImage: med / o.batch,
    minMsPerStep: Math.min(...times),
    cpuMsPerStep: cpuMed,
    cpuMsPerImage: cpuMed / o.batch,
  };
}

/** Formats rows as a fixed-width table. */
export function formatTable(rows: BenchRow[]): string {
  const head = ['arch', 'backend', 'workers', 'batch', 'steps', 'wall ms/step', 'wall ms/image', 'min wall ms/step', 'cpu ms/step', 'cpu ms/image'];
  const body = rows.map((r) => [
    r.arch,
    r.backend,
    String(r.workers),
    String(r.batch),
    String(r.steps),
    r.msPerStep.toFixed(0),
    r.msPerImage.toFixed(0),
    r.minMsPerStep.toFixed(0),
    r.cpuMsPerStep.toFixed(0),
    r.cpuMsPerImage.toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const have = await availableBackends();
  const backends = o.backends ?? have;
  const rows: BenchRow[] = [];
  for (const b of backends) {
    if (!have.includes(b)) {
      console.log(`skipping backend ${b}: not available in this process (have ${have.join(', ')})`);
      continue;
    }
    for (const arch of o.archs) {
      // The pure-JS cpu backend takes minutes per step of these nets: fewer steps unless asked.
      const slow = b === 'cpu' && !o.stepsGiven;
      for (const workers of o.workers) {
        const row = await benchTrainStep(arch, b, slow ? { ...o, steps: 2, warmup: 1 } : o, workers);
        rows.push(row);
        console.log(`${arch} on ${b}, ${workers} worker${workers === 1 ? '' : 's'}: ${row.msPerImage.toFixed(0)} ms/image wall, ${row.cpuMsPerImage.toFixed(0)} ms/image cpu (batch ${o.batch})`);
      }
    }
  }
  console.log('\n' + formatTable(rows));
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
