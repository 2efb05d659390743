import { MODEL_INPUT_SIZE, resizeBilinear } from '@lvseg/imaging';
import type { GrayImage } from '@lvseg/imaging';
import { SeededRandom } from '@lvseg/common';
import { buildModel } from './architectures';
import { initBackend } from './backend';
import { predictLvProbabilities, probabilityToMask, segmentImages, segmentWholeImages, wholeImageSegmentation } from './segmentation';

/** 8×8 map from a picture: '#' = 0.9, '+' = 0.6, '.' = 0.1. */
function probMap(rows: string[]): Float32Array {
  const v = { '#': 0.9, '+': 0.6, '.': 0.1 } as Record<string, number>;
  return Float32Array.from(rows.join('').split('').map((c) => v[c]));
}
const picture = (data: Uint8Array, n: number) => Array.from({ length: n }, (_, r) => Array.from(data.slice(r * n, (r + 1) * n)).map((x) => (x ? '#' : '.')).join(''));

describe('probabilityToMask', () => {
  const rows = [
    '##......',
    '##......',
    '........',
    '...####.',
    '...#..#.',
    '...####.',
    '........',
    '.......+',
  ];

  it('keeps the largest component and fills its holes by default', () => {
    const m = probabilityToMask(probMap(rows), 8, 8);
    expect(picture(m.data, 8)).toEqual(['........', '........', '........', '...####.', '...####.', '...####.', '........', '........']);
  });

  it('keeps the most probable component rather than the largest when asked to', () => {
    const confident = probMap(['##......', '##......', '........', '...++++.', '...+..+.', '...++++.', '........', '........']);
    const byMass = probabilityToMask(confident, 8, 8, { keepOneComponent: 'most-probable', fillHoles: false });
    expect(byMass.data.reduce((a, b) => a + b, 0)).toBe(10); // 10 × 0.6 = 6.0 beats 4 × 0.9 = 3.6
    const withStrong = Float32Array.from(confident, (p, i) => (i < 16 && p > 0.5 ? 0.99 : p));
    withStrong[2] = withStrong[3] = withStrong[10] = withStrong[11] = 0.99; // a 2×4 block of 0.99 = 7.9 > 6.0
    const strong = probabilityToMask(withStrong, 8, 8, { keepOneComponent: 'most-probable', fillHoles: false });
    expect(strong.data[0]).toBe(1);
    expect(probabilityToMask(withStrong, 8, 8, { keepOneComponent: 'largest', fillHoles: false }).data[0]).toBe(0);
  });

  it('honours the threshold and can skip post-processing', () => {
    const m = probabilityToMask(probMap(rows), 8, 8, { threshold: 0.95, keepOneComponent: 'all', fillHoles: false });
    expect(m.data.reduce((a, b) => a + b, 0)).toBe(0);
    const all = probabilityToMask(probMap(rows), 8, 8, { threshold: 0.5, keepOneComponent: 'all', fillHoles: false });
    expect(all.data.reduce((a, b) => a + b, 0)).toBe(4 + 10 + 1);
  });
});

describe('segmentWholeImages (the forward pass injected, as the onnxruntime engine uses it)', () => {
  const image = (rows: number, columns: number, seed: number): GrayImage => {
    const rng = new SeededRandom(seed);
    return { rows, columns, data: Float32Array.from({ length: rows * columns }, (_, i) => (Math.hypot(Math.floor(i / columns) - rows / 2, (i % columns) - columns / 2) < rows / 5 ? 800 : 200) + rng.uniform(0, 80)) };
  };

  it('gives what segmentImages gives with the same network, at each image size, plus lvFound and no ROI', async () => {
    await initBackend();
    const net = buildModel('fcn-paper', { seed: 5 });
    try {
      const images = [image(96, 128, 1), image(256, 256, 2)];
      const runs: number[] = [];
      const out = await segmentWholeImages(images, async (inputs, size) => {
        runs.push(inputs.length);
        return predictLvProbabilities(net, inputs, size, inputs.length);
      });
      const ref = segmentImages(net, images);
      expect(runs).toEqual([2]);
      out.forEach((r, k) => {
        expect(r.mask).toEqual(ref[k].mask);
        expect(r.probability).toEqual(ref[k].probability);
        expect([r.mask.rows, r.mask.columns]).toEqual([images[k].rows, images[k].columns]);
        expect(r.lvFound).toBe(r.mask.data.some((v) => v !== 0));
        expect([r.roi, r.roiSource]).toEqual([null, null]);
      });
      expect(await segmentWholeImages([], async () => [])).toEqual([]);
    } finally {
      net.dispose();
    }
  });

  it('wholeImageSegmentation brings a model-size map back to the image size before thresholding', () => {
    const s = MODEL_INPUT_SIZE;
    const map = Float32Array.from({ length: s * s }, (_, i) => (Math.floor(i / s) < s / 2 ? 0.9 : 0.1));
    const { probability, mask } = wholeImageSegmentation(map, { rows: 64, columns: 32 }, { keepOneComponent: 'all', fillHoles: false });
    expect(probability).toEqual(resizeBilinear(map, s, s, 64, 32));
    expect(mask.data.slice(0, 32).every((v) => v === 1)).toBe(true);
    expect(mask.data.slice(63 * 32).every((v) => v === 0)).toBe(true);
  });
});
