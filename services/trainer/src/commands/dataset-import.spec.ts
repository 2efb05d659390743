/**
 * `lvseg dataset import` as a user runs it (a child process through tsx): exit 2 and one clear line, without patient
 * values, on bad usage or input; and the environment settings it reads.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLvsegError, repoRoot } from '@lvseg/common';
import { loadConfig } from '@lvseg/config';

function lvseg(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const tsx = join(repoRoot(), 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const clean = { ...process.env, LVSEG_SITE_SECRET: '', ...env };
  return new Promise((resolve) =>
    execFile(process.execPath, [tsx, join(repoRoot(), 'services/trainer/src/main.ts'), ...args], { cwd: repoRoot(), env: clean }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

describe('lvseg dataset import (CLI)', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'lvseg-import-cli-'));
    // A real DICOM image (PatientID SCD0000101) and no label object.
    mkdirSync(join(root, 'images'));
    copyFileSync(join(repoRoot(), 'libs/imaging/test-fixtures/sunnybrook/SCD0000101/48.dcm'), join(root, 'images', '48.dcm'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('exits 2 with one line naming the problem: no site secret, two sources, a bad --from-pacs URL, nothing to import', async () => {
    const noSecret = await lvseg(['dataset', 'import', '--from', join(root, 'images'), '--out', join(root, 'a')]);
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr.trim().split('\n')).toEqual([expect.stringMatching(/site secret .*\[IMPORT_SITE_SECRET\]$/)]);

    const both = await lvseg(['dataset', 'import', '--from', root, '--from-pacs', 'http://pacs/dicom-web', '--out', join(root, 'b'), '--site-secret', 'x'.repeat(20)]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('[IMPORT_SOURCE]');

    const badUrl = await lvseg(['dataset', 'import', '--from-pacs', 'ftp://pacs/dicom-web', '--out', join(root, 'd'), '--site-secret', 'x'.repeat(20)]);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr.trim().split('\n')).toEqual([expect.stringMatching(/--from-pacs must be an http\(s\) DICOMweb base URL.*\[IMPORT_PACS_URL\]$/)]);

    const nothing = await lvseg(['dataset', 'import', '--from', join(root, 'images'), '--out', join(root, 'c')], { LVSEG_SITE_SECRET: 'y'.repeat(24) });
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('[IMPORT_NOTHING]');
    expect(nothing.stderr + nothing.stdout).not.toContain('SCD0000101');
    expect(existsSync(join(root, 'c'))).toBe(false);
    expect(readdirSync(root).filter((n) => n.includes('partial'))).toEqual([]);
  });

  it('takes LVSEG_SITE_SECRET and the PACS credentials (both or neither) from the configuration', () => {
    expect(loadConfig({ LVSEG_SITE_SECRET: 's'.repeat(16), PACS_USERNAME: 'u', PACS_PASSWORD: 'p' }).datasetImport).toEqual({ siteSecret: 's'.repeat(16), pacsCredentials: { username: 'u', password: 'p' } });
    expect(loadConfig({}).datasetImport).toEqual({});
    let err: unknown;
    try {
      loadConfig({ PACS_USERNAME: 'u' });
    } catch (e) {
      err = e;
    }
    expect(isLvsegError(err, 'config') && err.code).toBe('CONFIG_PACS_CREDENTIALS');
  });
});
