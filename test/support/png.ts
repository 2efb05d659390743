/** Reading the PNGs the service answers with. */
import { PNG } from 'pngjs';
import { BinaryMask, decodePngMask } from '@lvseg/imaging';

export interface DecodedPng {
  width: number;
  height: number;
  /** RGBA, 4 bytes a pixel. */
  data: Buffer;
}

export function decodeBase64Png(b64: string): DecodedPng {
  const png = PNG.sync.read(Buffer.from(b64, 'base64'));
  return { width: png.width, height: png.height, data: png.data };
}

export function maskFromBase64Png(b64: string): BinaryMask {
  return decodePngMask(Buffer.from(b64, 'base64'));
}

/** Number of distinct RGB colours in an RGBA picture. */
export function distinctColours(png: DecodedPng): number {
  const seen = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4) seen.add((png.data[i] << 16) | (png.data[i + 1] << 8) | png.data[i + 2]);
  return seen.size;
}

/** Values of one channel (0 = R) as a flat array. */
export function channel(png: DecodedPng, c: number): Uint8Array {
  const out = new Uint8Array(png.width * png.height);
  for (let i = 0; i < out.length; i++) out[i] = png.data[i * 4 + c];
  return out;
}
