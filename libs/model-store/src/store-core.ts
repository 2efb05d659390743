import { LvsegError, isLvsegError, sha256Hex } from '@lvseg/common';
import {
  assertAliasName,
  assertRef,
  assertVersionName,
  buildModelCard,
  parseStoredCard,
  serializeCard,
  validateNewModelVersion,
  type ModelCard,
  type NewModelVersion,
} from './model-card';
import type { AliasChange, AliasChangeMeta, AliasHistoryEntry, LoadedModel, ModelStore } from './model-store';

/** The single JSON object holding aliases and their history (one object so both change together). */
export interface AliasDocument {
  aliases: Record<string, string>;
  history: Record<string, AliasHistoryEntry[]>;
}

/** Stored alias document plus an opaque token (etag, digest) used to detect a concurrent writer. */
export interface StoredAliasDocument {
  bytes: Buffer;
  token: string;
}

export const ALIASES_FILE_NAME = 'aliases.json';

const ALIAS_WRITE_ATTEMPTS = 5;

/** Options every store implementation accepts. */
export interface ModelStoreCommonOptions {
  /** Clock for `createdAt`, version ids and alias history; defaults to the system clock. */
  now?: () => Date;
}

/**
 * Registry logic shared by the file and S3 stores: validation, version ids, integrity checks, alias history and
 * seeding. Subclasses only move bytes; they must make `writeVersion` all-or-nothing and refuse existing versions.
 */
export abstract class StoreCore implements ModelStore {
  abstract readonly uri: string;
  protected readonly now: () => Date;
  private ready: Promise<void> | undefined;
  private aliasQueue: Promise<unknown> = Promise.resolve();

