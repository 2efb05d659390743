import { randomBytes } from 'node:crypto';
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

/**
 * The alias document of stores written before the alias log (and of seeded stores): read as the log's starting state,
 * never rewritten by this version.
 */
export interface AliasDocument {
  aliases: Record<string, string>;
  history: Record<string, AliasHistoryEntry[]>;
}

export const ALIASES_FILE_NAME = 'aliases.json';
/** Where alias moves live, relative to the store root or prefix: one immutable object per move. */
export const ALIAS_LOG_DIR = 'aliases/log';

/**
 * `<sequence>-<UTC time>-<128-bit random hex>.json`. Names sort in log order: the sequence is one more than the highest
 * the writer saw (so a move sorts after every move its writer saw, whatever the clocks say), the time is for people,
 * and the random part makes the name one no other writer can produce and breaks ties between concurrent moves.
 */
const ALIAS_LOG_ENTRY_NAME = /^(\d{12})-(\d{8}T\d{6}\.\d{3}Z)-([0-9a-f]{32})\.json$/;

const LOG_READ_CONCURRENCY = 16;

/** Options every store implementation accepts. */
export interface ModelStoreCommonOptions {
  /** Clock for `createdAt`, version ids and alias history; defaults to the system clock. */
  now?: () => Date;
}

/**
 * Registry logic shared by the file and S3 stores: validation, version ids, integrity checks, the alias log and
 * seeding. Subclasses only move bytes; they must make `writeVersion` all-or-nothing and refuse existing versions.
 *
 * Aliases are an append-only log: every move is a new immutable object under a name no other writer can produce, and
 * the alias state is the fold of `aliases.json` (if any, from earlier versions or seeding) and then every log entry in
 * name order. No object is ever rewritten, so no move depends on a conditional write: two processes moving aliases at
 * the same instant both land, and every reader that lists the same entries computes the same state.
 */
export abstract class StoreCore implements ModelStore {
  abstract readonly uri: string;
  protected readonly now: () => Date;
  private ready: Promise<void> | undefined;
  private aliasQueue: Promise<unknown> = Promise.resolve();
  /** Log entries already read; they are immutable, so a cached entry never goes stale. */
  private readonly logCache = new Map<string, AliasHistoryEntry>();

  protected constructor(
    options: ModelStoreCommonOptions,
    /** Copied in (versions and aliases) the first time this store is used while it has no aliases at all. */
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
  /** Removes a version's card, which makes the version absent (its files stay until `deleteVersionFiles`). */
  protected abstract deleteCard(version: string): Promise<void>;
  /** Puts a card removed by `deleteCard` back, whole, when a delete has to be undone. */
  protected abstract restoreCard(version: string, cardBytes: Buffer): Promise<void>;
  /** Removes what is left of a version once its card is gone. */
  protected abstract deleteVersionFiles(version: string): Promise<void>;
  /** `aliases.json`, or undefined if there is none. */
  protected abstract readAliasDocument(): Promise<Buffer | undefined>;
  /** Writes `aliases.json` unless it exists (used only when seeding; a concurrent seeder's document may win). */
  protected abstract createAliasDocument(bytes: Buffer): Promise<void>;
  /** Names of the objects in the alias log directory (anything; names that are not log entries are ignored). */
  protected abstract listAliasLog(): Promise<string[]>;
  /** One alias log entry; undefined if it does not exist. */
  protected abstract readAliasLogEntry(name: string): Promise<Buffer | undefined>;
  /** Creates a log entry so that readers see all of it or nothing; the name is unique, so this never replaces one. */
  protected abstract writeAliasLogEntry(name: string, bytes: Buffer): Promise<void>;

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
    const state = await this.aliasState();
    const target = state.aliases.get(ref);
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
    return Object.fromEntries((await this.aliasState()).aliases);
  }

  async aliasHistory(alias: string): Promise<AliasHistoryEntry[]> {
    assertAliasName(alias);
    await this.ensureReady();
    return ((await this.aliasState()).history.get(alias) ?? []).map((e) => ({ ...e }));
  }

  async setAlias(alias: string, version: string, meta: AliasChangeMeta = {}): Promise<AliasChange> {
    assertAliasName(alias);
    assertVersionName(version);
    await this.ensureReady();
    if ((await this.readCardBytes(version)) === undefined) {
      throw new LvsegError('not-found', 'MODEL_NOT_FOUND', `cannot point alias ${alias} at ${version}: no such model version`, { version });
    }
    return this.serialized(async () => {
      const state = await this.aliasState();
      const previous = state.aliases.get(alias);
      // Re-pointing at the current target is a no-op; recording it would make rollback land on the same version.
      if (previous === version) return { alias, previous, current: version };
      await this.appendMove(state, alias, 'set', version, previous, meta);
      return { alias, ...(previous !== undefined ? { previous } : {}), current: version };
    });
  }

