import { DEFAULT_AUGMENTATION, INPUT_SCALINGS, NO_AUGMENTATION } from '@lvseg/imaging';
import { DEFAULT_MASK_OPTIONS } from '../segmentation';
import { LvsegError } from '@lvseg/common';
import type { TrainConfig } from './trainer';

/**
 * Default hyper-parameters per architecture. `fcn-paper` follows the paper (SGD, exponential staircase decay,
 * its best: 0.03 / 0.75 / 10000 / 100 epochs, cross-entropy, no augmentation). `unet-small` is lvseg's recipe:
 * Adam, cross-entropy + soft Dice, 128² crops at full resolution, flips/rotations/intensity augmentation.
 */
export const RECIPES: Record<string, Omit<TrainConfig, 'arch'>> = {
  'fcn-paper': {
    seed: 1,
    epochs: 100,
    batchSize: 4,
    optimizer: 'sgd',
    learningRate: 0.03,
    decayRate: 0.75,
    decaySteps: 10000,
    loss: 'ce',
    crop: 0,
    lvCropProbability: 0,
    augment: NO_AUGMENTATION,
    valEvery: 5,
    mask: DEFAULT_MASK_OPTIONS,
  },
  'unet-small': {
    seed: 1,
    epochs: 40,
    batchSize: 8,
    optimizer: 'adam',
    learningRate: 0.002,
    decayRate: 0.5,
    decaySteps: 400,
    loss: 'ce+dice',
    crop: 128,
    lvCropProbability: 0.75,
    augment: DEFAULT_AUGMENTATION,
    valEvery: 5,
    mask: DEFAULT_MASK_OPTIONS,
  },
};

/** The recipe of an architecture with overrides applied. */
export function trainConfigFor(arch: string, overrides: Partial<TrainConfig> = {}): TrainConfig {
  const base = RECIPES[arch] ?? RECIPES['unet-small'];
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...base, arch, ...defined } as TrainConfig;
}

/**
 * Refuses a configuration no run should start with, naming the `lvseg train` option: called before any data is
 * loaded, so `--epochs -1` fails at once instead of publishing an untrained model.
 */
export function validateTrainConfig(cfg: TrainConfig, stage = ''): void {
  // `stage` prefixes the option names (`localiser-`: --localiser-learning-rate, as the CLI spells a cascade's localiser options).
  const bad = (option: string, rule: string, value: unknown): never => {
    throw new LvsegError('invalid-input', 'INVALID_TRAIN_OPTION', `--${stage}${option} ${rule}, got ${value}`);
  };
  const positiveInt = (option: string, v: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!(Number.isInteger(v) && v >= 1 && v <= max)) bad(option, `takes an integer from 1${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}`, v);
  };
  if (!(Number.isInteger(cfg.epochs) && cfg.epochs >= 0)) bad('epochs', 'takes an integer ≥ 0 (0: evaluate the starting weights only)', cfg.epochs);
  positiveInt('batch-size', cfg.batchSize, 1024);
  positiveInt('val-every', cfg.valEvery);
  positiveInt('decay-steps', cfg.decaySteps);
  if (!Number.isInteger(cfg.seed)) bad('seed', 'takes an integer', cfg.seed);
  if (!(Number.isFinite(cfg.learningRate) && cfg.learningRate >= 0 && cfg.learningRate <= 10)) bad('learning-rate', 'takes a number from 0 to 10', cfg.learningRate);
  if (!(cfg.decayRate > 0 && cfg.decayRate <= 1)) bad('decay-rate', 'takes a number in (0, 1]', cfg.decayRate);
  if (!(cfg.crop === 0 || (Number.isInteger(cfg.crop) && cfg.crop >= 32 && cfg.crop <= 256 && cfg.crop % 16 === 0))) bad('crop', 'takes 0 (whole images) or a multiple of 16 from 32 to 256', cfg.crop);
  if (cfg.workers !== undefined) positiveInt('workers', cfg.workers, 64);
  if (cfg.averageFrom !== undefined) positiveInt('average-from', cfg.averageFrom, Math.max(1, cfg.epochs));
  if (cfg.startEpoch !== undefined) {
    if (!(Number.isInteger(cfg.startEpoch) && cfg.startEpoch >= 0 && cfg.startEpoch < cfg.epochs)) bad('epochs', `must exceed the ${cfg.startEpoch} epochs already run by the resumed version`, cfg.epochs);
    if (cfg.initFrom === undefined) bad('resume', 'needs the version to resume from', 'none');
  }
  const scaling = cfg.inputScaling ?? 'normalize';
  if (!INPUT_SCALINGS.includes(scaling)) bad('input-scaling', `takes ${INPUT_SCALINGS.join(' or ')}`, scaling);
  // raw-1024 is the paper lab's input for the lab's network; its values exceed 1 on DICOM, where the intensity
  // augmentation clips at 1, and a cascade's stages take crops of one normalize()d image.
  if (scaling !== 'normalize' && cfg.arch !== 'fcn-paper') bad('input-scaling', `takes ${scaling} only with --arch fcn-paper (this stage is ${cfg.arch})`, scaling);
  if (scaling !== 'normalize' && (cfg.augment.gamma || cfg.augment.contrast)) bad('input-scaling', `takes ${scaling} only without intensity augmentation (which clips at 1)`, scaling);
}
