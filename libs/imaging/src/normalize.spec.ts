import { readCsvRecords } from './manifest';
import * as fs from 'fs';
import * as path from 'path';
import { dataRoot, SeededRandom } from '@lvseg/common';
import { NORMALIZE_PERCENTILES, normalize, percentile, rescaleClipped, selectedPercentiles } from './normalize';
import { toModelInput } from './model-input';
import { GrayImage } from './image';
import { decodeDicom } from './dicom';

function image(values: number[], rows: number, columns: number): GrayImage {
  return { rows, columns, data: Float32Array.from(values) };
}

describe('normalize', () => {
  it('interpolates percentiles between order statistics', () => {
    const sorted = Float32Array.from([0, 10, 20, 30, 40]);
    expect(percentile(sorted, 0)).toBe(0);
    expect(percentile(sorted, 50)).toBe(20);
    expect(percentile(sorted, 100)).toBe(40);
    expect(percentile(sorted, 12.5)).toBeCloseTo(5, 6);
  });

  it('maps to [0, 1] and is invariant to an increasing affine change of intensities (DICOM units vs PNG 0..255)', () => {
    const n = 64 * 64;
    const raw = Array.from({ length: n }, (_, i) => ((i * 7919) % 2678) + (i % 13 === 0 ? 5000 : 0));
    const a = normalize(image(raw, 64, 64));
    const b = normalize(image(raw.map((v) => 3.5 * v - 120), 64, 64));
    for (let i = 0; i < n; i++) {
      expect(a[i]).toBeGreaterThanOrEqual(0);
      expect(a[i]).toBeLessThanOrEqual(1);
      expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-5);
    }
  });

  it('clips outliers: one hot pixel does not squash the rest', () => {
    const values = Array.from({ length: 400 }, (_, i) => i % 100);
    values[0] = 1e6;
    const out = normalize(image(values, 20, 20));
    const max = Math.max(...Array.from(out).slice(1));
    expect(out[0]).toBe(1);
    expect(max).toBeGreaterThan(0.95);
  });

  it('returns zeros for a constant image', () => {
    expect(Array.from(normalize(image(new Array(16).fill(7), 4, 4)))).toEqual(new Array(16).fill(0));
  });

  it('toModelInput resamples any size to 256×256', () => {
    const img = image(Array.from({ length: 100 * 120 }, (_, i) => i % 120), 100, 120);
    const x = toModelInput(img);
    expect(x.length).toBe(256 * 256);
    // a horizontal ramp stays a ramp: left column darker than right column
    expect(x[128 * 256 + 0]).toBeLessThan(x[128 * 256 + 255]);
  });
});

/** The normalisation as first written (a full sort, then `percentile`): the reference the selection must reproduce. */
function normalizeBySort(image: GrayImage): Float32Array {
  const sorted = Float32Array.from(image.data).sort();
  const lo = percentile(sorted, NORMALIZE_PERCENTILES.low);
  const hi = percentile(sorted, NORMALIZE_PERCENTILES.high);
  return rescaleClipped(image.data, lo, hi);
}

/** Index of the first element whose bit pattern differs (+0/-0 and NaN payloads count), or -1. */
function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** A small seeded generator (mulberry32, the project's SeededRandom), so a failure reproduces. */
function seeded(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.next();
}

describe('normalize by selection equals normalize by sort', () => {
  const expectSame = (data: Float32Array) => {
    const image = { rows: 1, columns: data.length, data };
    const ps = [0, NORMALIZE_PERCENTILES.low, 13.7, 50, NORMALIZE_PERCENTILES.high, 100];
    const sorted = Float32Array.from(data).sort();
    const got = selectedPercentiles(data, ps);
    ps.forEach((p, i) => expect(Object.is(got[i], percentile(sorted, p)) || (Number.isNaN(got[i]) && Number.isNaN(percentile(sorted, p)))).toBe(true));
    expect(firstBitDifference(normalize(image), normalizeBySort(image))).toBe(-1);
  };

  it('on random data of many sizes and kinds (ties, signs, ±0, ±Infinity, NaN, subnormals)', () => {
    const rand = seeded(42);
    const kinds: Array<(n: number) => Float32Array> = [
      (n) => Float32Array.from({ length: n }, () => Math.round(rand() * 4095)), // 12-bit MR
      (n) => Float32Array.from({ length: n }, () => (rand() - 0.5) * 1e6), // signed, wide
      (n) => Float32Array.from({ length: n }, () => Math.round(rand() * 3) - 1), // few distinct values
      (n) => Float32Array.from({ length: n }, () => [0, -0, 1e-45, -1e-45, 1, -1][Math.floor(rand() * 6)]), // ±0 and subnormals
      (n) => Float32Array.from({ length: n }, () => [Infinity, -Infinity, NaN, rand()][Math.floor(rand() * 4)]),
      (n) => Float32Array.from({ length: n }, () => (rand() < 0.99 ? 7 : rand() * 1e4)), // nearly constant
    ];
    for (const n of [1, 2, 3, 5, 100, 201, 4096, 65536, 70001]) for (const kind of kinds) expectSame(kind(n));
    expectSame(new Float32Array(0));
  });

  it('above the key scratch (1024² pixels) and back below it', () => {
    const rand = seeded(7);
    expectSame(Float32Array.from({ length: (1 << 20) + 3 }, () => Math.round(rand() * 65535)));
    expectSame(Float32Array.from({ length: 4099 }, () => (rand() - 0.5) * 1e6));
  });

  it('on every real Sunnybrook DICOM (the 2 fixture DICOMs when the data folder is missing)', () => {
    const dir = path.join(dataRoot(), 'sunnybrook-dicom');
    const manifest = path.join(dir, 'manifest.csv');
    const files = fs.existsSync(manifest)
      ? readCsvRecords(manifest).map((r) => path.join(dir, r.image))
      : [path.join(__dirname, '..', 'test-fixtures', 'sunnybrook', 'SCD0000401', '100.dcm'), path.join(__dirname, '..', 'test-fixtures', 'sunnybrook', 'SCD0000101', '48.dcm')];
    // eslint-disable-next-line no-console
    if (!fs.existsSync(manifest)) console.warn(`only the 2 fixture DICOMs: no ${manifest} (set LVSEG_DATA_DIR)`);
    for (const f of files) {
      const { image } = decodeDicom(new Uint8Array(fs.readFileSync(f)));
      expect(firstBitDifference(normalize(image), normalizeBySort(image))).toBe(-1);
    }
    expect(files.length).toBeGreaterThanOrEqual(2);
  });
});
