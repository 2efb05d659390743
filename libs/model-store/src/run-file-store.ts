import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RUNS_DIR, RunStoreCore, type RunStoreCommonOptions } from './run-store';

export interface FileRunStoreOptions extends RunStoreCommonOptions {
  /** The model store directory; runs live in `<root>/runs/`. */
  root: string;
}

/**
 * Training runs in a local directory, beside the model versions: `<root>/runs/<id>/…`. Each object is written to a
 * temporary file and renamed into place, so a reader (the monitor page) never sees half a document.
 */
export class FileRunStore extends RunStoreCore {
  readonly uri: string;
  readonly root: string;

  constructor(options: FileRunStoreOptions) {
    super(options);
    this.root = resolve(options.root);
    this.uri = pathToFileURL(join(this.root, RUNS_DIR)).href;
  }

  protected async readObject(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.pathOf(key));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw e;
    }
  }

  protected async writeObject(key: string, bytes: Buffer): Promise<void> {
    const target = this.pathOf(key);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temp, bytes, { flag: 'wx' });
      await rename(temp, target); // atomic replace
    } finally {
      await rm(temp, { force: true });
    }
  }

  protected async listRunIds(): Promise<string[]> {
    const entries = await readdir(join(this.root, RUNS_DIR), { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [];
      throw e;
    });
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  }

  /** Keys are built from validated segments only; the check is a second guard against leaving the root. */
  private pathOf(key: string): string {
    const path = resolve(this.root, ...key.split('/'));
    if (!path.startsWith(this.root + sep)) throw new Error(`run store key ${key} leaves the store root`);
    return path;
  }
}