  async rollback(alias: string, meta: AliasChangeMeta = {}): Promise<AliasChange> {
    assertAliasName(alias);
    await this.ensureReady();
    return this.serialized(async () => {
      const state = await this.aliasState();
      const current = state.aliases.get(alias);
      if (current === undefined) throw new LvsegError('not-found', 'MODEL_ALIAS_NOT_FOUND', `alias ${alias} does not exist`, { alias });
      const target = rollbackTarget(state, alias);
      if (target === undefined) {
        throw new LvsegError('conflict', 'MODEL_ALIAS_NO_PREVIOUS', `alias ${alias} has no earlier version to roll back to`, { alias });
      }
      // The entry names its target, so the fold never has to re-derive it from a view that may since have changed.
      await this.appendMove(state, alias, 'rollback', target, current, meta);
      return { alias, previous: current, current: target };
    });
  }

  async delete(version: string): Promise<void> {
    assertVersionName(version);
    await this.ensureReady();
    // Serialized with this process's alias moves: none of them can point at the version while it goes.
    return this.serialized(async () => {
      refuseIfNeeded(await this.aliasState(), version);
      const cardBytes = await this.readCardBytes(version);
      if (cardBytes === undefined) throw new LvsegError('not-found', 'MODEL_NOT_FOUND', `no model version ${version}`, { version });
      // Other processes check the card before they point an alias at a version, so once it is gone no new move can
      // target this one. A move that checked just before may have landed since the check above: look again, and
      // put the card back if so.
      await this.deleteCard(version);
      try {
        refuseIfNeeded(await this.aliasState(), version);
      } catch (e) {
        await this.restoreCard(version, cardBytes);
        throw e;
      }
      await this.deleteVersionFiles(version);
    });
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

  /** The alias state now: `aliases.json` (if any) folded with every log entry, in name order. */
  private async aliasState(): Promise<AliasState> {
    const [listed, base] = await Promise.all([this.listAliasLog(), this.readAliasDocument()]);
    const names = listed.filter((n) => ALIAS_LOG_ENTRY_NAME.test(n)).sort();
    const missing = names.filter((n) => !this.logCache.has(n));
    // A few reads at a time: the first read of a long log should not open thousands of connections at once.
    for (let i = 0; i < missing.length; i += LOG_READ_CONCURRENCY) {
      const batch = missing.slice(i, i + LOG_READ_CONCURRENCY);
      const read = await Promise.all(batch.map(async (n) => [n, await this.readAliasLogEntry(n)] as const));
      for (const [name, bytes] of read) {
        // Listed but gone: only possible if someone deleted it by hand; the fold goes on without it.
        if (bytes !== undefined) this.logCache.set(name, parseLogEntry(bytes, name));
      }
    }
    const state = initialAliasState(base === undefined ? undefined : parseAliasDocument(base));
    for (const name of names) {
      const entry = this.logCache.get(name);
      if (entry) applyMove(state, entry);
    }
    state.lastSequence = names.length === 0 ? 0 : Number(ALIAS_LOG_ENTRY_NAME.exec(names[names.length - 1])![1]);
    return state;
  }

  private async appendMove(state: AliasState, alias: string, action: AliasHistoryEntry['action'], version: string, previous: string | undefined, meta: AliasChangeMeta): Promise<void> {
    const at = this.now();
    const entry: AliasHistoryEntry = {
      alias,
      action,
      version,
      ...(previous !== undefined ? { previous } : {}),
      at: at.toISOString(),
      ...(meta.by !== undefined ? { by: meta.by } : {}),
      ...(meta.reason !== undefined ? { reason: meta.reason } : {}),
      ...(meta.forced ? { forced: true } : {}),
    };
    const name = aliasLogEntryName(state.lastSequence + 1, at);
    await this.writeAliasLogEntry(name, Buffer.from(`${JSON.stringify(entry, null, 2)}\n`, 'utf8'));
    this.logCache.set(name, entry);
  }

  /** Runs alias reads-then-writes of this process one at a time, so each sees the moves made before it. */
  private serialized<T>(run: () => Promise<T>): Promise<T> {
    const result = this.aliasQueue.then(run, run);
    this.aliasQueue = result.catch(() => undefined);
    return result;
  }

  private async seedIfEmpty(seed: ModelStore): Promise<void> {
    if ((await this.readAliasDocument()) !== undefined) return;
    if ((await this.listAliasLog()).some((n) => ALIAS_LOG_ENTRY_NAME.test(n))) return;
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
    // The seeded aliases become the log's starting state. Two processes seeding at once write the same seed.
    await this.createAliasDocument(Buffer.from(`${JSON.stringify(doc, null, 2)}\n`, 'utf8'));
  }
}

/**
 * The folded alias state. `stacks` holds, per alias, the versions it has stood on with rolled-back moves removed; its
 * top is always the alias's current version, and the entry below the top is where `rollback` goes.
 */
interface AliasState {
  aliases: Map<string, string>;
  history: Map<string, AliasHistoryEntry[]>;
  stacks: Map<string, string[]>;
  /** Highest sequence number in the log (0 when empty); the next move gets one more. */
  lastSequence: number;
}

function initialAliasState(doc: AliasDocument | undefined): AliasState {
  const state: AliasState = { aliases: new Map(), history: new Map(), stacks: new Map(), lastSequence: 0 };
  if (!doc) return state;
  for (const [alias, current] of Object.entries(doc.aliases)) {
    const history = Object.hasOwn(doc.history, alias) ? doc.history[alias] : [];
    for (const entry of history) applyMove(state, entry);
    // A hand-written or inconsistent document: trust its current target and forget the stack (as before the log).
    if (state.aliases.get(alias) !== current) {
      state.aliases.set(alias, current);
      state.stacks.set(alias, [current]);
    }
    state.history.set(alias, [...history]);
  }
  // History of aliases the document does not list is not part of the state.
  for (const alias of [...state.history.keys()]) if (!Object.hasOwn(doc.aliases, alias)) state.history.delete(alias);
  return state;
}

/**
 * Applies one move. The alias always ends on the entry's `version`, so the state is simply the last entry per alias.
 * The stack (for later rollbacks):
 * - `set v`: pushes v (unless v is already on top: two processes set the same version at once).
 * - `rollback` to t: cuts the stack back to the latest t below the top, i.e. to the state in which t was current, so a
 *   rollback computed from a stale view also undoes moves it did not see; if t is already on top (two processes rolled
 *   back from the same view) nothing changes, so the second rollback is not a second step back; if t is not on the
 *   stack at all (hand-edited history) it is pushed.
 * For moves made one at a time this is exactly "set pushes, rollback pops".
 */
function applyMove(state: AliasState, entry: AliasHistoryEntry): void {
  const stack = state.stacks.get(entry.alias) ?? [];
  // The first recorded move may start from a target that predates the history (e.g. a hand-written file).
  if (stack.length === 0 && entry.previous !== undefined) stack.push(entry.previous);
  const top = stack[stack.length - 1];
  if (entry.action === 'set' || top === undefined) {
    if (top !== entry.version) stack.push(entry.version);
  } else if (top !== entry.version) {
    const at = stack.lastIndexOf(entry.version, stack.length - 2);
    if (at >= 0) stack.length = at + 1;
    else stack.push(entry.version);
  }
  state.stacks.set(entry.alias, stack);
  state.aliases.set(entry.alias, entry.version);
  const history = state.history.get(entry.alias) ?? [];
  history.push(entry);
  state.history.set(entry.alias, history);
}

/** Throws 'conflict' (MODEL_VERSION_IN_USE) when an alias points at `version` or would roll back to it. */
function refuseIfNeeded(state: AliasState, version: string): void {
  for (const [alias, current] of state.aliases) {
    const why = current === version ? 'points at it' : rollbackTarget(state, alias) === version ? 'would roll back to it' : undefined;
    if (why) throw new LvsegError('conflict', 'MODEL_VERSION_IN_USE', `cannot delete ${version}: alias ${alias} ${why}`, { version, alias });
  }
}

/** Where `rollback(alias)` goes from the current state, or undefined when there is no earlier version. */
function rollbackTarget(state: AliasState, alias: string): string | undefined {
  const stack = state.stacks.get(alias) ?? [];
  return stack.length >= 2 ? stack[stack.length - 2] : undefined;
}

function aliasLogEntryName(sequence: number, at: Date): string {
  const time = at.toISOString().replace(/[-:]/g, ''); // 20250304T080000.000Z: sortable, and a legal file name anywhere
  return `${String(sequence).padStart(12, '0')}-${time}-${randomBytes(16).toString('hex')}.json`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
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
    Object.values((doc as AliasDocument).history).every((h) => Array.isArray(h) && h.every(isHistoryEntry));
  if (!ok) throw new LvsegError('integrity', 'MODEL_ALIASES_CORRUPT', `${ALIASES_FILE_NAME} does not have the shape { aliases: {…}, history: {…} }`);
  return doc as AliasDocument;
}

function parseLogEntry(bytes: Buffer, name: string): AliasHistoryEntry {
  let entry: unknown;
  try {
    entry = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new LvsegError('integrity', 'MODEL_ALIASES_CORRUPT', `alias log entry ${name} is not valid JSON`, { entry: name });
  }
  if (!isHistoryEntry(entry)) {
    throw new LvsegError('integrity', 'MODEL_ALIASES_CORRUPT', `alias log entry ${name} is not one alias move { alias, action, version, at, … }`, { entry: name });
  }
  return entry;
}

function isHistoryEntry(v: unknown): v is AliasHistoryEntry {
  const e = v as Partial<AliasHistoryEntry> | null;
  return (
    typeof e === 'object' && e !== null &&
    typeof e.alias === 'string' && typeof e.version === 'string' && typeof e.at === 'string' &&
    (e.action === 'set' || e.action === 'rollback') &&
    (e.previous === undefined || typeof e.previous === 'string')
  );
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

/** The 'conflict' error for publishing onto an existing version id. */
export function versionExistsError(version: string): LvsegError {
  return new LvsegError('conflict', 'MODEL_VERSION_EXISTS', `model version ${version} already exists; versions are immutable`, { version });
}

function notFound(ref: string): LvsegError {
  return new LvsegError('not-found', 'MODEL_NOT_FOUND', `no model version or alias named ${ref}`, { ref });
}
