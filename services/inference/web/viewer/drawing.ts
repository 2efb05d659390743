/**
 * Canvas drawing the viewer's two modes share: the server's mask PNG and an expert label read into masks, the image
 * in the shared normalize() window, and mask outlines along pixel edges (geometry from mask-geometry.ts).
 */
import type { BinaryMask, GrayImage } from '@lvseg/imaging/image';
import { normalize } from '@lvseg/imaging/normalize';
import { parseContour, rasterizeContour } from '@lvseg/imaging/contour';
import { PixelRegion, grayToRgba, maskFromRgba, maskOutlineSegments } from './mask-geometry';

/** Outline colours (also in the legends): chosen to stay apart on a grey MR image and for common colour blindness. */
export const OUTLINE = { server: '#ffd60a', label: '#00e5ff', browser: '#ff4fd8' } as const;

export interface Outline {
  mask: BinaryMask | undefined;
  colour: string;
  /** Canvas pixels. */
  width: number;
  dash: number[];
  name: string;
}

/** A mask from a PNG (data URI or blob URL) decoded by the browser. */
export async function maskFromPng(src: string, rows: number, columns: number): Promise<BinaryMask> {
  const img = new Image();
  img.src = src;
  await img.decode();
  const c = document.createElement('canvas');
  c.width = columns;
  c.height = rows;
  const ctx = c.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(img, 0, 0);
  return maskFromRgba(ctx.getImageData(0, 0, columns, rows).data, rows, columns);
}

/** A mask PNG as the API sends it (base64, 255 = LV). */
export function maskFromBase64Png(png: string, rows: number, columns: number): Promise<BinaryMask> {
  return maskFromPng(`data:image/png;base64,${png}`, rows, columns);
}

/** The expert label as the server reads it: a PNG mask (non-zero = LV), or a contour rasterised by the same lib code. */
export async function labelMask(bytes: Uint8Array, rows: number, columns: number): Promise<BinaryMask> {
  const isPng = bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  if (!isPng) return rasterizeContour(parseContour(new TextDecoder('latin1').decode(bytes)), rows, columns);
  const url = URL.createObjectURL(new Blob([bytes], { type: 'image/png' }));
  try {
    return await maskFromPng(url, rows, columns);
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** The image at its own size in the shared normalize() window (0.5th–99.5th percentile), the model's own view of it. */
export function imageCanvas(image: GrayImage): HTMLCanvasElement {
  const source = document.createElement('canvas');
  source.width = image.columns;
  source.height = image.rows;
  source.getContext('2d')!.putImageData(new ImageData(grayToRgba(normalize(image)), image.columns, image.rows), 0, 0);
  return source;
}

/** Draws `region` of the image at `scale` canvas pixels per image pixel, with each mask's outline along pixel edges. */
export function paint(canvas: HTMLCanvasElement, source: HTMLCanvasElement | undefined, region: PixelRegion, scale: number, outlines: Outline[]): void {
  canvas.width = region.width * scale;
  canvas.height = region.height * scale;
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#111';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (source) {
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(source, region.left, region.top, region.width, region.height, 0, 0, canvas.width, canvas.height);
  }
  for (const o of outlines) {
    if (!o.mask) continue;
    ctx.lineWidth = o.width;
    ctx.strokeStyle = o.colour;
    ctx.setLineDash(o.dash);
    ctx.beginPath();
    for (const [x0, y0, x1, y1] of maskOutlineSegments(o.mask)) {
      ctx.moveTo((x0 - region.left) * scale, (y0 - region.top) * scale);
      ctx.lineTo((x1 - region.left) * scale, (y1 - region.top) * scale);
    }
    ctx.stroke();
  }
  ctx.setLineDash([]);
}

/** A legend item: a line swatch in the outline's colour (dashed when it is) and its text. */
export function legendItem(colour: string, text: string, dashed = false): HTMLLIElement {
  const li = document.createElement('li');
  const swatch = document.createElement('span');
  swatch.className = `swatch${dashed ? ' dashed' : ''}`;
  swatch.style.borderColor = colour;
  swatch.setAttribute('aria-hidden', 'true');
  li.append(swatch, text);
  return li;
}
