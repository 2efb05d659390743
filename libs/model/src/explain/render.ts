import { GrayImage, encodeRgbaPng, normalize, resizeBilinear } from '@lvseg/imaging';
import type { LayerMap } from './activations';
import { colorizeRgba, overlayRgba, scaleToUnit } from './colormap';

/** A rendered heatmap: the colour-mapped map alone and over the image, both PNGs at the image's own size. */
export interface RenderedHeatmap {
  png: Buffer;
  overlayPng: Buffer;
}

/**
 * Upsamples a layer map (bilinear, pixel-centre aligned: the layer grid spans the whole image) to the image size,
 * scales it to [0, 1] and renders it colour-mapped and as an overlay on the image (shown with `normalize()`).
 */
export function renderHeatmap(map: Pick<LayerMap, 'rows' | 'columns' | 'data'>, image: GrayImage, opts: { zeroBased?: boolean; maxAlpha?: number } = {}): RenderedHeatmap {
  const up = resizeBilinear(map.data, map.rows, map.columns, image.rows, image.columns);
  const unit = scaleToUnit(up, { zeroBased: opts.zeroBased });
  return {
    png: encodeRgbaPng(image.rows, image.columns, colorizeRgba(unit)),
    overlayPng: encodeRgbaPng(image.rows, image.columns, overlayRgba(normalize(image), unit, opts.maxAlpha)),
  };
}
