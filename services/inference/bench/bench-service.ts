/**
 * The service a benchmark measures: the built one (`dist/services/inference/src/main.js`) started on a free port with
 * the caller's environment, or one already running at a URL; plus its CPU time from /proc.
 */
import { spawn, execFileSync, ChildProcess } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './support/free-port';

/** A service under test: its URL, process (for CPU time) and how to stop it. */
export interface BenchService {
  url: string;
  pid?: number;
  describe: string;
  stop(): Promise<void>;
}

/** A service already running at `url` (not stopped at the end). */
export function runningService(url: string): BenchService {
  return { url, describe: `running service at ${url}`, stop: async () => undefined };
}

export interface StartOptions {
  /** Added to this process's environment (PORT is set here). */
  env?: NodeJS.ProcessEnv;
  /** Extra arguments for node (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Appended to `describe`. */
  note?: string;
  /** Said when the service does not get ready. */
  notReadyHint?: string;
  /** Run after the service has exited (e.g. remove a temporary store). */
  afterStop?: () => void;
}

/**
 * The node flags and script of `npm start` (package.json; the Docker image's CMD is checked to be the same), so a
 * benchmark measures the service as it is run, V8 heap settings included.
 */
export function startCommand(): { nodeFlags: string[]; main: string } {
  // dist/services/inference/bench (built) or services/inference/bench (tsx): the first folder up with a package.json.
  let root = __dirname;
  while (!existsSync(join(root, 'package.json'))) root = join(root, '..');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const [node, ...args] = pkg.scripts.start.split(' ');
  const script = args.pop();
  if (node !== 'node' || !script?.endsWith('main.js')) throw new Error(`package.json "start" is not "node [flags] <main.js>": ${pkg.scripts.start}`);
  return { nodeFlags: args, main: join(root, script) };
}

/** Starts the built service as `npm start` does, on a free port, and waits (up to 180 s) until /health/ready answers 200. */
export async function startBuiltService(o: StartOptions = {}): Promise<BenchService> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, ...o.env, PORT: String(port) };
  const logPath = join(tmpdir(), `lvseg-bench-service-${port}.log`);
  const log = openSync(logPath, 'w');
  const { nodeFlags, main } = startCommand();
  const child: ChildProcess = spawn(process.execPath, [...nodeFlags, ...(o.nodeArgs ?? []), main], { env, stdio: ['ignore', log, log] });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode} before it was ready; see ${logPath}`);
    try {
      const r = await fetch(`${url}/health/ready`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`the service was not ready within 180 s${o.notReadyHint ? ` (${o.notReadyHint})` : ''}; see ${logPath}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    pid: child.pid,
    describe: `started node ${[...nodeFlags, ...(o.nodeArgs ?? [])].join(' ')} ${main} (pid ${child.pid}, log ${logPath})${o.note ? `, ${o.note}` : ''}`,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      o.afterStop?.();
    },
  };
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** user + system CPU seconds of a process so far (Linux /proc), or undefined elsewhere. */
export function cpuSeconds(pid?: number): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** A process's peak resident set so far in MB (Linux /proc VmHWM), or undefined elsewhere. */
export function peakRssMb(pid?: number): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The machine's CPU ticks so far (Linux /proc/stat, all cores): busy (everything but idle and iowait) and total. */
export function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.reduce((a, b) => a + b, 0);
    return { busy: total - cpu[3] - (cpu[4] ?? 0), total };
  } catch {
    return undefined;
  }
}

/** Share of all cores' time that was busy between two `machineTicks()` readings (0..1), or undefined. */
export function busyShare(a?: { busy: number; total: number }, b?: { busy: number; total: number }): number | undefined {
  if (!a || !b || b.total <= a.total) return undefined;
  return (b.busy - a.busy) / (b.total - a.total);
}