  protected constructor(
    options: ModelStoreCommonOptions,
    /** Copied in (versions and aliases) the first time this store is used while it has no alias document. */
    private readonly seed?: ModelStore,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /** Prepares the backing storage (e.g. creates the bucket). Called once before the first operation. */
  protected abstract initialize(): Promise<void>;
  /** The raw card of a version, or undefined if the version does not exist (a version without a card is absent). */
  protected abstract readCardBytes(version: string): Promise<Buffer | undefined>;
  /** Ids of all versions that have a card. */
  protected abstract listCardVersions(): Promise<string[]>;
  /** One stored model file, or undefined if it is missing. */
  protected abstract readModelFile(version: string, name: string): Promise<Buffer | undefined>;
  /** Makes the version visible all at once; throws 'conflict' (MODEL_VERSION_EXISTS) if it already exists. */
  protected abstract writeVersion(card: ModelCard, cardBytes: Buffer, files: Map<string, Buffer>): Promise<void>;
  protected abstract readAliasDocument(): Promise<StoredAliasDocument | undefined>;
  /**
   * Replaces the alias document if it still matches `expectedToken` (undefined: if it still does not exist).
   * Returns false when another writer got there first. Backends that cannot check may always return true.
   */
  protected abstract writeAliasDocument(bytes: Buffer, expectedToken: string | undefined): Promise<boolean>;
  /** Removes a version's card, then its files (a version without a card is absent). */
  protected abstract deleteVersion(version: string): Promise<void>;

  async publish(request: NewModelVersion): Promise<ModelCard> {
    const { body, files } = validateNewModelVersion(request);
    await this.ensureReady();
    const card = buildModelCard(body, files, this.now());
    if ((await this.readCardBytes(card.version)) !== undefined) throw versionExistsError(card.version);
    const cardBytes = serializeCard(card);
    await this.writeVersion(card, cardBytes, files);
    // Hand back exactly what a later getCard returns.
    return parseStoredCard(cardBytes, card.version);
  }

  async list(): Promise<ModelCard[]> {
    await this.ensureReady();
    const versions = await this.listCardVersions();
    const cards = await Promise.all(versions.map((v) => this.readCard(v)));
    return cards
      .filter((c): c is ModelCard => c !== undefined)
      .sort((a, b) => (a.createdAt === b.createdAt ? cmp(b.version, a.version) : cmp(b.createdAt, a.createdAt)));
  }

  async getCard(ref: string): Promise<ModelCard> {
    const version = await this.resolve(ref);
    const card = await this.readCard(version);
    if (!card) throw notFound(ref);
    return card;
  }

  async resolve(ref: string): Promise<string> {
    assertRef(ref);
    await this.ensureReady();
    const doc = await this.aliasDocument();
    const target = Object.hasOwn(doc.aliases, ref) ? doc.aliases[ref] : undefined;
    if (target !== undefined) return target;
    if ((await this.readCardBytes(ref)) !== undefined) return ref;
    throw notFound(ref);
  }

  async load(ref: string): Promise<LoadedModel> {
    const card = await this.getCard(ref);
    const files = new Map<string, Buffer>();
    for (const name of Object.keys(card.files).sort()) {
      const expected = card.files[name];
      const bytes = await this.readModelFile(card.version, name);
      const where = { version: card.version, file: name };
      if (bytes === undefined) {
        throw new LvsegError('integrity', 'MODEL_INTEGRITY', `model ${card.version}: file ${name} is missing from the store`, where);
      }
      if (bytes.length !== expected.bytes) {
        throw new LvsegError('integrity', 'MODEL_INTEGRITY', `model ${card.version}: file ${name} has ${bytes.length} bytes, the card records ${expected.bytes}`, where);
      }
      const actual = sha256Hex(bytes);
      if (actual !== expected.sha256) {
        throw new LvsegError('integrity', 'MODEL_INTEGRITY', `model ${card.version}: file ${name} has sha256 ${actual}, the card records ${expected.sha256}`, where);
      }
      files.set(name, bytes);
    }
    return { card, files };
  }

  async aliases(): Promise<Record<string, string>> {
    await this.ensureReady();
    return { ...(await this.aliasDocument()).aliases };
  }

  async aliasHistory(alias: string): Promise<AliasHistoryEntry[]> {
    assertAliasName(alias);
    await this.ensureReady();
    const doc = await this.aliasDocument();
    return (Object.hasOwn(doc.history, alias) ? doc.history[alias] : []).map((e) => ({ ...e }));
  }

  async setAlias(alias: string, version: string, meta: AliasChangeMeta = {}): Promise<AliasChange> {
    assertAliasName(alias);
    assertVersionName(version);
    await this.ensureReady();
    if ((await this.readCardBytes(version)) === undefined) {
      throw new LvsegError('not-found', 'MODEL_NOT_FOUND', `cannot point alias ${alias} at ${version}: no such model version`, { version });
    }
    return this.updateAliases((doc) => {
      const previous = Object.hasOwn(doc.aliases, alias) ? doc.aliases[alias] : undefined;
      // Re-pointing at the current target is a no-op; recording it would make rollback land on the same version.
      if (previous === version) return { change: { alias, previous, current: version } };
      this.record(doc, alias, 'set', version, previous, meta);
      return { change: { alias, previous, current: version }, changed: true };
    });
  }

  async rollback(alias: string, meta: AliasChangeMeta = {}): Promise<AliasChange> {
    assertAliasName(alias);
    await this.ensureReady();
    return this.updateAliases((doc) => {
      const current = Object.hasOwn(doc.aliases, alias) ? doc.aliases[alias] : undefined;
      if (current === undefined) throw new LvsegError('not-found', 'MODEL_ALIAS_NOT_FOUND', `alias ${alias} does not exist`, { alias });
      const stack = aliasStack(doc.history[alias] ?? [], current);
      if (stack.length < 2) {
        throw new LvsegError('conflict', 'MODEL_ALIAS_NO_PREVIOUS', `alias ${alias} has no earlier version to roll back to`, { alias });
      }
      const target = stack[stack.length - 2];
      this.record(doc, alias, 'rollback', target, current, meta);
      return { change: { alias, previous: current, current: target }, changed: true };
    });
  }

  async delete(version: string): Promise<void> {
    assertVersionName(version);
    await this.ensureReady();
    // In the alias queue: no setAlias of this process can point at the version while it goes.
    const run = async (): Promise<void> => {
      const doc = await this.aliasDocument();
      for (const [alias, current] of Object.entries(doc.aliases)) {
        const stack = aliasStack(doc.history[alias] ?? [], current);
        const why = current === version ? 'points at it' : stack.length >= 2 && stack[stack.length - 2] === version ? 'would roll back to it' : undefined;
        if (why) throw new LvsegError('conflict', 'MODEL_VERSION_IN_USE', `cannot delete ${version}: alias ${alias} ${why}`, { version, alias });
      }
      if ((await this.readCardBytes(version)) === undefined) throw new LvsegError('not-found', 'MODEL_NOT_FOUND', `no model version ${version}`, { version });
      await this.deleteVersion(version);
    };
    const result = this.aliasQueue.then(run, run);
    this.aliasQueue = result.catch(() => undefined);
    return result;
  }

  /** Runs `initialize` (and seeding) once; a failed attempt is retried on the next call. */
  protected ensureReady(): Promise<void> {
    this.ready ??= (async () => {
      await this.initialize();
      if (this.seed) await this.seedIfEmpty(this.seed);
    })().catch((e: unknown) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  private async readCard(version: string): Promise<ModelCard | undefined> {
    const raw = await this.readCardBytes(version);
    return raw === undefined ? undefined : parseStoredCard(raw, version);
  }

  private async aliasDocument(): Promise<AliasDocument> {
    const stored = await this.readAliasDocument();
    return stored ? parseAliasDocument(stored.bytes) : { aliases: {}, history: {} };
  }

  private record(doc: AliasDocument, alias: string, action: AliasHistoryEntry['action'], version: string, previous: string | undefined, meta: AliasChangeMeta): void {
    const entry: AliasHistoryEntry = {
      alias,
      action,
      version,
      ...(previous !== undefined ? { previous } : {}),
      at: this.now().toISOString(),
      ...(meta.by !== undefined ? { by: meta.by } : {}),
      ...(meta.reason !== undefined ? { reason: meta.reason } : {}),
      ...(meta.forced ? { forced: true } : {}),
    };
    doc.aliases[alias] = version;
    (doc.history[alias] ??= []).push(entry);
  }

  /**
   * Read-modify-write of the alias document: serialized within this process, and retried when the backend reports
   * that another process changed the document in between (on backends with conditional writes).
   */
  private updateAliases(mutate: (doc: AliasDocument) => { change: AliasChange; changed?: boolean }): Promise<AliasChange> {
    const run = async (): Promise<AliasChange> => {
      for (let attempt = 0; attempt < ALIAS_WRITE_ATTEMPTS; attempt++) {
        const stored = await this.readAliasDocument();
        const doc = stored ? parseAliasDocument(stored.bytes) : { aliases: {}, history: {} };
        const { change, changed } = mutate(doc);
        if (!changed) return change;
        if (await this.writeAliasDocument(aliasDocumentToBytes(doc), stored?.token)) return change;
      }
      throw new LvsegError('conflict', 'MODEL_ALIAS_CONCURRENT_UPDATE', `aliases changed concurrently ${ALIAS_WRITE_ATTEMPTS} times in a row; try again`);
    };
    const result = this.aliasQueue.then(run, run);
    this.aliasQueue = result.catch(() => undefined);
    return result;
  }

  private async seedIfEmpty(seed: ModelStore): Promise<void> {
    if ((await this.readAliasDocument()) !== undefined) return;
    for (const card of await seed.list()) {
      if ((await this.readCardBytes(card.version)) !== undefined) continue;
      const { files } = await seed.load(card.version); // verified: a broken seed fails here, loudly
      try {
        await this.writeVersion(card, serializeCard(card), files);
      } catch (e) {
        if (!isLvsegError(e, 'conflict')) throw e; // another process seeded the same version meanwhile
      }
    }
    const doc: AliasDocument = { aliases: await seed.aliases(), history: {} };
    for (const alias of Object.keys(doc.aliases)) doc.history[alias] = await seed.aliasHistory(alias);
    // If another process wrote the alias document first, its document wins.
    await this.writeAliasDocument(aliasDocumentToBytes(doc), undefined);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function aliasDocumentToBytes(doc: AliasDocument): Buffer {
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`, 'utf8');
}

function parseAliasDocument(bytes: Buffer): AliasDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new LvsegError('integrity', 'MODEL_ALIASES_CORRUPT', `${ALIASES_FILE_NAME} is not valid JSON`);
  }
  const ok =
    typeof doc === 'object' && doc !== null &&
    isStringRecord((doc as AliasDocument).aliases) &&
    typeof (doc as AliasDocument).history === 'object' && (doc as AliasDocument).history !== null &&
    Object.values((doc as AliasDocument).history).every(Array.isArray);
  if (!ok) throw new LvsegError('integrity', 'MODEL_ALIASES_CORRUPT', `${ALIASES_FILE_NAME} does not have the shape { aliases: {…}, history: {…} }`);
  return doc as AliasDocument;
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

/**
 * Versions the alias has stood on, oldest first, with rolled-back moves popped off: `set` pushes, `rollback` pops.
 * So repeated rollbacks walk further back rather than toggling between two versions.
 */
function aliasStack(history: AliasHistoryEntry[], current: string): string[] {
  const stack: string[] = [];
  for (const entry of history) {
    if (entry.action === 'set') {
      // The first recorded move may start from a target that predates the history (e.g. a hand-written file).
      if (stack.length === 0 && entry.previous !== undefined) stack.push(entry.previous);
      stack.push(entry.version);
    } else {
      stack.pop();
    }
  }
  return stack[stack.length - 1] === current ? stack : [current];
}

/** The 'conflict' error for publishing onto an existing version id. */
export function versionExistsError(version: string): LvsegError {
  return new LvsegError('conflict', 'MODEL_VERSION_EXISTS', `model version ${version} already exists; versions are immutable`, { version });
}

function notFound(ref: string): LvsegError {
  return new LvsegError('not-found', 'MODEL_NOT_FOUND', `no model version or alias named ${ref}`, { ref });
}
