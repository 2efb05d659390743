/**
 * A separate process moving aliases on a shared store, for the cross-process spec. Test support only.
 * Usage: node --import tsx alias-mover.ts '<json: { uri, s3, worker, index, moves, aliases, versions }>'
 * Prints `ready`, waits for a line on stdin (so all workers start together), makes its moves and prints one JSON line
 * per move: `{ alias, action, version?, reason, outcome: 'moved' | 'unchanged' | 'refused', code? }`.
 */
import { createInterface } from 'node:readline';
import { isLvsegError } from '@lvseg/common';
import { openModelStore } from '../open-model-store';
import type { S3ConnectionOptions } from '../s3-objects';

export interface MoverTask {
  uri: string;
  s3?: S3ConnectionOptions;
  worker: string;
  /** Spreads the workers' version choices. */
  index: number;
  moves: number;
  aliases: string[];
  versions: string[];
}

async function main(): Promise<void> {
  const task = JSON.parse(process.argv[2]) as MoverTask;
  const store = openModelStore(task.uri, task.s3 ? { s3: task.s3 } : {});
  await store.aliases(); // connect before the start signal
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once('line', () => resolve()));
  for (let k = 0; k < task.moves; k++) {
    const alias = task.aliases[k % task.aliases.length];
    const reason = `${task.worker}#${k}`;
    const meta = { by: task.worker, reason };
    // Mostly sets, with every fifth move a rollback (computed from whatever this process sees at that moment).
    const rollback = k % 5 === 4;
    const version = task.versions[(k * 7 + task.index) % task.versions.length];
    try {
      const change = rollback ? await store.rollback(alias, meta) : await store.setAlias(alias, version, meta);
      const outcome = change.previous === change.current ? 'unchanged' : 'moved';
      process.stdout.write(`${JSON.stringify({ alias, action: rollback ? 'rollback' : 'set', version: change.current, reason, outcome })}\n`);
    } catch (e) {
      if (!isLvsegError(e, 'conflict') && !isLvsegError(e, 'not-found')) throw e;
      process.stdout.write(`${JSON.stringify({ alias, action: rollback ? 'rollback' : 'set', reason, outcome: 'refused', code: e.code })}\n`);
    }
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
