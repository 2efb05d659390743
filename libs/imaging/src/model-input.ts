import { BinaryMask, GrayImage } from './image';
import { normalize } from './normalize';
import { resizeBilinear, resizeMaskNearest } from './resample';

/** Side of the square input every lvseg model takes (the paper's 256×256). */
export const MODEL_INPUT_SIZE = 256;

/**
 * The single preprocessing path from an image in modality units to the model's input: `normalize()` on the
 * image's own pixels, then bilinear resampling to size×size. Training and serving both call this.
 */
export function toModelInput(image: GrayImage, size = MODEL_INPUT_SIZE): Float32Array {
  return resizeBilinear(normalize(image), image.rows, image.columns, size, size);
}

/** The expert mask at the model's resolution (nearest neighbour), for training targets. */
export function maskToModelSize(mask: BinaryMask, size = MODEL_INPUT_SIZE): BinaryMask {
  return resizeMaskNearest(mask, size, size);
}
