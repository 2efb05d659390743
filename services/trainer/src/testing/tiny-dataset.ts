/**
 * A tiny real data set for trainer and monitor tests: the first train and val PNG pairs of `sunnybrook-png`
 * copied, with their manifest rows, into a temp folder. Test support only.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { dataRoot } from '@lvseg/common';
import { readCsvRecords } from '@lvseg/imaging';

export const SUNNYBROOK_PNG_DIR = join(dataRoot(), 'sunnybrook-png');

/** Why the PNG data set cannot be used, or undefined when it can; under CI (`CI=true`) a failure, not a skip. */
export function sunnybrookPngMissingReason(): string | undefined {
  const manifest = join(SUNNYBROOK_PNG_DIR, 'manifest.csv');
  const reason = existsSync(manifest) ? undefined : `no ${manifest} (set LVSEG_DATA_DIR to the folder holding sunnybrook-png/)`;
  if (reason && process.env.CI === 'true') throw new Error(`this test needs the Sunnybrook PNGs under CI: ${reason}`);
  return reason;
}

/** `describe`, or `describe.skip` with the reason printed when the PNG data set is missing. */
export function describeWithSunnybrookPng(name: string, fn: () => void): void {
  const reason = sunnybrookPngMissingReason();
  if (reason) {
    // eslint-disable-next-line no-console
    console.warn(`skipping "${name}": ${reason}`);
    describe.skip(name, fn);
  } else {
    describe(name, fn);
  }
}

/** A CSV field, quoted when it holds a comma, a quote or a line break (as readCsvRecords reads it back). */
const csvField = (v: string): string => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** Copies `train` train rows and `val` val rows (first ones, in manifest order) into a new temp data folder; returns it and the val ids. */
export function makeTinyDataset(opts: { train?: number; val?: number } = {}): { dir: string; valIds: string[]; trainIds: string[] } {
  const rows = readCsvRecords(join(SUNNYBROOK_PNG_DIR, 'manifest.csv'));
  const cols = Object.keys(rows[0] ?? {});
  const picked = [...rows.filter((r) => r.split === 'train').slice(0, opts.train ?? 4), ...rows.filter((r) => r.split === 'val').slice(0, opts.val ?? 2)];
  const dir = mkdtempSync(join(tmpdir(), 'lvseg-tiny-data-'));
  for (const r of picked) {
    for (const rel of [r.image, r.label]) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      copyFileSync(join(SUNNYBROOK_PNG_DIR, rel), join(dir, rel));
    }
  }
  writeFileSync(join(dir, 'manifest.csv'), [cols, ...picked.map((r) => cols.map((c) => r[c]))].map((fields) => fields.map(csvField).join(',')).join('\n') + '\n');
  const id = (r: Record<string, string>) => `${r.case}/${r.image.split('/').pop()!.replace(/\.png$/, '')}`;
  return { dir, valIds: picked.filter((r) => r.split === 'val').map(id), trainIds: picked.filter((r) => r.split === 'train').map(id) };
}
