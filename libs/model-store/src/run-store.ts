import { randomBytes } from 'node:crypto';
import { LvsegError } from '@lvseg/common';
import { compactUtcStamp } from './model-card';

/** Where a training run stands: `running` until the trainer finishes it (or it dies without saying so). */
export type RunStatus = 'running' | 'finished' | 'failed';

/** Pixel accuracy and Dice of one split at one epoch; null when the value was not a finite number (e.g. a diverged run). */
export interface RunSplitMetrics {
  pixelAccuracy: number | null;
  dice: number | null;
}

/** What one epoch of a run measured (the curves of the paper's Figure 3). */
export interface RunEpoch {
  epoch: number;
  /** Mean training loss over the epoch; null when not finite. */
  loss: number | null;
  /** Pooled over the epoch's (augmented) training batches. */
  train: RunSplitMetrics;
  /** Absent on epochs without a validation pass. */
  val?: RunSplitMetrics;
  learningRate: number;
  seconds: number;
}

/** Where the trainer is within an epoch, as it reports it (live progress for the monitor; the epochs hold the results). */
export interface RunStepProgress {
  epoch: number;
  /** Steps (batches) done in this epoch, 1..steps. */
  step: number;
  steps: number;
  /** Wall seconds since the epoch started, so a reader can estimate the time left without trusting clocks. */
  epochSeconds: number;
  /** The last step's training loss; null when not finite. */
  loss: number | null;
}

/** The stored progress (`runs/<id>/progress.json`), overwritten as training goes. */
export interface RunProgress extends RunStepProgress {
  /** ISO 8601, UTC: when the trainer wrote it. */
  updatedAt: string;
}

/** What the trainer knows when a run starts. */
export interface NewTrainingRun {
  architecture: string;
  hyperParameters: Record<string, unknown>;
  /** sha256 of the data manifest, as on the model card. */
  manifestSha256: string;
  /** Id of the fixed validation image the heatmaps are rendered for (first val image by manifest order); null if none. */
  valImageId: string | null;
  /** Layers heatmaps are recorded for, in network order. */
  layers: string[];
  /** Planned number of epochs, so a page can show progress. */
  epochs?: number;
  /** Data folder name, e.g. `sunnybrook-png` (never a patient identifier). */
  dataSource?: string;
}

/** The stored record of one training run (`runs/<id>/run.json`). */
export interface TrainingRun extends NewTrainingRun {
  id: string;
  status: RunStatus;
  /** ISO 8601, UTC. */
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  /** The model version the run published. */
  version?: string;
  /** Why a failed run failed (an error message, no patient data). */
  error?: string;
}

/** A run in a listing, with where it has got to. */
export interface RunSummary extends TrainingRun {
  /** Number of the last recorded epoch; null before the first one ends. */
  latestEpoch: number | null;
  /** The last recorded epoch's metrics, if any. */
  latest: RunEpoch | null;
}

/** A run with everything recorded so far. */
export interface RunDetail {
  run: TrainingRun;
  epochs: RunEpoch[];
  /** Epochs with a heatmap set, ascending, with the layers recorded for each. */
  heatmaps: Array<{ epoch: number; layers: string[] }>;
  /** The trainer's latest step report, once it has sent one. */
  progress?: RunProgress;
}

/** How a run ended. */
export interface RunOutcome {
  status: 'finished' | 'failed';
  /** The published model version (finished runs). */
  version?: string;
  error?: string;
}

/**
 * Records of training runs, kept beside the model versions in the same store location:
 * `runs/<id>/run.json`, `runs/<id>/epochs.json`, `runs/<id>/heatmaps.json` (index), `runs/<id>/heatmaps/<epoch>/<layer>.png`
 * and `runs/<id>/progress.json` (the latest step, overwritten).
 * Every object is written whole (S3 has no append); one trainer writes a run, any number of readers follow it.
 */
