import { LvsegError } from '@lvseg/common';
import { BinaryMask, GrayImage } from './image';
import { normalize } from './normalize';
import { resizeBilinear, resizeMaskNearest } from './resample';

/** Side of the square input every lvseg model takes (the paper's 256×256). */
export const MODEL_INPUT_SIZE = 256;

/**
 * How a model's input intensities are made from the image's modality pixel values (recorded on its card as
 * `preprocessing.inputScaling`; a card without it means `normalize`):
 * - `normalize`: lvseg's `normalize()`, per-image 0.5th/99.5th percentiles to [0, 1], clipped;
 * - `raw-1024`: the paper lab's input, modality value / 1024, no min-max, no mean subtraction, no clipping (for the
 *   PNG set, whose 8-bit pixels the data set's maker already min-max scaled to 0–255, that is value / 1024).
 */
export type InputScaling = 'normalize' | 'raw-1024';
export const INPUT_SCALINGS: readonly InputScaling[] = ['normalize', 'raw-1024'];

/** The divisor of `raw-1024` (the lab's `1/1024` multiplier). */
const RAW_DIVISOR = 1024;

/**
 * The input scaling a model was trained with, from its card's `preprocessing` (`inputScaling`); a card without the
 * field predates the option and means `normalize`. An unknown value is refused rather than served with the wrong input.
 */
export function inputScalingOf(card: { preprocessing?: unknown } | undefined): InputScaling {
  const value = (card?.preprocessing as { inputScaling?: unknown } | undefined)?.inputScaling;
  if (value === undefined) return 'normalize';
  if (!INPUT_SCALINGS.includes(value as InputScaling)) {
    throw new LvsegError('unsupported', 'UNKNOWN_INPUT_SCALING', `the model card's preprocessing.inputScaling is ${JSON.stringify(value)}; this lvseg knows ${INPUT_SCALINGS.join(', ')}`);
  }
  return value as InputScaling;
}

function scaleIntensities(image: GrayImage, scaling: InputScaling): Float32Array {
  if (scaling === 'normalize') return normalize(image);
  if (scaling === 'raw-1024') return Float32Array.from(image.data, (v) => v / RAW_DIVISOR);
  throw new LvsegError('invalid-input', 'UNKNOWN_INPUT_SCALING', `unknown input scaling ${JSON.stringify(scaling)}; valid: ${INPUT_SCALINGS.join(', ')}`);
}

/**
 * The single preprocessing path from an image in modality units to the model's input: its intensity scaling
 * (`normalize()` by default, or the model's recorded `inputScaling`), then bilinear resampling to size×size.
 * Training, eval, both serving engines and the browser all call this.
 */
export function toModelInput(image: GrayImage, size = MODEL_INPUT_SIZE, scaling: InputScaling = 'normalize'): Float32Array {
  return resizeBilinear(scaleIntensities(image, scaling), image.rows, image.columns, size, size);
}

/** The expert mask at the model's resolution (nearest neighbour), for training targets. */
export function maskToModelSize(mask: BinaryMask, size = MODEL_INPUT_SIZE): BinaryMask {
  return resizeMaskNearest(mask, size, size);
}
