import { basename } from 'node:path';
import { LvsegError } from '@lvseg/common';
import { LabelledImage, Manifest, loadDataset, perImageSplit } from '@lvseg/imaging';
import {
  BackendInfo, CASCADE_ARCHITECTURE, ZoomSpec, EpochMetrics, lvModelFromFiles, CascadeTrainConfig, LvModel, SplitMetrics, TrainConfig, TrainHooks, TrainResult, cascadeConfigFor, disposeLvModel, evaluateLvSplit,
  hasWeightShapesOf, cascadeSpecProblems, isValidZoom, validateTrainConfig, loadLvModelByRef, lvModelToFiles, lvParameterCount, trainCascade, trainConfigFor, trainModel,
} from '@lvseg/model';
import { ModelCard, ModelStore } from '@lvseg/model-store';
import { RunRecorder, RunRecordingOptions, firstByManifestOrder } from '../run-recorder';
import { gitCommit, requireDataDir } from '../store';
import { importedDataProvenance } from '../dataset-import/provenance';

export interface TrainCommandOptions {
  arch: string;
  data: string;
  overrides: Partial<TrainConfig>;
  /**
   * `by-patient` (default): fit on split=train, select on split=val. `paper`: the paper's protocol, a seeded
   * per-image 90/10 split of split=train only (234/26 on sunnybrook-png); the val split is never loaded.
   */
  protocol?: 'by-patient' | 'paper';
  notes?: string;
  /** Record the run (epochs, heatmaps, outcome) for the live monitor; omitted: not recorded. */
  recording?: RunRecordingOptions;
  /** Start from this trained model's weights (fine-tuning); its version is recorded as `initFrom`. */
  init?: { model: LvModel; version: string; architecture: string };
  /** Set when resuming (`loadResume`): the resumed version's epochs up to its kept one, which the new history starts with. */
  resumedHistory?: EpochMetrics[];
  /** Cascade only: epochs of the localiser stage (the other options set the segmenter stage). */
  localiserEpochs?: number;
  /** Cascade only: the localiser stage's learning rate and loss (default: the cascade recipe's). */
  localiserOverrides?: Partial<Pick<TrainConfig, 'learningRate' | 'loss'>>;
  /** Cascade only: share of a localiser pixel that must be expert LV for its target to say LV (`localiserCoverage`). */
  localiserCoverage?: number;
  /** Cascade only: share of the localiser's training images replaced by images without LV (`localiserNegativeProbability`). */
  localiserNegatives?: number;
  /** Cascade only: side of the segmenter's input (default: the cascade recipe's). */
  segmenterSize?: number;
  /** Cascade only: side of the localiser's input (a divisor of 256: 32, 64, 128 or 256; default: the recipe's 64). */
  localiserSize?: number;
  /** Cascade only: side of the segmenter's square ROI in mm (default: the cascade recipe's). */
  roiSideMm?: number;
  /** Cascade: the second look at small LVs (`CascadeSpec.zoom`). */
  zoom?: ZoomSpec;
  /** Cascade: extra passes per epoch over the train images with the smallest quarter of LVs (`smallLvRepeats`). */
  smallLvRepeats?: number;
  /** Cascade only: the segmenter's architecture (default: the cascade recipe's). */
  segmenterArch?: string;
  /** The commit recorded on the card (`config.gitCommit`, i.e. LVSEG_GIT_COMMIT); default: asked from git. */
  gitCommit?: string;
}

export interface TrainedModel {
  /** For a cascade: its segmenter stage's configuration (the whole one is `cascade`). */
  cfg: TrainConfig;
  cascade?: CascadeTrainConfig;
  /** For a cascade: the segmenter stage's result, with both stages' epochs in `history`. */
  result: TrainResult;
  /** The trained model, of either kind (for a single network, `result.model` itself). */
  lvModel: LvModel;
  manifest: Manifest;
  dataDir: string;
  protocol: 'by-patient' | 'paper';
  train: SplitMetrics;
  val: SplitMetrics;
  /** Set when the run is being recorded; `finish`/`fail` it once the version is (or is not) published. */
  recorder?: RunRecorder;
}

/** The model a fine-tuning run starts from: a version, alias or model folder whose card names its architecture. */
export async function loadInitModel(store: ModelStore, ref: string): Promise<NonNullable<TrainCommandOptions['init']>> {
  const { model, card, source } = await loadLvModelByRef(store, ref);
  if (!card) {
    disposeLvModel(model);
    throw new LvsegError('invalid-input', 'INIT_MODEL_NO_CARD', `--init-from ${ref}: ${source} has no card.json, so its architecture is unknown`);
  }
  return { model, version: card.version, architecture: card.architecture };
}

