import { constants as fsConstants } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { LvsegError, sha256Hex } from '@lvseg/common';
import { CARD_FILE_NAME, type ModelCard } from './model-card';
import { ALIASES_FILE_NAME, StoreCore, versionExistsError, type ModelStoreCommonOptions, type StoredAliasDocument } from './store-core';

export interface FileModelStoreOptions extends ModelStoreCommonOptions {
  /** Store directory; a relative path is resolved from the current working directory. */
  root: string;
  /** A store directory (same layout) whose versions and aliases are copied in while this store has no aliases.json. */
  seedFrom?: string;
  /** Refuse ('config') a root that does not exist instead of treating it as an empty store; used for seeds. */
  requireExisting?: boolean;
}

const VERSIONS_DIR = 'versions';
// Staging area inside the root so the final rename stays on one filesystem (and is therefore atomic).
// Leftovers from a crash are never listed and are safe to delete.
const STAGING_DIR = '.staging';

/**
 * Model store on a local directory:
 * `<root>/versions/<version>/{card.json, <files>}` and `<root>/aliases.json` (aliases plus their history).
 * A version is written into a staging directory and renamed into place, so it appears whole or not at all.
 * Alias updates are serialized within this process; two processes moving aliases at the same instant are
 * last-writer-wins (a digest check right before the write narrows, but does not close, that window).
 */
export class FileModelStore extends StoreCore {
  readonly uri: string;
  readonly root: string;
  private readonly requireExisting: boolean;

  constructor(options: FileModelStoreOptions) {
    const root = resolve(options.root);
    const seedRoot = options.seedFrom !== undefined ? resolve(options.seedFrom) : undefined;
    const seed = seedRoot !== undefined && seedRoot !== root ? new FileModelStore({ root: seedRoot, requireExisting: true }) : undefined;
    super(options, seed);
    this.root = root;
    this.uri = pathToFileURL(root).href;
    this.requireExisting = options.requireExisting ?? false;
  }

  protected async initialize(): Promise<void> {
    if (!this.requireExisting) return; // directories are created on first write
    const info = await stat(this.root).catch(() => undefined);
    if (!info?.isDirectory()) {
      throw new LvsegError('config', 'MODEL_STORE_SEED_MISSING', `model store directory ${this.root} does not exist`, { root: this.root });
    }
  }

  protected async readCardBytes(version: string): Promise<Buffer | undefined> {
    return readIfExists(join(this.versionDir(version), CARD_FILE_NAME));
  }

  protected async listCardVersions(): Promise<string[]> {
    const entries = await readdir(join(this.root, VERSIONS_DIR), { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [];
      throw e;
    });
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  }

  protected async readModelFile(version: string, name: string): Promise<Buffer | undefined> {
    return readIfExists(join(this.versionDir(version), name));
  }

  protected async writeVersion(card: ModelCard, cardBytes: Buffer, files: Map<string, Buffer>): Promise<void> {
    const versionsDir = join(this.root, VERSIONS_DIR);
    const stagingRoot = join(this.root, STAGING_DIR);
    await mkdir(versionsDir, { recursive: true });
    await mkdir(stagingRoot, { recursive: true });
    const staging = await mkdtemp(join(stagingRoot, `${card.version}-`));
    try {
      for (const [name, bytes] of files) await writeDurably(join(staging, name), bytes);
      await writeDurably(join(staging, CARD_FILE_NAME), cardBytes);
      await syncDir(staging);
      try {
        // rename(2) onto an existing non-empty directory fails, so a published version is never replaced.
        await rename(staging, this.versionDir(card.version));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') throw versionExistsError(card.version);
        throw e;
      }
      await syncDir(versionsDir);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  protected async deleteVersion(version: string): Promise<void> {
    await rm(join(this.versionDir(version), CARD_FILE_NAME), { force: true });
    await rm(this.versionDir(version), { recursive: true, force: true });
  }

  protected async readAliasDocument(): Promise<StoredAliasDocument | undefined> {
    const bytes = await readIfExists(join(this.root, ALIASES_FILE_NAME));
    return bytes === undefined ? undefined : { bytes, token: sha256Hex(bytes) };
  }

  protected async writeAliasDocument(bytes: Buffer, expectedToken: string | undefined): Promise<boolean> {
    const target = join(this.root, ALIASES_FILE_NAME);
    const current = await readIfExists(target);
    if ((current === undefined ? undefined : sha256Hex(current)) !== expectedToken) return false;
    await mkdir(this.root, { recursive: true });
    const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeDurably(temp, bytes);
      await rename(temp, target); // atomic replace: readers see the old or the new document, never half of one
      await syncDir(this.root);
    } finally {
      await rm(temp, { force: true });
    }
    return true;
  }

  private versionDir(version: string): string {
    return join(this.root, VERSIONS_DIR, version);
  }
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

/** Writes and fsyncs, so a rename that follows cannot expose a file whose bytes are still in flight. */
async function writeDurably(path: string, bytes: Buffer): Promise<void> {
  const handle = await open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync a directory so a rename inside it survives a power cut; not supported everywhere, hence best effort. */
async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // e.g. EINVAL/EISDIR on platforms that cannot fsync directories
  } finally {
    await handle.close();
  }
}
