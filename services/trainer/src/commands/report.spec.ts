/**
 * `lvseg report` as a user runs it (a child process through tsx): output files on success, exit 2 and one clear line on
 * bad input; and `runReport` with --model, against a fake evaluation.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@lvseg/common';
import type { BinaryMask } from '@lvseg/imaging';
import { evaluateCases } from '@lvseg/model';
import { EvalResult, withEjectionFraction } from './eval';
import type { EfItem } from './eval-ef';
import { runReport } from './report';

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

describe('runReport --model', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'lvseg-report-model-'));
    for (const kind of ['images', 'labels']) {
      mkdirSync(join(root, 'data', kind), { recursive: true });
      copyFileSync(join(FIXTURE_PNG, kind, NAME), join(root, 'data', kind, NAME));
    }
    writeFileSync(join(root, 'data', 'manifest.csv'), `case,image,label,split\nSC-HF-I-01,images/${NAME},labels/${NAME},val\n`);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** What evaluateModel would return for two patients: EF expert 0.5 vs model 0.375 (A) and 0.5 vs 0.6 (B). */
  const fakeEvaluation = (split: string): EvalResult => {
    const mask = (n: number): BinaryMask => ({ rows: 16, columns: 16, data: new Uint8Array(256).fill(1, 0, n) });
    const png = (c: string, frame: number, truth: number, pred: number): EfItem => {
      const id = `${c}/${c}-IM-0001-${String(frame).padStart(4, '0')}`;
      return { id, case: c, imageName: id, truth: mask(truth), pred: mask(pred) };
    };
    const items = [png('A', 48, 50, 50), png('A', 59, 100, 80), png('B', 48, 100, 80), png('B', 59, 200, 200)];
    const report = evaluateCases(items.map((it) => ({ id: it.id, case: it.case, pred: it.pred, truth: it.truth })));
    return { model: { source: 'store#v9', version: 'v9', architecture: 'cascade' }, data: join(root, 'data'), split, ...withEjectionFraction(report, items) };
  };

  it("segments the chosen split through the evaluation it is given and adds the model's EF section", async () => {
    const calls: string[][] = [];
    const evaluate = async (ref: string, data: string, split: string) => (calls.push([ref, data, split]), fakeEvaluation(split));
    const out = join(root, 'out');
    const summary = await runReport({ data: join(root, 'data'), out, model: 'production', modelSplit: 'train' }, evaluate);
    expect(calls).toEqual([['production', join(root, 'data'), 'train']]);
    expect(summary).toContain('model v9 on train: mean Dice');
    expect(summary).toContain('EF agreement (model − expert): n = 2 patients, bias −1.3 pp, SD 15.9 pp, limits of agreement −32.4 to +29.9 pp');
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(json.modelEf).toMatchObject({ split: 'train', model: { version: 'v9' }, efAgreement: { n: 2, bias: expect.closeTo(-0.0125, 12) } });
    expect(json.modelEf.perCase.map((c: { case: string; expert: number; model: number }) => [c.case, c.expert, c.model])).toEqual([
      ['A', 0.5, 0.375],
      ['B', 0.5, expect.closeTo(0.6, 12)],
    ]);
    expect(json.modelEf.evaluationMs).toEqual(expect.any(Number));
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toContain('7. Model vs expert: ejection fraction');
    expect(html).toContain('id="chart-ef-bland-altman"');

    // Without --model-split: val.
    await runReport({ data: join(root, 'data'), out: join(root, 'out-val'), model: 'production' }, evaluate);
    expect(calls[1][2]).toBe('val');
  });

  it('reports a bad data folder as without --model, before loading the model', async () => {
    const evaluate = jest.fn(async (_ref: string, _data: string, split: string) => fakeEvaluation(split));
    await expect(runReport({ data: join(root, 'nope'), out: join(root, 'out-nope'), model: 'production' }, evaluate)).rejects.toMatchObject({ code: 'DATA_DIR_NOT_FOUND' });
    expect(evaluate).not.toHaveBeenCalled();
    expect(existsSync(join(root, 'out-nope'))).toBe(false);
  });
});
