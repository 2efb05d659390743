import { LvsegError, sha256Hex } from '@lvseg/common';

/** Metrics of one data split (train, val, test…): Dice and pixel accuracy plus any other named numbers. */
export interface SplitMetrics {
  dice: number;
  pixelAccuracy: number;
  [metric: string]: number;
}

/** Where the training data came from; `manifestSha256` pins the exact image list. */
export interface ModelDataProvenance {
  manifestSha256: string;
  source?: string;
  trainImages: number;
  valImages: number;
  /** For a data set made by `lvseg dataset import`: its source, query, counts and the manifest hash it wrote. */
  imported?: Record<string, unknown>;
}

/** Size and digest of one stored model file, checked on every load. */
export interface ModelFileEntry {
  sha256: string;
  bytes: number;
}

/** Everything recorded about one immutable model version. */
export interface ModelCard {
  version: string;
  architecture: string;
  parameterCount: number;
  /** e.g. [256, 256, 1] */
  inputShape: number[];
  /** e.g. ['background', 'lv'] */
  classes: string[];
  /** Free-form, e.g. `{ normalize: { lowPercentile: 1, highPercentile: 99 } }`. */
  preprocessing: Record<string, unknown>;
  hyperParameters: Record<string, unknown>;
  data: ModelDataProvenance;
  /** Keyed by split name, e.g. `metrics.val.dice`. */
  metrics: Record<string, SplitMetrics>;
  backend: string;
  trainingTimeMs: number;
  gitCommit: string;
  /** ISO 8601, UTC. */
  createdAt: string;
  files: Record<string, ModelFileEntry>;
  /** Version this one was fine-tuned from or replaces. */
  parent?: string;
  notes?: string;
  /** The training run that produced this version (its curves and heatmaps are in the run store). */
  runId?: string;
}

/** File contents by name, e.g. `model.json`, `weights.bin`. */
export type ModelFileContents = Map<string, Buffer | Uint8Array> | Record<string, Buffer | Uint8Array>;

/** What a caller hands to `publish`: the card without the fields the store assigns, plus the file bytes. */
export type NewModelVersion = Omit<ModelCard, 'version' | 'createdAt' | 'files'> & { files: ModelFileContents };

/** The card file stored next to the model files; no model file may use this name. */
export const CARD_FILE_NAME = 'card.json';

// One path segment: starts with a letter or digit, no slashes, no `..`, bounded length.
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const VERSION_ID_SUFFIX = /-\d{8}T\d{6}-[0-9a-f]{6}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

function isSafeSegment(name: unknown, maxLength: number): name is string {
  return typeof name === 'string' && name.length <= maxLength && SEGMENT.test(name) && !name.includes('..');
}

/** Throws 'invalid-input' unless `version` is a safe version name (one path segment, no traversal). */
export function assertVersionName(version: unknown): asserts version is string {
  if (!isSafeSegment(version, 128)) {
    throw new LvsegError('invalid-input', 'MODEL_VERSION_INVALID', `invalid model version name ${JSON.stringify(version)}: use letters, digits, '.', '_' or '-' (no slashes, no '..', at most 128 characters)`);
  }
}

/** Throws 'invalid-input' unless `alias` is a safe alias name that cannot be mistaken for a version id. */
export function assertAliasName(alias: unknown): asserts alias is string {
  if (!isSafeSegment(alias, 64)) {
    throw new LvsegError('invalid-input', 'MODEL_ALIAS_INVALID', `invalid alias name ${JSON.stringify(alias)}: use letters, digits, '.', '_' or '-' (no slashes, no '..', at most 64 characters)`);
  }
  // A ref is looked up as an alias first; an alias shaped like a version id would shadow that version.
  if (VERSION_ID_SUFFIX.test(alias)) {
    throw new LvsegError('invalid-input', 'MODEL_ALIAS_INVALID', `invalid alias name ${JSON.stringify(alias)}: it has the shape of a version id`);
  }
}

/** Throws 'invalid-input' unless `ref` could name a version or an alias. */
export function assertRef(ref: unknown): asserts ref is string {
  if (!isSafeSegment(ref, 128)) {
    throw new LvsegError('invalid-input', 'MODEL_REF_INVALID', `invalid model reference ${JSON.stringify(ref)}: expected a version id or an alias name`);
  }
}

/** Throws 'invalid-input' unless `name` is a safe model file name other than the card's own. */
export function assertModelFileName(name: unknown): asserts name is string {
  if (!isSafeSegment(name, 128) || name === CARD_FILE_NAME) {
    throw new LvsegError('invalid-input', 'MODEL_FILE_NAME_INVALID', `invalid model file name ${JSON.stringify(name)}: one path segment of letters, digits, '.', '_' or '-', not '${CARD_FILE_NAME}'`);
  }
}

