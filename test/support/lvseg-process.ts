/**
 * The lvseg CLI as a real child process, compiled from the sources on load (swc-register.js): `lvseg worker`
 * processes that a test can kill by PID, and one-shot commands (`lvseg backfill`). Their pino JSON lines are kept.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '@lvseg/common';

const MAIN = join(repoRoot(), 'services', 'trainer', 'src', 'main.ts');
const REGISTER = join(repoRoot(), 'test', 'support', 'swc-register.js');

export interface LvsegProcess {
  child: ChildProcess;
  pid: number;
  /** JSON log lines (stdout) so far. */
  lines(): Array<Record<string, unknown>>;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  /** Waits for a log line matching `pred` (rejects if the process exits first or after `timeoutMs`). */
  waitFor(pred: (l: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>>;
  /** SIGTERM, then SIGKILL after 30 s. */
  stop(): Promise<void>;
}

export function startLvseg(args: string[], env: Record<string, string>): LvsegProcess {
  const child = spawn(process.execPath, ['-r', REGISTER, MAIN, ...args], { cwd: repoRoot(), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const err: string[] = [];
  child.stdout?.on('data', (d) => out.push(String(d)));
  child.stderr?.on('data', (d) => err.push(String(d)));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve((exitCode = code))));
  const lines = () =>
    out
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return {};
        }
      });
  return {
    child,
    pid: child.pid!,
    lines,
    stdout: () => out.join(''),
    stderr: () => err.join(''),
    exited,
    async waitFor(pred, timeoutMs, what) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = lines().find(pred);
        if (hit) return hit;
        if (exitCode !== undefined) throw new Error(`lvseg ${args[0]} (pid ${child.pid}) exited (${exitCode}) before ${what}: ${err.join('').slice(-3000)}`);
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (lvseg ${args[0]}, pid ${child.pid}): ${err.join('').slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Runs a one-shot lvseg command to its end. */
export async function runLvseg(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = startLvseg(args, env);
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}
