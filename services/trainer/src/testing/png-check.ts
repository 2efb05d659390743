/** Decoding stored PNGs in tests: size and how many distinct colours (a flat image has one). Test support only. */
import { PNG } from 'pngjs';

export function decodePngRgba(bytes: Buffer): { width: number; height: number; distinctColors: number } {
  const png = PNG.sync.read(bytes);
  const colors = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4) colors.add(png.data.readUInt32BE(i));
  return { width: png.width, height: png.height, distinctColors: colors.size };
}
