/**
 * Chooses the tfjs backend once at start: tfjs-node-gpu → tfjs-node → wasm (SIMD) → cpu, or the one forced (by
 * LVSEG_BACKEND, which the caller's configuration holds), then registers the project's kernels (fixes and fast replacements) before anything runs.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LvsegError } from '@lvseg/common';
import { registerProjectKernels } from './kernels/register';

/** What the ladder chose; the caller logs it. */
export interface BackendInfo {
  /** tfjs backend name: 'tensorflow' | 'wasm' | 'cpu'. */
  name: 'tensorflow' | 'wasm' | 'cpu';
  kind: 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
  /** wasm only: whether the SIMD build was loaded. */
  simd?: boolean;
  /** wasm only: threads in XNNPACK's pool (1 in Node: tfjs-backend-wasm 4.22 disables its threaded build there). */
  threads?: number;
  /** Why this backend: forced, first available, and why the ones above it were skipped. */
  reason: string;
  /** Project kernels registered, as `backend/KernelName`. */
  kernels: string[];
}

/** Options of initBackend. */
export interface InitBackendOptions {
  /** Start the ladder at this rung (still falls back below it when unavailable). `forced` overrides. */
  prefer?: 'tensorflow' | 'wasm' | 'cpu';
  /** This backend or none (`LVSEG_BACKEND`, i.e. `config.backend` of @lvseg/config); undefined = the ladder. */
  forced?: 'tensorflow' | 'wasm' | 'cpu';
}

type Rung = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
const LADDER: Rung[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

let chosen: Promise<BackendInfo> | undefined;

/**
 * Initialises the backend once per process (idempotent: later calls return the first result, whatever their options).
 * Throws LvsegError('config', 'BACKEND_UNAVAILABLE') when the forced backend cannot start.
 */
export function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  if (chosen === undefined) {
    chosen = choose(opts);
    chosen.catch(() => (chosen = undefined)); // a failed start may be retried (e.g. after fixing the env)
  }
  return chosen;
}

async function choose(opts: InitBackendOptions): Promise<BackendInfo> {
  const forcedRaw = opts.forced;
  const skipped: string[] = [];
  let rungs: Rung[];
  let forced = false;
  if (forcedRaw) {
    if (forcedRaw !== 'tensorflow' && forcedRaw !== 'wasm' && forcedRaw !== 'cpu') {
      throw new LvsegError('config', 'BACKEND_UNKNOWN', `LVSEG_BACKEND must be tensorflow, wasm or cpu, got '${forcedRaw}'`);
    }
    forced = true;
    rungs = forcedRaw === 'tensorflow' ? ['tensorflow-gpu', 'tensorflow'] : [forcedRaw];
  } else {
    const start = opts.prefer === 'tensorflow' || opts.prefer === undefined ? 0 : LADDER.indexOf(opts.prefer);
    rungs = LADDER.slice(start);
  }
  for (const rung of rungs) {
    const r = await tryRung(rung);
    if ('skip' in r) {
      skipped.push(`${rung}: ${r.skip}`);
      continue;
    }
    const kernels = registerProjectKernels();
    const how = forced ? `forced by LVSEG_BACKEND=${forcedRaw}` : opts.prefer ? `ladder from '${opts.prefer}'` : 'ladder';
    return {
      ...r.info,
      kernels,
      reason: [
        `${r.info.kind} (${how}${r.note ? `; ${r.note}` : ''})`,
        ...(skipped.length ? [`skipped ${skipped.join('; ')}`] : []),
      ].join('; '),
    };
  }
  throw new LvsegError(
    'config',
    'BACKEND_UNAVAILABLE',
    `no usable tfjs backend${forced ? ` for LVSEG_BACKEND=${forcedRaw}` : ''}: ${skipped.join('; ')}`,
  );
}

type RungResult = { info: Omit<BackendInfo, 'reason' | 'kernels'>; note?: string } | { skip: string };

