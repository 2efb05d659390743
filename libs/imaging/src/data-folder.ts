import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where a data set's files are read from: a folder on disk (`fileDataFolder`), or anything else that hands back bytes
 * by the relative paths a manifest names (an archive, object storage, files held in memory by a spec).
 */
export interface DataFolder {
  /** The folder's name in messages, and `Manifest.dir` of the manifest read from it. */
  readonly location: string;
  /** The bytes of the file at `path` (relative, as a manifest names it), or undefined when there is no such file. */
  read(path: string): Buffer | undefined;
}

const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

/** A data folder on the local file system. A file that is there but cannot be read (permissions) throws as it is. */
export function fileDataFolder(dir: string): DataFolder {
  return {
    location: dir,
    read(path) {
      try {
        return readFileSync(join(dir, path));
      } catch (e) {
        if (ABSENT.has((e as NodeJS.ErrnoException).code ?? '')) return undefined;
        throw e;
      }
    },
  };
}

/** A data folder given as a path is read from the disk. */
export function asDataFolder(folder: string | DataFolder): DataFolder {
  return typeof folder === 'string' ? fileDataFolder(folder) : folder;
}