/** The recipe fields a card's hyperParameters carry over to a resumed run (not the run's outcome: bestEpoch, steps). */
const RESUMED_FIELDS = ['seed', 'epochs', 'batchSize', 'optimizer', 'learningRate', 'decayRate', 'decaySteps', 'loss', 'crop', 'lvCropProbability', 'augment', 'valEvery', 'mask', 'initializer', 'bias', 'inputScaling', 'workers'] as const;

/**
 * What `lvseg train --resume <ref>` runs: the version's architecture, protocol and recipe from its card (the given
 * `overrides`, e.g. a larger `epochs`, win), starting from its weights at its kept epoch (`bestEpoch`), which become
 * `startEpoch`; the new version's history starts with the resumed one's epochs up to there. A single network only.
 */
export async function loadResume(store: ModelStore, ref: string, overrides: Partial<TrainConfig>): Promise<Pick<TrainCommandOptions, 'arch' | 'protocol' | 'overrides' | 'init' | 'resumedHistory'>> {
  const { card, files } = await store.load(ref);
  if (card.architecture === CASCADE_ARCHITECTURE) throw new LvsegError('invalid-input', 'RESUME_UNSUPPORTED', `--resume ${ref}: ${card.version} is a cascade; only a single network's run can be resumed`);
  const hp = card.hyperParameters as Record<string, unknown>;
  const kept = hp.bestEpoch;
  if (!(Number.isInteger(kept) && (kept as number) >= 1)) throw new LvsegError('invalid-input', 'RESUME_UNSUPPORTED', `--resume ${ref}: the card of ${card.version} does not say which epoch its weights are from`);
  const recipe: Partial<TrainConfig> = {};
  for (const k of RESUMED_FIELDS) if (hp[k] !== undefined) (recipe as Record<string, unknown>)[k] = hp[k];
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const history = files.get('history.json');
  const resumedHistory = history ? (JSON.parse(history.toString('utf8')) as EpochMetrics[]).filter((h) => h.epoch <= (kept as number)) : [];
  const model = await lvModelFromFiles(files, card);
  return {
    arch: card.architecture,
    protocol: hp.protocol === 'paper' ? 'paper' : 'by-patient',
    overrides: { ...recipe, ...given, startEpoch: kept as number },
    init: { model, version: card.version, architecture: card.architecture },
    resumedHistory,
  };
}

/** Runs each hook set in order (the first's onEpochEnd finishes before the next starts). */
export function combineHooks(...sets: TrainHooks[]): TrainHooks {
  return {
    onEpochStart: (epoch, steps) => sets.forEach((h) => h.onEpochStart?.(epoch, steps)),
    onStep: (info) => sets.forEach((h) => h.onStep?.(info)),
    onEpochEnd: async (metrics, model) => {
      for (const h of sets) await h.onEpochEnd?.(metrics, model);
    },
  };
}

/** Load the data for a protocol: images to fit on and images to select on. */
export function protocolSplits(dir: string, protocol: 'by-patient' | 'paper', seed = 1234): { manifest: Manifest; fit: LabelledImage[]; select: LabelledImage[] } {
  if (protocol === 'paper') {
    const { manifest, items } = loadDataset(dir, { splits: ['train'] });
    const { fit, holdout } = perImageSplit(items, 0.1, seed);
    return { manifest, fit, select: holdout };
  }
  const { manifest, items } = loadDataset(dir, { splits: ['train', 'val'] });
  return { manifest, fit: items.filter((i) => i.split === 'train'), select: items.filter((i) => i.split === 'val') };
}

/** The architectures a run of `arch` may start from: its own, and for a cascade a unet-small (its segmenter). */
function initCompatible(arch: string, initArch: string): boolean {
  return initArch === arch || (arch === CASCADE_ARCHITECTURE && initArch === 'unet-small');
}

