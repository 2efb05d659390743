/**
 * Test-only access to the real Sunnybrook PNG labels (../shared/data, or LVSEG_DATA_DIR). Specs call
 * `sunnybrookDataDir()` and skip with a printed reason when it returns undefined.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { dataRoot } from '@lvseg/common';
import type { BinaryMask } from '@lvseg/imaging';

/**
 * The data root (holding sunnybrook-png/), or undefined after printing why real-data specs are skipped. Under CI
 * (`CI=true`) missing data throws instead: a skipped spec would pass having checked nothing.
 */
export function sunnybrookDataDir(): string | undefined {
  const root = dataRoot();
  const labels = path.join(root, 'sunnybrook-png', 'labels');
  if (!fs.existsSync(labels)) {
    if (process.env.CI === 'true') throw new Error(`the real-data metrics specs need ${labels} under CI (set LVSEG_DATA_DIR)`);
    // eslint-disable-next-line no-console
    console.warn(`skipping real-data metrics specs: ${labels} not found (set LVSEG_DATA_DIR)`);
    return undefined;
  }
  return root;
}

export interface LabelFile {
  /** File name without `.png`, e.g. `SC-HF-I-01-IM-0001-0048`. */
  name: string;
  mask: BinaryMask;
  /** Pixels whose red value is neither 0 nor 255, or whose channels differ (expected 0). */
  oddPixels: number;
}

/** Reads every label PNG (8-bit RGB, 0/255) as a mask: 1 where red > 127. */
export function readAllLabels(dataDir: string): LabelFile[] {
  const dir = path.join(dataDir, 'sunnybrook-png', 'labels');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .map((f) => {
      const png = PNG.sync.read(fs.readFileSync(path.join(dir, f)));
      const n = png.width * png.height;
      const data = new Uint8Array(n);
      let oddPixels = 0;
      // pngjs always decodes to RGBA.
      for (let i = 0; i < n; i++) {
        const red = png.data[4 * i];
        if ((red !== 0 && red !== 255) || png.data[4 * i + 1] !== red || png.data[4 * i + 2] !== red) oddPixels++;
        data[i] = red > 127 ? 1 : 0;
      }
      return { name: f.slice(0, -4), mask: { rows: png.height, columns: png.width, data }, oddPixels };
    });
}