export interface RunStore {
  /** Where the runs live, e.g. `file:///srv/models/runs` or `s3://models/lvseg/runs/`; for logs. */
  readonly uri: string;
  /** Starts a run (status `running`) and returns its record with a fresh id. */
  createRun(run: NewTrainingRun): Promise<TrainingRun>;
  /** Adds (or replaces, same epoch number) one epoch's metrics. */
  recordEpoch(id: string, epoch: RunEpoch): Promise<void>;
  /** Stores one epoch's heatmap PNGs by layer name; the epoch is listed only once all of them are stored. */
  recordHeatmaps(id: string, epoch: number, pngs: Map<string, Buffer>): Promise<void>;
  /** Replaces the run's step progress (the trainer throttles these: they are for the live monitor only). */
  recordProgress(id: string, progress: RunStepProgress): Promise<void>;
  /** Marks the run finished (with its version) or failed. */
  finishRun(id: string, outcome: RunOutcome): Promise<TrainingRun>;
  /** All runs, newest first. */
  listRuns(): Promise<RunSummary[]>;
  /** One run with its epochs and heatmap index; 'not-found' if unknown. */
  getRun(id: string): Promise<RunDetail>;
  /** One heatmap PNG; 'not-found' if the run, epoch or layer has none. */
  readHeatmap(id: string, epoch: number, layer: string): Promise<Buffer>;
}

export const RUNS_DIR = 'runs';
const RUN_FILE = 'run.json';
const EPOCHS_FILE = 'epochs.json';
const HEATMAP_INDEX_FILE = 'heatmaps.json';
const HEATMAPS_DIR = 'heatmaps';
const PROGRESS_FILE = 'progress.json';

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const MAX_EPOCH = 1_000_000;

function safeSegment(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length <= max && SEGMENT.test(v) && !v.includes('..');
}

/** Throws 'invalid-input' (RUN_ID_INVALID) unless `id` is a safe run id (one path segment, no traversal). */
export function assertRunId(id: unknown): asserts id is string {
  if (!safeSegment(id, 128)) {
    throw new LvsegError('invalid-input', 'RUN_ID_INVALID', `invalid run id ${JSON.stringify(id)}: use letters, digits, '.', '_' or '-' (no slashes, no '..', at most 128 characters)`);
  }
}

/** Throws 'invalid-input' (RUN_LAYER_INVALID) unless `layer` is a safe layer name. */
export function assertRunLayerName(layer: unknown): asserts layer is string {
  if (!safeSegment(layer, 64) || layer.includes('.')) {
    throw new LvsegError('invalid-input', 'RUN_LAYER_INVALID', `invalid layer name ${JSON.stringify(layer)}: use letters, digits, '_' or '-' (at most 64 characters)`);
  }
}

/** Parses an epoch number from a path or argument; 'invalid-input' (RUN_EPOCH_INVALID) unless a positive integer. */
export function parseRunEpoch(epoch: unknown): number {
  const n = typeof epoch === 'number' ? epoch : typeof epoch === 'string' && /^[0-9]{1,7}$/.test(epoch) ? Number(epoch) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_EPOCH) {
    throw new LvsegError('invalid-input', 'RUN_EPOCH_INVALID', `invalid epoch ${JSON.stringify(epoch)}: expected an integer from 1 to ${MAX_EPOCH}`);
  }
  return n;
}

/** `run-<yyyymmddThhmmss>-<6 random hex>`: sorts by start time, unique across concurrent trainers. */
export function makeRunId(now: Date): string {
  return `run-${compactUtcStamp(now)}-${randomBytes(3).toString('hex')}`;
}

function invalid(message: string): LvsegError {
  return new LvsegError('invalid-input', 'RUN_RECORD_INVALID', `training run: ${message}`);
}

function runNotFound(id: string): LvsegError {
  return new LvsegError('not-found', 'RUN_NOT_FOUND', `no training run ${id}`, { runId: id });
}

function finiteOrNull(v: unknown, field: string): number | null {
  if (v === null || (typeof v === 'number' && !Number.isFinite(v))) return null;
  if (typeof v !== 'number') throw invalid(`${field} must be a number or null`);
  return v;
}

function splitMetrics(v: unknown, field: string): RunSplitMetrics {
  if (typeof v !== 'object' || v === null) throw invalid(`${field} must be { pixelAccuracy, dice }`);
  const m = v as Record<string, unknown>;
  return { pixelAccuracy: finiteOrNull(m.pixelAccuracy, `${field}.pixelAccuracy`), dice: finiteOrNull(m.dice, `${field}.dice`) };
}