/** Train one model and measure it on both of its splits with the serving path. */
export async function trainAndEvaluate(opts: TrainCommandOptions, hooks: TrainHooks): Promise<TrainedModel> {
  const protocol = opts.protocol ?? 'by-patient';
  if (opts.init && !initCompatible(opts.arch, opts.init.architecture)) {
    throw new LvsegError('invalid-input', 'INIT_MODEL_MISMATCH', `--init-from ${opts.init.version} is a ${opts.init.architecture} model, not ${opts.arch}`);
  }
  if (opts.localiserSize !== undefined && (opts.arch !== CASCADE_ARCHITECTURE || ![32, 64, 128, 256].includes(opts.localiserSize))) {
    throw new LvsegError('invalid-input', 'INVALID_TRAIN_OPTION', `--localiser-size takes 32, 64, 128 or 256, and only with --arch cascade (got ${opts.localiserSize} with ${opts.arch})`);
  }
  if (opts.segmenterSize !== undefined && (opts.arch !== CASCADE_ARCHITECTURE || !Number.isInteger(opts.segmenterSize) || opts.segmenterSize < 32 || opts.segmenterSize % 16 !== 0)) {
    throw new LvsegError('invalid-input', 'INVALID_SEGMENTER_SIZE', `--segmenter-size takes a multiple of 16 of at least 32, and only with --arch cascade (got ${opts.segmenterSize} with ${opts.arch})`);
  }
  if (opts.roiSideMm !== undefined && (opts.arch !== CASCADE_ARCHITECTURE || !Number.isFinite(opts.roiSideMm) || opts.roiSideMm < 32 || opts.roiSideMm > 350)) {
    throw new LvsegError('invalid-input', 'INVALID_ROI_SIZE', `--roi-mm takes a side between 32 and 350 mm, and only with --arch cascade (got ${opts.roiSideMm} with ${opts.arch})`);
  }
  if (opts.zoom !== undefined) {
    const z = opts.zoom;
    const ok = opts.arch === CASCADE_ARCHITECTURE && isValidZoom(z);
    if (!ok) throw new LvsegError('invalid-input', 'INVALID_ZOOM', `--zoom takes factor,minSideMm,maxShare with factor in [1, 10], minSideMm in [16, 350] and maxShare in (0, 1], and only with --arch cascade (got ${JSON.stringify(z)} with ${opts.arch})`);
  }
  if (opts.localiserCoverage !== undefined && (opts.arch !== CASCADE_ARCHITECTURE || !Number.isFinite(opts.localiserCoverage) || opts.localiserCoverage < 0 || opts.localiserCoverage > 1)) {
    throw new LvsegError('invalid-input', 'INVALID_TRAIN_OPTION', `--localiser-coverage takes a share from 0 to 1, and only with --arch cascade (got ${opts.localiserCoverage} with ${opts.arch})`);
  }
  if (opts.localiserNegatives !== undefined && (opts.arch !== CASCADE_ARCHITECTURE || !Number.isFinite(opts.localiserNegatives) || opts.localiserNegatives < 0 || opts.localiserNegatives >= 1)) {
    throw new LvsegError('invalid-input', 'INVALID_TRAIN_OPTION', `--localiser-negatives takes a share from 0 to below 1, and only with --arch cascade (got ${opts.localiserNegatives} with ${opts.arch})`);
  }
  if (opts.arch !== CASCADE_ARCHITECTURE && Object.values(opts.localiserOverrides ?? {}).some((v) => v !== undefined)) {
    throw new LvsegError('invalid-input', 'INVALID_TRAIN_OPTION', `--localiser-learning-rate and --localiser-loss are for --arch cascade only (got ${opts.arch})`);
  }
  if (opts.smallLvRepeats !== undefined && (opts.arch !== CASCADE_ARCHITECTURE || !Number.isInteger(opts.smallLvRepeats) || opts.smallLvRepeats < 0 || opts.smallLvRepeats > 10)) {
    throw new LvsegError('invalid-input', 'INVALID_TRAIN_OPTION', `--small-lv-repeats takes an integer from 0 to 10, and only with --arch cascade (got ${opts.smallLvRepeats} with ${opts.arch})`);
  }
  const initFrom = opts.init ? { initFrom: opts.init.version } : {};
  const specOverrides = { ...(opts.localiserSize ? { localiserSize: opts.localiserSize } : {}), ...(opts.segmenterSize ? { segmenterSize: opts.segmenterSize } : {}), ...(opts.roiSideMm !== undefined ? { roiSideMm: opts.roiSideMm } : {}), ...(opts.zoom ? { zoom: opts.zoom } : {}) };
  const cascade = opts.arch === CASCADE_ARCHITECTURE ? cascadeConfigFor({ seed: opts.overrides.seed, smallLvRepeats: opts.smallLvRepeats, localiserCoverage: opts.localiserCoverage, localiserNegativeProbability: opts.localiserNegatives, spec: Object.keys(specOverrides).length ? specOverrides : undefined, localiser: { epochs: opts.localiserEpochs, workers: opts.overrides.workers, ...opts.localiserOverrides }, segmenter: { ...opts.overrides, ...initFrom, ...(opts.segmenterArch ? { arch: opts.segmenterArch } : {}) } }) : undefined;
  const cfg = cascade ? cascade.segmenter : trainConfigFor(opts.arch, { ...opts.overrides, ...initFrom });
  // Every option checked before any data is read.
  validateTrainConfig(cfg);
  if (cascade) {
    validateTrainConfig(cascade.localiser, 'localiser-');
    // The spec the trained version will carry must load again (lvModelFromFiles checks the same), so refuse it now.
    const problems = cascadeSpecProblems(cascade.spec);
    if (problems.length) throw new LvsegError('invalid-input', 'INVALID_TRAIN_OPTION', `the cascade spec would not load: ${problems.join('; ')}`);
  }
  if (cascade && !(Number.isInteger(cascade.localiser.epochs) && cascade.localiser.epochs >= 0)) {
    throw new LvsegError('invalid-input', 'INVALID_TRAIN_OPTION', `--localiser-epochs takes an integer ≥ 0, got ${cascade.localiser.epochs}`);
  }
  const dir = requireDataDir(opts.data);
  const { manifest, fit, select } = protocolSplits(dir, protocol);
  // The run record names the whole run: for a cascade, both stages' epochs in one sequence.
  const recordCfg = cascade ? { ...cfg, epochs: cascade.localiser.epochs + cascade.segmenter.epochs } : cfg;
  const recorder = opts.recording
    ? await RunRecorder.start(opts.recording, { cfg: recordCfg, manifest, dataSource: basename(dir), valImage: firstByManifestOrder(manifest, select), hyperParameters: { ...(cascade ?? cfg), protocol }, priorEpochs: opts.resumedHistory })
    : undefined;
  try {
    // The recorder's hooks run first, so an epoch is queued for the store before any caller hook sees it.
    const allHooks = recorder ? combineHooks(recorder.hooks(), hooks) : hooks;
    let result: TrainResult;
    let lvModel: LvModel;
    if (cascade) {
      const init = opts.init?.model;
      // A cascade whose segmenter is of another architecture lends only its localiser.
      const initSegmenter = init?.kind === 'cascade' ? (hasWeightShapesOf(init.segmenter, cascade.segmenter.arch) ? init.segmenter : undefined) : init?.model;
      const trained = await trainCascade(fit, select, cascade, allHooks, init ? { localiser: init.kind === 'cascade' ? init.localiser : undefined, segmenter: initSegmenter } : undefined);
      lvModel = trained.model;
      const seg = trained.segmenter;
      result = { ...seg, history: [...trained.localiser.history, ...seg.history], steps: trained.localiser.steps + seg.steps, trainMs: trained.localiser.trainMs + seg.trainMs };
    } else {
      result = await trainModel(fit, select, cfg, allHooks, opts.init?.model.kind === 'single' ? opts.init.model.model : undefined);
      if (opts.resumedHistory) result = { ...result, history: [...opts.resumedHistory, ...result.history] };
      lvModel = { kind: 'single', architecture: cfg.arch, model: result.model, inputScaling: cfg.inputScaling ?? 'normalize' };
    }
    return {
      cfg, cascade, result, lvModel, manifest, dataDir: dir, protocol,
      train: await evaluateLvSplit(lvModel, fit, cfg.mask),
      val: await evaluateLvSplit(lvModel, select, cfg.mask),
      recorder,
    };
  } catch (e) {
    await recorder?.fail(e);
    throw e;
  }
}

