import { basename, extname } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { InputScaling, LabelledImage, Manifest, MODEL_INPUT_SIZE, toModelInput } from '@lvseg/imaging';
import { EpochMetrics, TrainConfig, TrainHooks, heatmapLayers, layerActivationMaps, renderHeatmap } from '@lvseg/model';
import type { RunEpoch, RunStepProgress, RunStore } from '@lvseg/model-store';

/** Where and how a training run is recorded for the live monitor. */
export interface RunRecordingOptions {
  store: RunStore;
  /** Render the activation heatmaps every N epochs (plus the first and the last); 0: first and last only. */
  heatmapEvery: number;
  /** Where the one-line notices go (default stderr). */
  log?: (line: string) => void;
  /** Least milliseconds between two step-progress writes (default 1000); an epoch's last step is always written. */
  progressEveryMs?: number;
  /** Clock for the progress throttle and the epoch's elapsed seconds (tests). */
  nowMs?: () => number;
}

/** Step progress goes to the store at most once a second by default: it is for the live monitor only. */
export const PROGRESS_EVERY_MS = 1000;

/** True on the epochs that get a heatmap set: the first, the last and every `every`-th. */
export function isHeatmapEpoch(epoch: number, epochs: number, every: number): boolean {
  return epoch === 1 || epoch === epochs || (every > 0 && epoch % every === 0);
}

/** The fixed image the run's heatmaps show: the first of `candidates` in manifest order (undefined when there are none). */
export function firstByManifestOrder(manifest: Manifest, candidates: LabelledImage[]): LabelledImage | undefined {
  // Same id rule as @lvseg/imaging's loader: `<case>/<image file name without extension>`.
  const order = new Map(manifest.rows.map((r, k) => [`${r.case}/${basename(r.image, extname(r.image))}`, k]));
  let best: LabelledImage | undefined;
  for (const c of candidates) {
    if (!best || (order.get(c.id) ?? Infinity) < (order.get(best.id) ?? Infinity)) best = c;
  }
  return best;
}

/** An epoch's metrics in the run store's shape. */
export function toRunEpoch(m: EpochMetrics): RunEpoch {
  return {
    epoch: m.epoch,
    loss: m.trainLoss,
    train: { pixelAccuracy: m.trainPixelAccuracy, dice: m.trainDice },
    ...(m.val ? { val: { pixelAccuracy: m.val.pixelAccuracy, dice: m.val.dice } } : {}),
    learningRate: m.learningRate,
    seconds: m.ms / 1000,
  };
}

/**
 * Records one training run in the run store: every epoch's metrics and, on heatmap epochs, each heatmap layer's
 * activation map for one fixed val image. Recording must never cost the training run: store writes are queued
 * (training goes on while they happen), and a failed write or render is logged once and otherwise ignored.
 */
export class RunRecorder {
  private pending: Promise<void> = Promise.resolve();
  private failures = 0;
  /** Wall time spent rendering heatmaps, for the log line at the end. */
  private renderMs = 0;
  private renderedEpochs = 0;
  /** Step progress: when the current epoch started, the latest report not yet written, and whether a write is queued. */
  private epochStartedMs = 0;
  private unsentProgress: RunStepProgress | undefined;
  private progressQueued = false;
  private lastProgressMs = -Infinity;

  private constructor(
    readonly runId: string,
    private readonly store: RunStore,
    private readonly layers: string[],
    private readonly valImage: LabelledImage | undefined,
    private readonly epochs: number,
    private readonly heatmapEvery: number,
    private readonly log: (line: string) => void,
    private readonly progressEveryMs: number,
    private readonly nowMs: () => number,
    /** The run's input scaling: the heatmaps show what the network sees. */
    private readonly inputScaling: InputScaling | undefined,
  ) {}

