import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ModelCard } from './model-card';

/** A model's files found outside any store, e.g. an exported version or a training run's output. */
export interface ModelFolderFiles {
  files: Map<string, Buffer>;
  /** From `card.json`, when the folder has one. */
  card?: ModelCard;
  /** Where the files came from (the folder's absolute path), for logs and `source` fields. */
  source: string;
}

/**
 * Model folders: a reference that is a path (`./x`, `a/b`, `/abs`) to a folder holding a model, read whole. The
 * model store (`ModelStore.load`) serves versions and aliases; this serves what lives beside it on a disk.
 */
export interface ModelFolderReader {
  /** The folder's files when `ref` is a path to a folder holding one of `markers` (e.g. `model.json`), else undefined. */
  read(ref: string, markers: readonly string[]): ModelFolderFiles | undefined;
}

/** Only a reference with a `/` or starting with `.` is a path; anything else is a version id or an alias. */
function looksLikePath(ref: string): boolean {
  return ref.includes('/') || ref.startsWith('.');
}

/** Model folders on the local file system (paths relative to the working directory). */
export const fileModelFolders: ModelFolderReader = {
  read(ref, markers) {
    if (!looksLikePath(ref)) return undefined;
    const dir = resolve(ref);
    if (!markers.some((m) => existsSync(join(dir, m)))) return undefined;
    const files = new Map<string, Buffer>();
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isFile()) files.set(name, readFileSync(path));
    }
    const cardBytes = files.get('card.json');
    return { files, ...(cardBytes ? { card: JSON.parse(cardBytes.toString('utf8')) as ModelCard } : {}), source: dir };
  },
};