/** Train, publish the version (its card names the run) and finish the run record; the run is marked failed on any error. */
export async function trainAndPublish(store: ModelStore, backend: BackendInfo, opts: TrainCommandOptions, hooks: TrainHooks): Promise<{ trained: TrainedModel; card: ModelCard }> {
  const trained = await trainAndEvaluate(opts, hooks);
  let card: ModelCard;
  try {
    card = await publishTrained(store, backend, trained, opts.notes, opts.gitCommit);
  } catch (e) {
    await trained.recorder?.fail(e);
    throw e;
  }
  await trained.recorder?.finish(card.version);
  return { trained, card };
}

/** Publish a trained model as an immutable version with its model card (`commit`: the configured LVSEG_GIT_COMMIT, if any). */
export async function publishTrained(store: ModelStore, backend: BackendInfo, t: TrainedModel, notes?: string, commit?: string): Promise<ModelCard> {
  const files = await lvModelToFiles(t.lvModel);
  files.set('history.json', Buffer.from(JSON.stringify(t.result.history, null, 2)));
  const m = (s: SplitMetrics) => ({ dice: s.dice, pixelAccuracy: s.pixelAccuracy, images: s.images });
  return store.publish({
    architecture: t.cascade ? CASCADE_ARCHITECTURE : t.cfg.arch,
    parameterCount: lvParameterCount(t.lvModel),
    inputShape: [256, 256, 1],
    classes: ['background', 'lv'],
    preprocessing: {
      // What every serving path reads (inputScalingOf): a card without it predates the option and means normalize.
      inputScaling: t.cfg.inputScaling ?? 'normalize',
      normalize: (t.cfg.inputScaling ?? 'normalize') === 'raw-1024' ? 'none: modality pixel value / 1024 (the paper lab\'s input), not clipped' : 'per-image percentiles 0.5..99.5 -> [0,1], clipped',
      resample: t.cascade
        ? `localiser: bilinear to ${t.cascade.spec.localiserSize}x${t.cascade.spec.localiserSize}; segmenter: a ${t.cascade.spec.roiSideMm} mm square ROI around the localised LV (PixelSpacing, else a 350 mm field of view), bilinear to ${t.cascade.spec.segmenterSize}x${t.cascade.spec.segmenterSize}${t.cascade.spec.zoom ? `; a second look at small LVs on a region ${t.cascade.spec.zoom.factor} × the first mask's equivalent diameter (at least ${t.cascade.spec.zoom.minSideMm} mm), where that is below ${t.cascade.spec.zoom.maxShare} of the ROI` : ''}`
        : 'bilinear to 256x256',
      postprocess: t.cfg.mask,
      ...(t.cascade ? { cascade: t.cascade.spec } : {}),
    },
    hyperParameters: { ...(t.cascade ?? t.cfg), protocol: t.protocol, bestEpoch: t.result.bestEpoch, steps: t.result.steps },
    data: { manifestSha256: t.manifest.sha256, source: basename(t.dataDir), trainImages: t.train.images, valImages: t.val.images, ...importedDataProvenance(t.dataDir, t.manifest) },
    // Under the paper protocol "val" is the per-image holdout of the train split, and the card says so.
    metrics: { train: m(t.train), ...(t.val.images ? { val: m(t.val) } : {}) },
    backend: backend.name,
    trainingTimeMs: t.result.trainMs,
    gitCommit: gitCommit(commit),
    notes: notes ?? (t.protocol === 'paper' ? 'paper protocol: val = seeded per-image 10% holdout of split=train' : undefined),
    ...(t.recorder ? { runId: t.recorder.runId } : {}),
    files,
  });
}

