import { DEFAULT_AUGMENTATION, NO_AUGMENTATION } from '@lvseg/imaging';
import { DEFAULT_MASK_OPTIONS } from '../segmentation';
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