  /** Creates the run; undefined (after one logged line) when the store cannot, so training goes on unrecorded. */
  static async start(
    opts: RunRecordingOptions,
    run: {
      cfg: TrainConfig; manifest: Manifest; dataSource: string; valImage: LabelledImage | undefined; hyperParameters: Record<string, unknown>;
      /** A resumed run's earlier epochs (`lvseg train --resume`): recorded first, so the monitor's curves start at epoch 1. */
      priorEpochs?: EpochMetrics[];
    },
  ): Promise<RunRecorder | undefined> {
    const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const layers = heatmapLayers(run.cfg.arch);
    try {
      const created = await opts.store.createRun({
        architecture: run.cfg.arch,
        hyperParameters: run.hyperParameters,
        manifestSha256: run.manifest.sha256,
        valImageId: run.valImage?.id ?? null,
        layers: run.valImage ? layers : [],
        epochs: run.cfg.epochs,
        dataSource: run.dataSource,
      });
      log(`recording run ${created.id} in ${opts.store.uri}${run.valImage ? ` (heatmaps of ${run.valImage.id})` : ' (no val image: no heatmaps)'}`);
      const progressEveryMs = Math.max(0, opts.progressEveryMs ?? PROGRESS_EVERY_MS);
      const recorder = new RunRecorder(created.id, opts.store, layers, run.valImage, run.cfg.epochs, Math.max(0, Math.floor(opts.heatmapEvery)), log, progressEveryMs, opts.nowMs ?? Date.now, run.cfg.inputScaling);
      for (const m of run.priorEpochs ?? []) recorder.enqueue(() => opts.store.recordEpoch(created.id, toRunEpoch(m)));
      return recorder;
    } catch (e) {
      log(`run store ${opts.store.uri}: cannot create the run record, training goes on unrecorded: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** Training hooks that record each epoch (and its heatmaps on heatmap epochs) and, throttled, the step progress. */
  hooks(): TrainHooks {
    return {
      onEpochStart: () => {
        this.epochStartedMs = this.nowMs();
      },
      onStep: (info) => {
        this.noteStep({ epoch: info.epoch, step: info.step, steps: info.steps, epochSeconds: (this.nowMs() - this.epochStartedMs) / 1000, loss: info.loss });
      },
      onEpochEnd: (metrics, model) => {
        this.enqueue(() => this.store.recordEpoch(this.runId, toRunEpoch(metrics)));
        if (this.valImage && isHeatmapEpoch(metrics.epoch, this.epochs, this.heatmapEvery)) {
          // Rendered now, from this epoch's weights; only the writes are deferred.
          const pngs = this.renderHeatmaps(model, this.valImage);
          if (pngs) this.enqueue(() => this.store.recordHeatmaps(this.runId, metrics.epoch, pngs));
        }
      },
    };
  }

  /** Waits for queued writes, then marks the run finished with the published version. */
  async finish(version?: string): Promise<void> {
    await this.settle();
    await this.guard(() => this.store.finishRun(this.runId, { status: 'finished', version }));
    if (this.renderedEpochs > 0) this.log(`run ${this.runId}: ${this.renderedEpochs} heatmap sets rendered, ${Math.round(this.meanRenderMs)} ms each on average`);
  }

  /** Waits for queued writes, then marks the run failed with the error's message. */
  async fail(error: unknown): Promise<void> {
    await this.settle();
    await this.guard(() => this.store.finishRun(this.runId, { status: 'failed', error: error instanceof Error ? error.message : String(error) }));
  }

  /** Resolves once every store write queued so far is done (failed writes included: they are logged, not thrown). */
  idle(): Promise<void> {
    return this.pending;
  }

  /** Mean milliseconds spent rendering one heatmap set (NaN before any). */
  get meanRenderMs(): number {
    return this.renderedEpochs ? this.renderMs / this.renderedEpochs : NaN;
  }

  private renderHeatmaps(model: tf.LayersModel, image: LabelledImage): Map<string, Buffer> | undefined {
    const started = Date.now();
    try {
      const present = this.layers.filter((name) => model.layers.some((l) => l.name === name));
      const maps = layerActivationMaps(model, toModelInput(image.image, MODEL_INPUT_SIZE, this.inputScaling), present);
      const pngs = new Map(maps.map((m) => [m.layer, renderHeatmap(m, image.image).png]));
      this.renderMs += Date.now() - started;
      this.renderedEpochs++;
      return pngs;
    } catch (e) {
      this.noteFailure('render heatmaps', e);
      return undefined;
    }
  }

  /**
   * Keeps the latest step and writes it when the last write is at least `progressEveryMs` old (an epoch's last step
   * always), with at most one progress write queued: a slow store gets the newest step, not a backlog of old ones.
   */
  private noteStep(progress: RunStepProgress): void {
    this.unsentProgress = progress;
    const due = progress.step === progress.steps || this.nowMs() - this.lastProgressMs >= this.progressEveryMs;
    if (!due || this.progressQueued) return;
    this.progressQueued = true;
    this.lastProgressMs = this.nowMs();
    this.enqueue(async () => {
      const latest = this.unsentProgress;
      this.unsentProgress = undefined;
      this.progressQueued = false;
      if (latest) await this.store.recordProgress(this.runId, latest);
    });
  }

  private enqueue(write: () => Promise<unknown>): void {
    this.pending = this.pending.then(() => this.guard(write));
  }

  private async settle(): Promise<void> {
    await this.pending;
    if (this.failures > 1) this.log(`run ${this.runId}: ${this.failures} run-store operations failed in all (first one logged above)`);
  }

  private async guard(work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (e) {
      this.noteFailure('write to the run store', e);
    }
  }

  private noteFailure(what: string, e: unknown): void {
    this.failures++;
    // Once: a store that is down would otherwise print a line per epoch and per layer.
    if (this.failures === 1) this.log(`run ${this.runId}: could not ${what}, training goes on: ${(e as Error)?.message ?? String(e)}`);
  }
}