/** How far below production a published version may score on the same val data before `lvseg train` warns. */
export const FAR_BELOW_PRODUCTION = 0.05;

/**
 * A warning when `card` scores far below the `production` alias's version on the same data source's val split (or
 * has val Dice 0: it learned nothing), else undefined. Nothing is refused: the version is published, no alias moves.
 */
export async function comparedWithProduction(store: ModelStore, card: ModelCard): Promise<string | undefined> {
  const dice = card.metrics.val?.dice;
  if (dice === undefined || !Number.isFinite(dice)) return undefined;
  if (dice === 0) return `${card.version} has val Dice 0.000: it finds no LV at all (too few epochs, or a learning rate that leaves the all-background solution). It is published; no alias points to it.`;
  const production = await store.getCard('production').catch(() => undefined);
  const reference = production?.metrics.val?.dice;
  const protocolOf = (c: ModelCard) => (c.hyperParameters as { protocol?: string }).protocol ?? 'by-patient';
  // Only like with like: the same data and the same by-patient val split (the paper protocol's "val" is another set).
  if (!production || reference === undefined || production.data.source !== card.data.source || protocolOf(card) !== 'by-patient' || protocolOf(production) !== 'by-patient') return undefined;
  if (dice >= reference - FAR_BELOW_PRODUCTION) return undefined;
  return `${card.version} scores val Dice ${dice.toFixed(4)}, far below production (${production.version}: ${reference.toFixed(4)} on the same ${card.data.source} val split). It is published; no alias points to it.`;
}
