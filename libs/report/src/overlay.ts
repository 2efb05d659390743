/** Example images for the report: the model's input (after `normalize()`) with the expert mask's outline drawn on it. */
import { LvsegError } from '@lvseg/common';
import { BinaryMask, encodeRgbaPng, GrayImage, normalize } from '@lvseg/imaging';

/**
 * The outline of a mask: LV pixels with at least one 4-neighbour that is background or off the image. Drawn from the
 * mask itself (not the contour file), so PNG and DICOM sets are outlined the same way.
 */
export function maskBoundary(mask: BinaryMask): Uint8Array {
  const { rows, columns, data } = mask;
  const out = new Uint8Array(data.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const i = r * columns + c;
      if (!data[i]) continue;
      const edge = r === 0 || c === 0 || r === rows - 1 || c === columns - 1;
      if (edge || !data[i - 1] || !data[i + 1] || !data[i - columns] || !data[i + columns]) out[i] = 1;
    }
  }
  return out;
}

/** Outline colour: a saturated yellow, visible on both the dark background and the bright blood pool. */
export const OUTLINE_RGB = [255, 214, 0] as const;

/** RGBA pixels of the normalised image in gray with the mask boundary in `OUTLINE_RGB`. */
export function outlinedRgba(image: GrayImage, mask: BinaryMask): Uint8Array {
  if (mask.rows !== image.rows || mask.columns !== image.columns) {
    throw new LvsegError('invalid-input', 'MASK_SIZE_MISMATCH', `mask is ${mask.columns}x${mask.rows}, image ${image.columns}x${image.rows}`);
  }
  const gray = normalize(image);
  const edge = maskBoundary(mask);
  const rgba = new Uint8Array(gray.length * 4);
  for (let i = 0; i < gray.length; i++) {
    const g = Math.round(gray[i] * 255);
    const [r, gg, b] = edge[i] ? OUTLINE_RGB : [g, g, g];
    rgba.set([r, gg, b, 255], i * 4);
  }
  return rgba;
}

/** PNG bytes (pngjs) of `outlinedRgba`. */
export function renderOutlinedPng(image: GrayImage, mask: BinaryMask): Buffer {
  return encodeRgbaPng(image.rows, image.columns, outlinedRgba(image, mask));
}
