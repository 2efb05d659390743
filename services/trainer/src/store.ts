import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { LvsegError, repoRoot } from '@lvseg/common';
import { modelFromFiles } from '@lvseg/model';
import { ModelCard, ModelStore, openModelStore } from '@lvseg/model-store';
import { LvsegConfig } from './config';

/** The configured model store (file:// seeded from the shipped models, or s3://). */
export function openConfiguredStore(config: LvsegConfig): ModelStore {
  return openModelStore(config.modelStore, { s3: config.s3, seedFrom: existsSync(config.shippedModels) ? config.shippedModels : undefined });
}

/**
 * A model by reference: a version id or alias in the store, or a folder holding `model.json` + `weights.bin`
 * (and optionally `card.json`), e.g. an exported version.
 */
export async function loadModelByRef(store: ModelStore, ref: string): Promise<{ model: tf.LayersModel; card?: ModelCard; source: string }> {
  const asPath = resolve(ref);
  if ((ref.includes('/') || ref.startsWith('.')) && existsSync(join(asPath, 'model.json'))) {
    const files = new Map<string, Buffer>();
    for (const name of readdirSync(asPath)) files.set(name, readFileSync(join(asPath, name)));
    const card = files.has('card.json') ? (JSON.parse(files.get('card.json')!.toString('utf8')) as ModelCard) : undefined;
    return { model: await modelFromFiles(files), card, source: asPath };
  }
  const { card, files } = await store.load(ref);
  return { model: await modelFromFiles(files), card, source: `${store.uri}#${card.version}` };
}

/** The git commit the code runs from (`LVSEG_GIT_COMMIT` in images), with `-dirty` when the tree has changes. */
export function gitCommit(): string {
  if (process.env.LVSEG_GIT_COMMIT) return process.env.LVSEG_GIT_COMMIT;
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
