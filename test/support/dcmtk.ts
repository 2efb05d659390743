/** Running DCMTK tools (dcmconv, dcmcjpeg, img2dcm…) on bytes, for corpora of real third-party DICOM variants. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why DCMTK cannot be used here, or undefined when `dcmconv` runs; under CI (`CI=true`, scripts/test.sh installs it) a failure. */
export function dcmtkMissingReason(): string | undefined {
  const r = spawnSync('dcmconv', ['--version'], { stdio: 'ignore' });
  const reason = r.error || r.status !== 0 ? 'DCMTK (dcmconv, dcmcjpeg, img2dcm…) is not installed (apt-get install dcmtk)' : undefined;
  if (reason && process.env.CI === 'true') throw new Error(`this test needs DCMTK under CI: ${reason}`);
  return reason;
}

/** Runs `tool [...args] <in> <out>` on `input` (written as `in<inputExt>`) and returns the output file's bytes. */
export function dcmtk(tool: string, args: string[], input: Buffer, inputExt = '.dcm', outputExt = '.dcm'): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'lvseg-dcmtk-'));
  try {
    const inPath = join(dir, `in${inputExt}`);
    const outPath = join(dir, `out${outputExt}`);
    writeFileSync(inPath, input);
    execFileSync(tool, [...args, inPath, outPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    return readFileSync(outPath);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