async function tryRung(rung: Rung): Promise<RungResult> {
  switch (rung) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      const pkg = rung === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      const loaded = tryRequire(pkg);
      if (loaded !== true) return { skip: loaded };
      // tfjs-node registers 'tensorflow' on the global engine; a copy of tfjs-core of another version would not.
      if (tf.findBackendFactory('tensorflow') === null) {
        return { skip: `${pkg} loaded but did not register 'tensorflow' with this @tensorflow/tfjs (version mismatch?)` };
      }
      if (!(await setBackendQuiet('tensorflow'))) return { skip: `${pkg} loaded but the 'tensorflow' backend failed to start` };
      if (rung === 'tensorflow') return { info: { name: 'tensorflow', kind: 'tensorflow' } };
      const gpu = gpuVisible(tf.backend());
      const note = gpu === undefined ? 'GPU use not reported by tfjs-node-gpu' : gpu ? 'GPU visible' : 'no GPU visible, runs on CPU';
      return { info: { name: 'tensorflow', kind: gpu === false ? 'tensorflow' : 'tensorflow-gpu' }, note };
    }
    case 'wasm': {
      const wasm = prepareWasm();
      if (typeof wasm === 'string') return { skip: wasm };
      if (!(await setBackendQuiet('wasm'))) return { skip: 'the wasm backend failed to start' };
      const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
      const threads = typeof wasm.getThreadsCount === 'function' ? wasm.getThreadsCount() : 1;
      return { info: { name: 'wasm', kind: 'wasm', simd, threads } };
    }
    case 'cpu': {
      if (!(await setBackendQuiet('cpu'))) return { skip: 'the cpu backend failed to start' };
      return { info: { name: 'cpu', kind: 'cpu' } };
    }
  }
}

type WasmModule = { setWasmPaths(p: string): void; getThreadsCount?(): number };

/**
 * Loads tfjs-backend-wasm (registering the 'wasm' backend) and points it at the .wasm binaries in node_modules, read
 * with fs; the SIMD build is picked when the runtime validates SIMD (Node 20 does). Returns why not, if it cannot.
 */
export function prepareWasm(): WasmModule | string {
  const wasmPkg = '@tensorflow/tfjs-backend-wasm';
  let wasm: WasmModule;
  let dir: string;
  try {
    wasm = require(wasmPkg);
    dir = path.dirname(require.resolve(`${wasmPkg}/dist/tfjs-backend-wasm-simd.wasm`));
  } catch (e) {
    return `${wasmPkg} not installed (${firstLine(e)})`;
  }
  if (tf.engine().registry.wasm === undefined) {
    try {
      wasm.setWasmPaths(dir + path.sep); // must precede the backend's first start
    } catch (e) {
      return `setWasmPaths failed (${firstLine(e)})`;
    }
  }
  return wasm;
}

function tryRequire(pkg: string): true | string {
  try {
    require.resolve(pkg);
  } catch {
    return `${pkg} not installed`;
  }
  try {
    require(pkg);
    return true;
  } catch (e) {
    return `${pkg} failed to load (${firstLine(e)})`;
  }
}

/** tfjs setBackend logs and resolves false on failure; keep that, but swallow a throw too. */
async function setBackendQuiet(name: string): Promise<boolean> {
  try {
    const ok = await tf.setBackend(name);
    await tf.ready();
    return ok && tf.getBackend() === name;
  } catch {
    return false;
  }
}

/** tfjs-node's backend exposes isUsingGpuDevice (a boolean, a function in some versions); undefined if not. */
function gpuVisible(b: unknown): boolean | undefined {
  const v = (b as { isUsingGpuDevice?: unknown } | null)?.isUsingGpuDevice;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'function') {
    try {
      return Boolean((v as () => unknown).call(b));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0];
}

/** For specs: forget the first choice so initBackend runs the ladder again. */
export function resetBackendChoiceForTests(): void {
  chosen = undefined;
}
