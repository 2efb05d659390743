import { constants as fsConstants } from 'node:fs';
import { link, mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { LvsegError } from '@lvseg/common';
import { CARD_FILE_NAME, type ModelCard } from './model-card';
import { ALIAS_LOG_DIR, ALIASES_FILE_NAME, StoreCore, versionExistsError, type ModelStoreCommonOptions } from './store-core';

export interface FileModelStoreOptions extends ModelStoreCommonOptions {
  /** Store directory; a relative path is resolved from the current working directory. */
  root: string;
  /** A store directory (same layout) whose versions and aliases are copied in while this store has no aliases yet. */
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
 * `<root>/versions/<version>/{card.json, <files>}`, `<root>/aliases/log/<move>.json` (one file per alias move) and,
 * in stores written by earlier versions or seeded, `<root>/aliases.json` (the log's starting state).
 * A version is written into a staging directory and renamed into place, so it appears whole or not at all.
 * Each alias move is a new file linked into place under a unique name, so processes sharing the directory (on one
 * filesystem, or any that honours link(2)) never lose each other's moves.
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

  protected async deleteCard(version: string): Promise<void> {
    await rm(join(this.versionDir(version), CARD_FILE_NAME), { force: true });
  }

  protected async restoreCard(version: string, cardBytes: Buffer): Promise<void> {
    await publishFile(this.versionDir(version), CARD_FILE_NAME, cardBytes, false);
  }

  protected async deleteVersionFiles(version: string): Promise<void> {
    await rm(this.versionDir(version), { recursive: true, force: true });
  }

  protected async readAliasDocument(): Promise<Buffer | undefined> {
    return readIfExists(join(this.root, ALIASES_FILE_NAME));
  }

  protected async createAliasDocument(bytes: Buffer): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await publishFile(this.root, ALIASES_FILE_NAME, bytes, false);
  }

  protected async listAliasLog(): Promise<string[]> {
    return readdir(this.aliasLogDir()).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [];
      throw e;
    });
  }

  protected async readAliasLogEntry(name: string): Promise<Buffer | undefined> {
    return readIfExists(join(this.aliasLogDir(), name));
  }

  protected async writeAliasLogEntry(name: string, bytes: Buffer): Promise<void> {
    await mkdir(this.aliasLogDir(), { recursive: true });
    await publishFile(this.aliasLogDir(), name, bytes, true);
  }

  private aliasLogDir(): string {
    return join(this.root, ...ALIAS_LOG_DIR.split('/'));
  }

  private versionDir(version: string): string {
    return join(this.root, VERSIONS_DIR, version);
  }
}

/**
 * Makes `dir/name` appear whole: written and fsynced under a temporary name (which readers ignore), then hard-linked
 * into place. link(2) never replaces an existing file; `mustBeNew` decides whether an existing one is an error.
 */
async function publishFile(dir: string, name: string, bytes: Buffer, mustBeNew: boolean): Promise<void> {
  const temp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeDurably(temp, bytes);
    try {
      await link(temp, join(dir, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || mustBeNew) throw e;
    }
    await syncDir(dir);
  } finally {
    await rm(temp, { force: true });
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