/** Checks an epoch record and returns a clean copy (non-finite numbers become null). */
export function validateRunEpoch(e: RunEpoch): RunEpoch {
  if (typeof e !== 'object' || e === null) throw invalid('epoch must be an object');
  const epoch = parseRunEpoch(e.epoch);
  if (typeof e.learningRate !== 'number' || !Number.isFinite(e.learningRate)) throw invalid('learningRate must be a finite number');
  if (typeof e.seconds !== 'number' || !Number.isFinite(e.seconds) || e.seconds < 0) throw invalid('seconds must be a non-negative number');
  return {
    epoch,
    loss: finiteOrNull(e.loss, 'loss'),
    train: splitMetrics(e.train, 'train'),
    ...(e.val !== undefined ? { val: splitMetrics(e.val, 'val') } : {}),
    learningRate: e.learningRate,
    seconds: e.seconds,
  };
}

/** Checks a step report and returns a clean copy; 'invalid-input' (RUN_RECORD_INVALID) when it makes no sense. */
export function validateRunStepProgress(p: RunStepProgress): RunStepProgress {
  if (typeof p !== 'object' || p === null) throw invalid('progress must be an object');
  const epoch = parseRunEpoch(p.epoch);
  if (!Number.isInteger(p.steps) || p.steps < 1) throw invalid('progress.steps must be a positive integer');
  if (!Number.isInteger(p.step) || p.step < 0 || p.step > p.steps) throw invalid(`progress.step must be an integer from 0 to steps (${p.steps})`);
  if (typeof p.epochSeconds !== 'number' || !Number.isFinite(p.epochSeconds) || p.epochSeconds < 0) throw invalid('progress.epochSeconds must be a non-negative number');
  return { epoch, step: p.step, steps: p.steps, epochSeconds: p.epochSeconds, loss: finiteOrNull(p.loss, 'progress.loss') };
}

function validateNewRun(r: NewTrainingRun): NewTrainingRun {
  if (typeof r !== 'object' || r === null) throw invalid('expected an object');
  if (!safeSegment(r.architecture, 48)) throw invalid(`architecture ${JSON.stringify(r.architecture)} must be a plain name`);
  if (typeof r.hyperParameters !== 'object' || r.hyperParameters === null || Array.isArray(r.hyperParameters)) throw invalid('hyperParameters must be an object');
  if (typeof r.manifestSha256 !== 'string' || !SHA256_HEX.test(r.manifestSha256)) throw invalid('manifestSha256 must be 64 lowercase hex characters');
  if (r.valImageId !== null && (typeof r.valImageId !== 'string' || r.valImageId.length > 256)) throw invalid('valImageId must be a string or null');
  if (!Array.isArray(r.layers)) throw invalid('layers must be an array of layer names');
  r.layers.forEach((l) => assertRunLayerName(l));
  if (r.epochs !== undefined && !(Number.isInteger(r.epochs) && r.epochs >= 0)) throw invalid('epochs must be a non-negative integer');
  if (r.dataSource !== undefined && typeof r.dataSource !== 'string') throw invalid('dataSource must be a string');
  return {
    architecture: r.architecture,
    hyperParameters: JSON.parse(JSON.stringify(r.hyperParameters)) as Record<string, unknown>,
    manifestSha256: r.manifestSha256,
    valImageId: r.valImageId,
    layers: [...r.layers],
    ...(r.epochs !== undefined ? { epochs: r.epochs } : {}),
    ...(r.dataSource !== undefined ? { dataSource: r.dataSource } : {}),
  };
}

