import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import type * as Ort from 'onnxruntime-node';
import { LvsegError, sha256Hex } from '@lvseg/common';
import type { LvsegConfig } from '@lvseg/config';
import { loadDataset, readManifest } from '@lvseg/imaging';
import { INT8_CALIBRATION_FILE, Int8Calibration, LvModel, calibrateLvModel, disposeLvModel, initBackend, lvModelFromFiles } from '@lvseg/model';
import { ModelCard, ModelStore, openConfiguredStore } from '@lvseg/model-store';
import { gitCommit, requireDataDir } from '../store';

export interface QuantizeOptions {
  /** Data set folder (manifest layout). */
  data: string;
  /** Split the ranges are measured on: a training split, never the one models are selected on (default train). */
  split?: string;
  /** Use every n-th image of the split (default 1: all). */
  every?: number;
  weightBits?: 7 | 8;
  /**
   * Networks to quantise (default: a cascade's `segmenter` only, a single network's `model`). A cascade's localiser is
   * left in float by default: it costs ~3 ms of the ~30, and in INT8 it flips found/not-found on borderline images.
   */
  networks?: string[];
}

/** onnxruntime-node, or a clear error: calibration runs the exported graphs on it. */
export function requireOnnxRuntime(): typeof Ort {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require('onnxruntime-node') as typeof Ort;
  } catch (e) {
    throw new LvsegError('unsupported', 'ONNX_RUNTIME_MISSING', `INT8 calibration needs onnxruntime-node: ${String((e as Error).message).split('\n')[0]}`);
  }
}

/** The networks quantised when none are named: a cascade's segmenter (see `QuantizeOptions.networks`), else all. */
export function defaultNetworks(model: LvModel): string[] {
  return model.kind === 'cascade' ? ['segmenter'] : ['model'];
}

/**
 * The INT8 calibration of a loaded model on a data split: each network's activation ranges on the inputs serving
 * gives it for the split's images (exported with the options the onnx engine uses, so the tensor names match).
 */
export async function calibrateModel(model: LvModel, card: Pick<ModelCard, 'classes'>, opts: QuantizeOptions): Promise<Int8Calibration> {
  const split = opts.split ?? 'train';
  if (split === 'val') throw new LvsegError('invalid-input', 'CALIBRATION_SPLIT', 'calibrate on a training split: val is where models are measured and selected');
  const dir = requireDataDir(opts.data);
  const { items } = loadDataset(dir, { splits: [split] });
  const every = opts.every ?? 1;
  const chosen = items.filter((_, k) => k % every === 0);
  if (chosen.length === 0) throw new LvsegError('not-found', 'SPLIT_NOT_FOUND', `${dir} has no images in split "${split}"`);
  const lv = card.classes.indexOf('lv');
  const manifestSha256 = sha256Hex(readFileSync(join(dir, 'manifest.csv')));
  return calibrateLvModel(
    requireOnnxRuntime(),
    model,
    chosen.map((it) => it.image),
    { source: basename(dir), split, images: chosen.length, manifestSha256 },
    { output: { kind: 'class-probability', classIndex: lv >= 0 ? lv : 1 } },
    { weightBits: opts.weightBits ?? 8, networks: opts.networks ?? defaultNetworks(model) },
  );
}

/**
 * `lvseg models quantize <ref>`: calibrates a version for INT8 serving and publishes it again with
 * `int8-calibration.json` beside its unchanged files (versions are immutable; the new one names it as parent and
 * keeps its card's metrics, which are the float network's).
 */
export async function quantizeVersion(store: ModelStore, ref: string, opts: QuantizeOptions & { gitCommit?: string }): Promise<{ card: ModelCard; calibration: Int8Calibration }> {
  const { card, files } = await store.load(ref);
  if (files.has(INT8_CALIBRATION_FILE)) throw new LvsegError('conflict', 'MODEL_ALREADY_CALIBRATED', `${card.version} already carries ${INT8_CALIBRATION_FILE}`);
  readManifest(requireDataDir(opts.data)); // fail on a bad folder before loading the model
  const model = await lvModelFromFiles(files, card);
  let calibration: Int8Calibration;
  try {
    calibration = await calibrateModel(model, card, opts);
  } finally {
    disposeLvModel(model);
  }
  const out = new Map(files);
  out.set(INT8_CALIBRATION_FILE, Buffer.from(JSON.stringify(calibration, null, 2)));
  const { version, createdAt: _createdAt, files: _files, parent: _parent, notes, ...body } = card;
  const note = `${card.version} with an INT8 calibration (${calibration.method}, ${calibration.weightBits}-bit weights, ${calibration.data.images} ${calibration.data.split} images); weights unchanged, metrics are the float network's`;
  const published = await store.publish({ ...body, gitCommit: gitCommit(opts.gitCommit), parent: version, notes: notes ? `${note}. ${notes}` : note, files: out });
  return { card: published, calibration };
}

/** Registers `lvseg models quantize <ref>` on the `models` command (`cfg`: the CLI's one configuration). */
export function registerQuantizeCommand(models: Command, cfg: LvsegConfig): void {
  models
    .command('quantize <ref>')
    .description('calibrate a version for INT8 serving on the onnx engine (activation ranges on the train split) and publish it with int8-calibration.json')
    .option('--data <dir>', 'data set folder with manifest.csv (default: <data root>/sunnybrook-png)')
    .option('--split <name>', 'split to calibrate on (a training split; val is refused)', 'train')
    .option('--every <n>', 'use every n-th image of the split', (v) => Number(v), 1)
    .option('--weight-bits <n>', '8, or 7 (reduce range: no int16 saturation in AVX2 u8s8 kernels)', (v) => Number(v), 8)
    .option('--networks <names>', 'comma list of the networks to quantise (default: a cascade\'s segmenter only, which keeps its localiser\'s found/not-found decisions those of float; localiser,segmenter for both)')
    .action(async (ref: string, o: { data?: string; split: string; every: number; weightBits: number; networks?: string }) => {
      if (!(Number.isInteger(o.every) && o.every >= 1)) throw new LvsegError('invalid-input', 'INVALID_OPTION', '--every takes a positive integer');
      if (o.weightBits !== 7 && o.weightBits !== 8) throw new LvsegError('invalid-input', 'INVALID_OPTION', '--weight-bits takes 7 or 8');
      const info = await initBackend({ forced: cfg.backend });
      process.stderr.write(`tfjs backend: ${info.name} (${info.reason})\n`);
      const t0 = Date.now();
      const { card, calibration } = await quantizeVersion(openConfiguredStore(cfg), ref, { data: o.data ?? `${cfg.dataDir}/sunnybrook-png`, split: o.split, every: o.every, weightBits: o.weightBits, gitCommit: cfg.gitCommit, networks: o.networks?.split(',').map((n) => n.trim()).filter(Boolean) });
      const counts = Object.entries(calibration.networks).map(([name, n]) => `${name}: ${n.inputs} inputs, ${Object.keys(n.ranges).length} ranges`).join('; ');
      process.stdout.write(`published ${card.version} (parent ${card.parent}) with ${INT8_CALIBRATION_FILE}: ${counts}; ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    });
}
