import type { ModelCard, NewModelVersion } from './model-card';

/** A card with its verified file bytes, as returned by `ModelStore.load`. */
export interface LoadedModel {
  card: ModelCard;
  files: Map<string, Buffer>;
}

/** Who moved an alias and why; kept in the alias history. */
export interface AliasChangeMeta {
  by?: string;
  reason?: string;
  /** Set by `promote` when the Dice bar was overridden. */
  forced?: boolean;
}

/** One recorded alias move. */
export interface AliasHistoryEntry extends AliasChangeMeta {
  alias: string;
  action: 'set' | 'rollback';
  version: string;
  previous?: string;
  /** ISO 8601, UTC. */
  at: string;
}

/** Result of moving an alias: where it pointed before (if anywhere) and where it points now. */
export interface AliasChange {
  alias: string;
  previous?: string;
  current: string;
}

/**
 * Versioned model registry. Versions are immutable once published; aliases (e.g. `production`) are movable
 * pointers with a history. A `ref` is an alias name or a version id; aliases are looked up first (alias names
 * are refused if they look like version ids, so the two never collide).
 */
export interface ModelStore {
  /** Where the store lives, e.g. `file:///srv/models` or `s3://models/lvseg`; for logs. */
  readonly uri: string;
  /** Stores a new immutable version and returns its card; 'conflict' if that version id already exists. */
  publish(version: NewModelVersion): Promise<ModelCard>;
  /** All published versions, newest first. */
  list(): Promise<ModelCard[]>;
  /** The card of a version or alias target; 'not-found' if unknown. */
  getCard(ref: string): Promise<ModelCard>;
  /** The version id a ref points at; 'not-found' if unknown. */
  resolve(ref: string): Promise<string>;
  /** Card and file bytes, each file checked against the card's sha256 and size ('integrity' otherwise). */
  load(ref: string): Promise<LoadedModel>;
  /** Current alias → version map. */
  aliases(): Promise<Record<string, string>>;
  /** Points `alias` at an existing `version`, recording who and why. */
  setAlias(alias: string, version: string, meta?: AliasChangeMeta): Promise<AliasChange>;
  /** Moves `alias` back to the version it pointed at before its latest move. */
  rollback(alias: string, meta?: AliasChangeMeta): Promise<AliasChange>;
  /** Every recorded move of `alias`, oldest first; empty if it was never set. */
  aliasHistory(alias: string): Promise<AliasHistoryEntry[]>;
  /**
   * Removes a version no alias needs: 'conflict' (MODEL_VERSION_IN_USE) when an alias points at it or would roll back
   * to it, 'not-found' when there is no such version. Its card goes first, so a half-done delete leaves no version.
   */
  delete(version: string): Promise<void>;
}