function toJsonBytes(v: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(v, null, 2)}\n`, 'utf8');
}

type HeatmapIndex = Record<string, string[]>;

/** Options every run store accepts. */
export interface RunStoreCommonOptions {
  /** Clock for ids and timestamps; defaults to the system clock. */
  now?: () => Date;
}

/**
 * Run-record logic shared by the file and S3 run stores: validation, ids, the JSON documents and the per-run write
 * queue. Subclasses only move whole objects by key (relative to the store root, e.g. `runs/<id>/run.json`).
 */
export abstract class RunStoreCore implements RunStore {
  abstract readonly uri: string;
  protected readonly now: () => Date;
  private readonly queues = new Map<string, Promise<unknown>>();

  protected constructor(options: RunStoreCommonOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** One object's bytes, or undefined if absent. */
  protected abstract readObject(key: string): Promise<Buffer | undefined>;
  /** Writes one object whole; readers see the old bytes or the new ones, never part. */
  protected abstract writeObject(key: string, bytes: Buffer, contentType: string): Promise<void>;
  /** Ids of the runs that have a `run.json`. */
  protected abstract listRunIds(): Promise<string[]>;

  async createRun(request: NewTrainingRun): Promise<TrainingRun> {
    const body = validateNewRun(request);
    const at = this.now();
    const run: TrainingRun = { id: makeRunId(at), ...body, status: 'running', createdAt: at.toISOString(), updatedAt: at.toISOString() };
    // epochs.json first: a run that is listed always has an (empty) epoch list.
    await this.writeObject(this.key(run.id, EPOCHS_FILE), toJsonBytes([]), 'application/json');
    await this.writeObject(this.key(run.id, RUN_FILE), toJsonBytes(run), 'application/json');
    return run;
  }

  async recordEpoch(id: string, epoch: RunEpoch): Promise<void> {
    assertRunId(id);
    const clean = validateRunEpoch(epoch);
    return this.serialized(id, async () => {
      await this.requireRun(id);
      const epochs = (await this.readEpochs(id)).filter((e) => e.epoch !== clean.epoch);
      epochs.push(clean);
      epochs.sort((a, b) => a.epoch - b.epoch);
      await this.writeObject(this.key(id, EPOCHS_FILE), toJsonBytes(epochs), 'application/json');
    });
  }

  async recordHeatmaps(id: string, epoch: number, pngs: Map<string, Buffer>): Promise<void> {
    assertRunId(id);
    const n = parseRunEpoch(epoch);
    for (const [layer, bytes] of pngs) {
      assertRunLayerName(layer);
      if (!Buffer.isBuffer(bytes) || bytes.length < 8 || bytes.readUInt32BE(0) !== 0x89504e47) throw invalid(`heatmap ${layer} is not a PNG`);
    }
    return this.serialized(id, async () => {
      await this.requireRun(id);
      for (const [layer, bytes] of pngs) await this.writeObject(this.heatmapKey(id, n, layer), bytes, 'image/png');
      // The index goes last, so an epoch is listed only when all its images can be read.
      const index = await this.readHeatmapIndex(id);
      index[String(n)] = [...new Set([...(index[String(n)] ?? []), ...pngs.keys()])];
      await this.writeObject(this.key(id, HEATMAP_INDEX_FILE), toJsonBytes(index), 'application/json');
    });
  }

  async recordProgress(id: string, progress: RunStepProgress): Promise<void> {
    assertRunId(id);
    const clean = validateRunStepProgress(progress);
    return this.serialized(id, async () => {
      await this.requireRun(id);
      const stored: RunProgress = { ...clean, updatedAt: this.now().toISOString() };
      await this.writeObject(this.key(id, PROGRESS_FILE), toJsonBytes(stored), 'application/json');
    });
  }

  async finishRun(id: string, outcome: RunOutcome): Promise<TrainingRun> {
    assertRunId(id);
    if (outcome.status !== 'finished' && outcome.status !== 'failed') throw invalid(`status must be finished or failed, got ${JSON.stringify(outcome.status)}`);
    if (outcome.version !== undefined && !safeSegment(outcome.version, 128)) throw invalid(`version ${JSON.stringify(outcome.version)} is not a version id`);
    return this.serialized(id, async () => {
      const run = await this.requireRun(id);
      const at = this.now().toISOString();
      const done: TrainingRun = {
        ...run,
        status: outcome.status,
        updatedAt: at,
        finishedAt: at,
        ...(outcome.version !== undefined ? { version: outcome.version } : {}),
        ...(outcome.error !== undefined ? { error: String(outcome.error).slice(0, 500) } : {}),
      };
      await this.writeObject(this.key(id, RUN_FILE), toJsonBytes(done), 'application/json');
      return done;
    });
  }

  async listRuns(): Promise<RunSummary[]> {
    const ids = (await this.listRunIds()).filter((id) => safeSegment(id, 128));
    const summaries = await Promise.all(
      ids.map(async (id): Promise<RunSummary | undefined> => {
        const run = await this.readRun(id);
        if (!run) return undefined;
        const epochs = await this.readEpochs(id);
        const latest = epochs.length > 0 ? epochs[epochs.length - 1] : null;
        return { ...run, latestEpoch: latest?.epoch ?? null, latest };
      }),
    );
    return summaries
      .filter((s): s is RunSummary => s !== undefined)
      .sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
  }

  async getRun(id: string): Promise<RunDetail> {
    assertRunId(id);
    const run = await this.requireRun(id);
    const [epochs, index, progress] = await Promise.all([this.readEpochs(id), this.readHeatmapIndex(id), this.readProgress(id)]);
    const heatmaps = Object.entries(index)
      .map(([epoch, layers]) => ({ epoch: Number(epoch), layers: [...layers] }))
      .sort((a, b) => a.epoch - b.epoch);
    return { run, epochs, heatmaps, ...(progress ? { progress } : {}) };
  }

  async readHeatmap(id: string, epoch: number, layer: string): Promise<Buffer> {
    assertRunId(id);
    const n = parseRunEpoch(epoch);
    assertRunLayerName(layer);
    await this.requireRun(id);
    const bytes = await this.readObject(this.heatmapKey(id, n, layer));
    if (!bytes) {
      throw new LvsegError('not-found', 'RUN_HEATMAP_NOT_FOUND', `run ${id} has no heatmap of layer ${layer} at epoch ${n}`, { runId: id, epoch: n, layer });
    }
    return bytes;
  }

  private key(id: string, name: string): string {
    return `${RUNS_DIR}/${id}/${name}`;
  }

  private heatmapKey(id: string, epoch: number, layer: string): string {
    return `${RUNS_DIR}/${id}/${HEATMAPS_DIR}/${epoch}/${layer}.png`;
  }

  private async readJson(key: string): Promise<unknown> {
    const bytes = await this.readObject(key);
    if (bytes === undefined) return undefined;
    try {
      return JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new LvsegError('integrity', 'RUN_RECORD_CORRUPT', `${key} is not valid JSON`);
    }
  }

  private async readRun(id: string): Promise<TrainingRun | undefined> {
    const run = (await this.readJson(this.key(id, RUN_FILE))) as TrainingRun | undefined;
    if (run === undefined) return undefined;
    if (typeof run !== 'object' || run === null || run.id !== id || typeof run.status !== 'string') {
      throw new LvsegError('integrity', 'RUN_RECORD_CORRUPT', `${this.key(id, RUN_FILE)} is not the record of run ${id}`);
    }
    return run;
  }

  private async requireRun(id: string): Promise<TrainingRun> {
    const run = await this.readRun(id);
    if (!run) throw runNotFound(id);
    return run;
  }

  private async readEpochs(id: string): Promise<RunEpoch[]> {
    const epochs = await this.readJson(this.key(id, EPOCHS_FILE));
    if (epochs === undefined) return [];
    if (!Array.isArray(epochs)) throw new LvsegError('integrity', 'RUN_RECORD_CORRUPT', `${this.key(id, EPOCHS_FILE)} is not a list`);
    return epochs as RunEpoch[];
  }

  private async readHeatmapIndex(id: string): Promise<HeatmapIndex> {
    const index = await this.readJson(this.key(id, HEATMAP_INDEX_FILE));
    if (index === undefined) return {};
    if (typeof index !== 'object' || index === null || Array.isArray(index)) {
      throw new LvsegError('integrity', 'RUN_RECORD_CORRUPT', `${this.key(id, HEATMAP_INDEX_FILE)} is not an object`);
    }
    return index as HeatmapIndex;
  }

  private async readProgress(id: string): Promise<RunProgress | undefined> {
    const progress = (await this.readJson(this.key(id, PROGRESS_FILE))) as RunProgress | undefined;
    if (progress === undefined) return undefined;
    if (typeof progress !== 'object' || progress === null || typeof progress.step !== 'number' || typeof progress.steps !== 'number') {
      throw new LvsegError('integrity', 'RUN_RECORD_CORRUPT', `${this.key(id, PROGRESS_FILE)} is not a progress record`);
    }
    return progress;
  }

  /** Read-modify-write of one run's documents, one at a time within this process (one trainer writes a run). */
  private serialized<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(id) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.catch(() => undefined);
    this.queues.set(id, tail);
    void tail.then(() => {
      if (this.queues.get(id) === tail) this.queues.delete(id);
    });
    return result;
  }
}
