/** `lvseg report` as a user runs it (a child process through tsx): output files on success, exit 2 and one clear line on bad input. */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@lvseg/common';

const FIXTURE_PNG = join(repoRoot(), 'libs', 'imaging', 'test-fixtures', 'sunnybrook', 'png');
const NAME = 'SC-HF-I-01-IM-0001-0048.png';

function lvseg(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const tsx = join(repoRoot(), 'node_modules', 'tsx', 'dist', 'cli.mjs');
  return new Promise((resolve) =>
    execFile(process.execPath, [tsx, join(repoRoot(), 'services/trainer/src/main.ts'), ...args], { cwd: repoRoot() }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

describe('lvseg report (CLI)', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'lvseg-report-cli-'));
    for (const sub of ['good/images', 'good/labels', 'broken/images', 'broken/labels', 'no-manifest']) mkdirSync(join(root, sub), { recursive: true });
    for (const kind of ['images', 'labels']) copyFileSync(join(FIXTURE_PNG, kind, NAME), join(root, 'good', kind, NAME));
    copyFileSync(join(FIXTURE_PNG, 'labels', NAME), join(root, 'broken', 'labels', NAME));
    writeFileSync(join(root, 'broken', 'images', NAME), 'not a PNG at all');
    for (const d of ['good', 'broken']) writeFileSync(join(root, d, 'manifest.csv'), `case,image,label,split\nSC-HF-I-01,images/${NAME},labels/${NAME},train\n`);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('writes index.html and report.json, and exits 2 with one clear line on bad input', async () => {
    const [good, missing, noManifest, broken, noOut] = await Promise.all([
      lvseg(['report', '--data', join(root, 'good'), '--out', join(root, 'out')]),
      lvseg(['report', '--data', join(root, 'does-not-exist'), '--out', join(root, 'out-missing')]),
      lvseg(['report', '--data', join(root, 'no-manifest'), '--out', join(root, 'out-none')]),
      lvseg(['report', '--data', join(root, 'broken'), '--out', join(root, 'out-broken')]),
      lvseg(['report', '--data', join(root, 'good')]),
    ]);
    expect(good.stderr.replace(/^npm warn.*\n/gm, '')).toBe('');
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('1 images, 1 cases');
    const json = JSON.parse(readFileSync(join(root, 'out', 'report.json'), 'utf8'));
    expect(json.counts.images).toBe(1);
    expect(existsSync(join(root, 'out', 'index.html'))).toBe(true);

    const cases: Array<[typeof missing, RegExp]> = [
      [missing, /^lvseg: data folder .*does-not-exist does not exist \[DATA_DIR_NOT_FOUND\]$/],
      [noManifest, /^lvseg: no manifest\.csv in data folder .*no-manifest \[MANIFEST_NOT_FOUND\]$/],
      [broken, new RegExp(`^lvseg: images/${NAME} \\+ labels/${NAME}: not a readable PNG: .* \\[PNG_DECODE_FAILED\\]$`)],
      [noOut, /^lvseg: --out <dir> is required \[REPORT_OUT_MISSING\]$/],
    ];
    for (const [r, message] of cases) {
      expect(r.code).toBe(2);
      const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('npm warn'));
      expect(lines).toHaveLength(1); // the message, no stack trace
      expect(lines[0]).toMatch(message);
    }
    for (const d of ['out-missing', 'out-none', 'out-broken']) expect(existsSync(join(root, d, 'index.html'))).toBe(false);
  }, 180000);
});
