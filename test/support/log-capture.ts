/** A pino logger writing into memory, so e2e tests can read what the app logged (and check what it never logs). */
import { Writable } from 'node:stream';
import pino, { Logger } from 'pino';

export interface CapturedLog {
  logger: Logger;
  /** Every JSON log line written so far. */
  logLines(): Array<Record<string, unknown>>;
  /** The raw log text (for "never contains" checks). */
  logText(): string;
}

export function captureLogs(level: string): CapturedLog {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logText = () => chunks.join('');
  return {
    logger: pino({ level }, sink),
    logText,
    logLines: () =>
      logText()
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
