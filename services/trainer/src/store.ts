import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { LvsegError, repoRoot } from '@lvseg/common';

/**
 * The git commit the code runs from: `configured` when given (`config.gitCommit`, LVSEG_GIT_COMMIT, set in images
 * that have no .git), else asked from git, with `-dirty` when the tree has changes.
 */
export function gitCommit(configured?: string): string {
  if (configured) return configured;
  try {
    const cwd = repoRoot();
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return dirty ? `${sha}-dirty` : sha;
  } catch {
    return 'unknown';
  }
}

/** Fail with a clear message when a data folder is missing. */
export function requireDataDir(dir: string): string {
  const abs = resolve(dir);
  if (!existsSync(join(abs, 'manifest.csv'))) {
    throw new LvsegError('not-found', 'DATA_NOT_FOUND', `no manifest.csv in ${abs}; pass --data <dir> (see README, "Data layout")`);
  }
  return abs;
}