/** `20250131T235959` from a date, in UTC. */
export function compactUtcStamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, '').replace(/[-:]/g, '');
}

/** sha256 over the sorted `name:sha256` list: the same files give the same digest whatever their order. */
export function contentSha256(files: Record<string, ModelFileEntry>): string {
  const lines = Object.keys(files)
    .sort()
    .map((name) => `${name}:${files[name].sha256}\n`);
  return sha256Hex(lines.join(''));
}

/** `<architecture>-<yyyymmddThhmmss>-<first 6 hex of the content sha>`. */
export function makeVersionId(architecture: string, createdAt: Date, contentSha: string): string {
  return `${architecture}-${compactUtcStamp(createdAt)}-${contentSha.slice(0, 6)}`;
}

const CARD_INPUT_KEYS = new Set([
  'architecture', 'parameterCount', 'inputShape', 'classes', 'preprocessing', 'hyperParameters', 'data',
  'metrics', 'backend', 'trainingTimeMs', 'gitCommit', 'parent', 'notes', 'files', 'runId',
]);

function invalid(message: string): LvsegError {
  return new LvsegError('invalid-input', 'MODEL_CARD_INVALID', `model card: ${message}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) && !Buffer.isBuffer(v);
}

function isNonNegativeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function nonEmptyString(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw invalid(`${field} must be a non-empty string`);
  return v;
}

function jsonRecord(v: unknown, field: string): Record<string, unknown> {
  if (!isPlainObject(v)) throw invalid(`${field} must be an object`);
  return JSON.parse(JSON.stringify(v)) as Record<string, unknown>;
}

function normalizeFiles(files: unknown): Map<string, Buffer> {
  let entries: [unknown, unknown][];
  if (files instanceof Map) entries = [...files.entries()];
  else if (isPlainObject(files)) entries = Object.entries(files);
  else throw invalid('files must be a Map or an object of name → bytes');
  if (entries.length === 0) throw invalid('files must hold at least one file');
  const out = new Map<string, Buffer>();
  for (const [name, bytes] of entries) {
    assertModelFileName(name);
    if (!(bytes instanceof Uint8Array)) throw invalid(`file ${name} must be a Buffer or Uint8Array`);
    out.set(name, Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
  return out;
}

function validateMetrics(v: unknown): Record<string, SplitMetrics> {
  if (!isPlainObject(v)) throw invalid('metrics must be an object keyed by split, e.g. { val: { dice, pixelAccuracy } }');
  const out: Record<string, SplitMetrics> = {};
  for (const [split, values] of Object.entries(v)) {
    if (!isSafeSegment(split, 64)) throw invalid(`metrics split name ${JSON.stringify(split)} is not a plain name`);
    if (!isPlainObject(values)) throw invalid(`metrics.${split} must be an object of numbers`);
    for (const [metric, n] of Object.entries(values)) {
      if (typeof n !== 'number' || !Number.isFinite(n)) throw invalid(`metrics.${split}.${metric} must be a finite number`);
    }
    for (const required of ['dice', 'pixelAccuracy']) {
      const n = values[required];
      if (typeof n !== 'number' || n < 0 || n > 1) throw invalid(`metrics.${split}.${required} must be a number in [0, 1]`);
    }
    out[split] = { ...(values as SplitMetrics) };
  }
  return out;
}

/**
 * Checks a publish request and returns the card body (without version/createdAt/files) and the file bytes.
 * Unknown top-level keys are refused so that a typo (`hyperparameters`) does not silently drop data.
 */
export function validateNewModelVersion(v: unknown): { body: Omit<ModelCard, 'version' | 'createdAt' | 'files'>; files: Map<string, Buffer> } {
  if (!isPlainObject(v)) throw invalid('expected an object');
  const unknownKeys = Object.keys(v).filter((k) => !CARD_INPUT_KEYS.has(k));
  if (unknownKeys.length > 0) throw invalid(`unknown field(s) ${unknownKeys.join(', ')}`);

  const architecture = v.architecture;
  if (!isSafeSegment(architecture, 48) || architecture.includes('.')) {
    throw invalid(`architecture ${JSON.stringify(architecture)} must be letters, digits, '_' or '-' (at most 48 characters)`);
  }
  if (!isNonNegativeInt(v.parameterCount)) throw invalid('parameterCount must be a non-negative integer');
  if (!Array.isArray(v.inputShape) || v.inputShape.length === 0 || !v.inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw invalid('inputShape must be a non-empty array of positive integers, e.g. [256, 256, 1]');
  }
  if (!Array.isArray(v.classes) || v.classes.length === 0 || !v.classes.every((c) => typeof c === 'string' && c !== '')) {
    throw invalid("classes must be a non-empty array of names, e.g. ['background', 'lv']");
  }
  const data = v.data;
  if (!isPlainObject(data)) throw invalid('data must be an object');
  if (typeof data.manifestSha256 !== 'string' || !SHA256_HEX.test(data.manifestSha256)) throw invalid('data.manifestSha256 must be 64 lowercase hex characters');
  if (data.source !== undefined && typeof data.source !== 'string') throw invalid('data.source must be a string');
  if (!isNonNegativeInt(data.trainImages) || !isNonNegativeInt(data.valImages)) throw invalid('data.trainImages and data.valImages must be non-negative integers');
  if (typeof v.trainingTimeMs !== 'number' || !Number.isFinite(v.trainingTimeMs) || v.trainingTimeMs < 0) throw invalid('trainingTimeMs must be a non-negative number');
  if (v.parent !== undefined) assertVersionName(v.parent);
  if (v.notes !== undefined && typeof v.notes !== 'string') throw invalid('notes must be a string');
  if (v.runId !== undefined && !isSafeSegment(v.runId, 128)) throw invalid(`runId ${JSON.stringify(v.runId)} is not a run id`);

  const body: Omit<ModelCard, 'version' | 'createdAt' | 'files'> = {
    architecture,
    parameterCount: v.parameterCount,
    inputShape: [...(v.inputShape as number[])],
    classes: [...(v.classes as string[])],
    preprocessing: jsonRecord(v.preprocessing, 'preprocessing'),
    hyperParameters: jsonRecord(v.hyperParameters, 'hyperParameters'),
    data: {
      manifestSha256: data.manifestSha256,
      ...(data.source !== undefined ? { source: data.source } : {}),
      trainImages: data.trainImages,
      valImages: data.valImages,
      ...(data.imported !== undefined ? { imported: jsonRecord(data.imported, 'data.imported') } : {}),
    },
    metrics: validateMetrics(v.metrics),
    backend: nonEmptyString(v.backend, 'backend'),
    trainingTimeMs: v.trainingTimeMs,
    gitCommit: nonEmptyString(v.gitCommit, 'gitCommit'),
    ...(v.parent !== undefined ? { parent: v.parent } : {}),
    ...(v.notes !== undefined ? { notes: v.notes } : {}),
    ...(v.runId !== undefined ? { runId: v.runId } : {}),
  };
  return { body, files: normalizeFiles(v.files) };
}

/** Builds the immutable card for a validated publish request at time `now`. */
export function buildModelCard(body: Omit<ModelCard, 'version' | 'createdAt' | 'files'>, files: Map<string, Buffer>, now: Date): ModelCard {
  const entries: Record<string, ModelFileEntry> = {};
  for (const name of [...files.keys()].sort()) {
    const bytes = files.get(name)!;
    entries[name] = { sha256: sha256Hex(bytes), bytes: bytes.length };
  }
  const version = makeVersionId(body.architecture, now, contentSha256(entries));
  const { parent, notes, ...rest } = body;
  return {
    version,
    ...rest,
    createdAt: now.toISOString(),
    files: entries,
    ...(parent !== undefined ? { parent } : {}),
    ...(notes !== undefined ? { notes } : {}),
  };
}

/** Parses a stored card and checks it is the card of `version`; anything else is an integrity failure. */
export function parseStoredCard(raw: Buffer, version: string): ModelCard {
  let card: unknown;
  try {
    card = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new LvsegError('integrity', 'MODEL_CARD_CORRUPT', `model ${version}: ${CARD_FILE_NAME} is not valid JSON`, { version });
  }
  if (!isPlainObject(card) || card.version !== version || !isPlainObject(card.files) || typeof card.createdAt !== 'string') {
    throw new LvsegError('integrity', 'MODEL_CARD_CORRUPT', `model ${version}: ${CARD_FILE_NAME} is not the card of this version`, { version });
  }
  for (const [name, entry] of Object.entries(card.files)) {
    if (!isSafeSegment(name, 128) || !isPlainObject(entry) || typeof entry.sha256 !== 'string' || !isNonNegativeInt(entry.bytes)) {
      throw new LvsegError('integrity', 'MODEL_CARD_CORRUPT', `model ${version}: ${CARD_FILE_NAME} has a malformed entry for file ${JSON.stringify(name)}`, { version });
    }
  }
  return card as unknown as ModelCard;
}

/** Serialized form of a card: pretty JSON so committed seed stores diff well. */
export function serializeCard(card: ModelCard): Buffer {
  return Buffer.from(`${JSON.stringify(card, null, 2)}\n`, 'utf8');
}
