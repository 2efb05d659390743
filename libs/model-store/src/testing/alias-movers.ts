/**
 * Runs alias-mover.ts in real child processes (through tsx, as production runs TypeScript) for the cross-process
 * alias specs. Test support only: not exported from the library index.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { MoverTask } from './alias-mover';

export interface MoveReport {
  alias: string;
  action: 'set' | 'rollback';
  version?: string;
  reason: string;
  outcome: 'moved' | 'unchanged' | 'refused';
}

/**
 * Starts one alias-mover child process per task (real processes, each with its own store), waits until all have
 * connected, starts them at once and returns each one's move reports.
 */
export async function runAliasMoversTogether(tasks: MoverTask[]): Promise<MoveReport[][]> {
  const mover = join(__dirname, 'alias-mover.ts');
  const children = tasks.map((task) => {
    const child = spawn(process.execPath, ['--import', 'tsx', mover, JSON.stringify(task)], { cwd: join(__dirname, '..', '..', '..', '..'), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      const check = () => out.startsWith('ready\n') && resolve();
      child.stdout.on('data', check);
      child.once('exit', (code) => reject(new Error(`alias mover exited (${code}) before it was ready: ${err}`)));
    });
    const done = new Promise<MoveReport[]>((resolve, reject) => {
      child.once('exit', (code) => {
        if (code !== 0) return reject(new Error(`alias mover exited with ${code}: ${err}`));
        resolve(out.split('\n').slice(1).filter((l) => l !== '').map((l) => JSON.parse(l) as MoveReport));
      });
    });
    return { child, ready, done };
  });
  try {
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin.end('go\n');
    return await Promise.all(children.map((c) => c.done));
  } finally {
    for (const c of children) if (c.child.exitCode === null) c.child.kill();
  }
}

