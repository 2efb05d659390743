import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@lvseg/common';
import { GrayImage, decodeDicom, roiAround } from '@lvseg/imaging';
import { openModelStore } from '@lvseg/model-store';
import { loadLvModelByRef } from '../model-loading';
import { maskOptionsOf } from '../segmentation';
import { initBackend } from '../backend';
import { buildModel } from '../architectures';
import { DEFAULT_MASK_OPTIONS } from '../segmentation';
import { CascadeSpec, DEFAULT_CASCADE_SPEC, Localisation, StageRunner, localise, maskWithinRoi, planRois, runSegmenter, segmentCascade, zoomRoi, zoomSideMm } from './cascade';
import { SeededRandom } from '@lvseg/common';
import { pasteFromRoi } from '@lvseg/imaging';
import { probabilityToMask } from '../segmentation';
import { LvModel, disposeLvModel, heatmapLayersOfArchitecture, lvActivationMaps, lvGradCam, lvHeatmapLayers, lvModelFromFiles, lvModelToFiles, segmentLv } from './lv-model';

const spec: CascadeSpec = { ...DEFAULT_CASCADE_SPEC, localiserSize: 8, minLocaliserMass: 1 };

/** An 8×8 localiser map with probability `p` on the given (row, column) cells, 0.01 elsewhere. */
function locMap(cells: Array<[number, number]>, p = 0.9): Float32Array {
  const m = new Float32Array(64).fill(0.01);
  for (const [r, c] of cells) m[r * 8 + c] = p;
  return m;
}

describe('localise', () => {
  it('finds the most probable component and maps its weighted centre to image pixels', () => {
    // A 2×2 blob at rows 2-3, columns 4-5 of 8 (centre 2.5, 4.5), and a weaker single pixel elsewhere.
    const prob = locMap([[2, 4], [2, 5], [3, 4], [3, 5]]);
    prob[7 * 8 + 0] = 0.6;
    const loc = localise(prob, 8, 256, 256, spec);
    expect(loc.found).toBe(true);
    expect(loc.mass).toBeCloseTo(3.6, 5);
    // Localiser cell k covers image pixels 32k..32k+31: centre (k + 0.5)·32 − 0.5.
    expect(loc.centerRow).toBeCloseTo((2.5 + 0.5) * 32 - 0.5, 4);
    expect(loc.centerColumn).toBeCloseTo((4.5 + 0.5) * 32 - 0.5, 4);
  });

  it('finds no LV in a map without a confident component, or one whose mass is below the bar', () => {
    expect(localise(new Float32Array(64).fill(0.2), 8, 256, 256, spec).found).toBe(false);
    const single = localise(locMap([[4, 4]], 0.7), 8, 256, 256, spec);
    expect(single.found).toBe(false);
    expect(single.mass).toBeCloseTo(0.7, 5);
  });
});

describe('planRois', () => {
  const image: GrayImage = { rows: 256, columns: 256, data: new Float32Array(0) };
  const at = (r: number, c: number, found = true): Localisation => ({ found, centerRow: r, centerColumn: c, mass: found ? 5 : 0 });

  it('alone: each found image gets its own ROI of roiSideMm, the others none', () => {
    const plans = planRois([image, image], [at(100, 120), at(0, 0, false)], spec);
    expect(plans[0]).toEqual({ roi: { centerRow: 100, centerColumn: 120, height: 96, width: 96 }, source: 'localiser' });
    expect(plans[1]).toBeNull();
  });

  it('as a series: an outlier and a missed image take the median centre; the others keep their own', () => {
    const locs = [at(100, 120), at(104, 118), at(98, 123), at(180, 40), at(0, 0, false)];
    const plans = planRois(locs.map(() => image), locs, spec, { series: true });
    expect(plans.slice(0, 3).map((p) => p!.source)).toEqual(['localiser', 'localiser', 'localiser']);
    // Median of the four found centres: rows (100, 104, 98, 180) → 102; columns (120, 118, 123, 40) → 119.
    for (const k of [3, 4]) expect(plans[k]).toEqual({ roi: { centerRow: 102, centerColumn: 119, height: 96, width: 96 }, source: 'series' });
  });
});

describe('maskWithinRoi', () => {
  it('gives the mask of the whole image on random blobby maps (components, holes, ROI at the border)', () => {
    const rng = new SeededRandom(11);
    for (let t = 0; t < 10; t++) {
      const crop = new Float32Array(32 * 32);
      // A few random discs and rings of high probability: several components, some with holes.
      for (let k = 0; k < 4; k++) {
        const cr = rng.uniform(0, 32), cc = rng.uniform(0, 32), rad = rng.uniform(2, 9), ring = rng.next() < 0.5;
        for (let i = 0; i < crop.length; i++) {
          const d = Math.hypot(Math.floor(i / 32) - cr, (i % 32) - cc);
          if (d < rad && (!ring || d > rad / 2)) crop[i] = Math.max(crop[i], rng.uniform(0.5, 1));
        }
      }
      const roi = { centerRow: rng.uniform(-10, 110), centerColumn: rng.uniform(-10, 90), height: rng.uniform(20, 60), width: rng.uniform(20, 60) };
      const image = { rows: 100, columns: 80 };
      const prob = pasteFromRoi(crop, 32, roi, image.rows, image.columns);
      for (const opts of [{}, { keepOneComponent: 'all' as const }, { fillHoles: false }]) {
        expect(maskWithinRoi(prob, image, roi, opts)).toEqual(probabilityToMask(prob, image.rows, image.columns, opts));
      }
    }
  });
});

describe('the second look at small LVs (spec.zoom)', () => {
  const zoom = { factor: 3.5, minSideMm: 48, maxShare: 0.85 };
  const zspec: CascadeSpec = { ...DEFAULT_CASCADE_SPEC, zoom };
  const disc = (n: number, cr: number, cc: number, rad: number, inside = 1, outside = 0) =>
    Float32Array.from({ length: n * n }, (_, i) => (Math.hypot(Math.floor(i / n) - cr, (i % n) - cc) <= rad ? inside : outside));

  it('sizes the region from the LV area: factor × equivalent diameter, clamped to [minSideMm, roiSideMm]', () => {
    expect(zoomSideMm(Math.PI * 10 * 10, zoom, 131.25)).toBeCloseTo(70, 10);
    expect(zoomSideMm(Math.PI * 5 * 5, zoom, 131.25)).toBe(48);
    expect(zoomSideMm(Math.PI * 30 * 30, zoom, 131.25)).toBe(131.25);
  });

  it('centres the region on the first mask, in mm where the image has PixelSpacing; none when empty, large or off', () => {
    const image: GrayImage = { rows: 100, columns: 100, data: new Float32Array(0), pixelSpacingMm: [0.5, 0.5] };
    const mask = { rows: 100, columns: 100, data: Uint8Array.from(disc(100, 40, 60, 8)) };
    const area = mask.data.reduce((a, v) => a + v, 0) * 0.25;
    const roi = zoomRoi(mask, image, zspec)!;
    expect(roi.centerRow).toBeCloseTo(40, 10);
    expect(roi.centerColumn).toBeCloseTo(60, 10);
    // side in mm / 0.5 mm per pixel
    expect(roi.height).toBeCloseTo(zoomSideMm(area, zoom, zspec.roiSideMm) / 0.5, 10);
    expect(roi.height).toBeCloseTo(48 / 0.5, 10);
    expect(zoomRoi({ ...mask, data: new Uint8Array(100 * 100) }, image, zspec)).toBeNull();
    expect(zoomRoi(mask, image, DEFAULT_CASCADE_SPEC)).toBeNull();
    const big = { rows: 100, columns: 100, data: Uint8Array.from(disc(100, 50, 50, 40)) };
    expect(zoomRoi(big, image, zspec)).toBeNull();
  });

  // Real (if simple) stage runners: LV wherever the normalised input is bright. Counting the segmenter's calls shows
  // which images get a second look.
  const threshold = (inputs: Float32Array[]) => inputs.map((a) => a.map((v) => (v > 0.5 ? 0.99 : 0.01)));
  function runners(second?: StageRunner) {
    const calls: number[] = [];
    const segmenter: StageRunner = async (inputs, size) => {
      calls.push(inputs.length);
      return calls.length > 1 && second ? second(inputs, size) : threshold(inputs);
    };
    return { calls, runners: { localiser: async (inputs: Float32Array[]) => threshold(inputs), segmenter } };
  }

  it('looks again at a small LV only, on a region around its first mask, and keeps the second mask', async () => {
    const n = 256;
    // The disc must be > 0.5 % of the image, or normalize()'s 99.5th percentile is the background.
  const small: GrayImage = { rows: n, columns: n, data: disc(n, 120, 140, 12, 1000, 100), pixelSpacingMm: [1, 1] };
    const large: GrayImage = { rows: n, columns: n, data: disc(n, 128, 128, 30, 1000, 100), pixelSpacingMm: [1, 1] };
    const { calls, runners: r } = runners();
    const [a, b] = await segmentCascade([small, large], r, zspec, DEFAULT_MASK_OPTIONS);
    expect(calls).toEqual([2, 1]);
    expect(a.zoomed).toBe(true);
    // A disc of radius 12 px at 1 mm per pixel: the first mask's area gives the side (≈ 3.5 × 24 mm).
    expect(a.roi!.height).toBeGreaterThan(80);
    expect(a.roi!.height).toBeLessThan(88);
    expect(a.roi!.centerRow).toBeCloseTo(120, 0);
    expect(a.roi!.centerColumn).toBeCloseTo(140, 0);
    const truth = { rows: n, columns: n, data: Uint8Array.from(disc(n, 120, 140, 12)) };
    let inter = 0, sum = 0;
    a.mask.data.forEach((v, i) => ((inter += v & truth.data[i]), (sum += v + truth.data[i])));
    expect((2 * inter) / sum).toBeGreaterThan(0.9);
    expect(b.zoomed).toBeUndefined();
    expect(b.roi!.height).toBeCloseTo(131.25, 10);
    // Without spec.zoom: one pass.
    const once = runners();
    const [c] = await segmentCascade([small], once.runners, DEFAULT_CASCADE_SPEC, DEFAULT_MASK_OPTIONS);
    expect(once.calls).toEqual([1]);
    expect([c.zoomed, c.roi!.height]).toEqual([undefined, 131.25]);
  });

  it('keeps the first mask when the second look finds nothing', async () => {
    const n = 256;
    const small: GrayImage = { rows: n, columns: n, data: disc(n, 120, 140, 12, 1000, 100), pixelSpacingMm: [1, 1] };
    const nothing: StageRunner = async (inputs) => inputs.map((a) => new Float32Array(a.length));
    const { calls, runners: r } = runners(nothing);
    const [a] = await segmentCascade([small], r, zspec, DEFAULT_MASK_OPTIONS);
    expect(calls).toEqual([1, 1]);
    expect(a.zoomed).toBeUndefined();
    expect(a.lvFound).toBe(true);
    expect(a.roi!.height).toBeCloseTo(131.25, 10);
  });
});

describe('runSegmenter', () => {
  it('with testTimeFlip, averages the map of each ROI and the mirrored map of its mirror image', async () => {
    const s = 4;
    const x = Float32Array.from({ length: s * s }, (_, i) => i + 1);
    // A "network" that weights each pixel by its column: mirrored and averaged, every column weighs (s − 1) / 2.
    const byColumn = async (inputs: Float32Array[]) => inputs.map((a) => a.map((v, i) => v * (i % s)));
    const [plain] = await runSegmenter(byColumn, [x], { ...spec, segmenterSize: s });
    const [flipped] = await runSegmenter(byColumn, [x], { ...spec, segmenterSize: s, testTimeFlip: true });
    expect(Array.from(plain)).toEqual(Array.from(x, (v, i) => v * (i % s)));
    expect(Array.from(flipped)).toEqual(Array.from(x, (v) => (v * (s - 1)) / 2));
  });
});

describe('a cascade model (real tfjs networks, seeded)', () => {
  let model: LvModel;
  beforeAll(async () => {
    await initBackend();
    model = { kind: 'cascade', localiser: buildModel('unet-tiny', { seed: 3, size: null }), segmenter: buildModel('unet-small', { seed: 4, size: null }), spec: DEFAULT_CASCADE_SPEC };
  });
  afterAll(() => disposeLvModel(model));

  it('round-trips through its store files and names every layer by stage', async () => {
    const files = await lvModelToFiles(model);
    expect([...files.keys()].sort()).toEqual(['cascade.json', 'localiser.model.json', 'localiser.weights.bin', 'segmenter.model.json', 'segmenter.weights.bin']);
    const again = await lvModelFromFiles(files, 'cascade');
    try {
      expect(again.kind).toBe('cascade');
      const image: GrayImage = { rows: 64, columns: 64, data: Float32Array.from({ length: 4096 }, (_, i) => (i % 64) * Math.floor(i / 64)) };
      const layers = ['localiser.enc2', 'segmenter.dec1'];
      // Maps of the reloaded model equal the original's (the segmenter's only when an LV was localised).
      expect(await lvActivationMaps(again, image, layers)).toEqual(await lvActivationMaps(model, image, layers));
      expect(lvHeatmapLayers(again)).toEqual(lvHeatmapLayers(model));
      expect(lvHeatmapLayers(model)[0]).toBe('localiser.enc1');
      // What GET /models/:ref says from the card alone is what the loaded model explains.
      expect(heatmapLayersOfArchitecture('cascade')).toEqual(lvHeatmapLayers(model));
      expect(lvHeatmapLayers(model)).toContain('segmenter.score');
    } finally {
      disposeLvModel(again);
    }
  });

  it('refuses a cascade.json out of range or not JSON with a typed error naming the field, not a model that fails later', async () => {
    const files = await lvModelToFiles(model);
    const edited = (text: string) => new Map([...files, ['cascade.json', Buffer.from(text)]]);
    const spec = { ...DEFAULT_CASCADE_SPEC, zoom: { factor: 3.5, minSideMm: 48, maxShare: 0.85 } };
    const ok = await lvModelFromFiles(edited(JSON.stringify(spec)), 'cascade');
    expect(ok.kind === 'cascade' && ok.spec.zoom).toEqual(spec.zoom);
    disposeLvModel(ok);
    for (const [text, field] of [
      [JSON.stringify({ ...spec, zoom: { ...spec.zoom, maxShare: 1.5 } }), 'zoom'],
      [JSON.stringify({ ...spec, zoom: { factor: 3.5 } }), 'zoom'],
      [JSON.stringify({ ...spec, roiSideMm: 0 }), 'roiSideMm'],
      [JSON.stringify({ ...spec, segmenterSize: 100 }), 'segmenterSize'],
      [JSON.stringify({ ...spec, fallbackMinPeak: -1 }), 'fallbackMinPeak'],
      [JSON.stringify([1]), 'JSON object'],
      ['{"roiSideMm": 131.25', 'not JSON'],
    ]) {
      await expect(lvModelFromFiles(edited(text), 'cascade')).rejects.toMatchObject({ code: 'INVALID_CASCADE_SPEC', message: expect.stringContaining(field) });
    }
  });

  it('explains each stage: Grad-CAM at a segmenter layer lies on the ROI, 0 outside it; at a localiser layer, whole image', async () => {
    const n = 128;
    // A bright disc: the untrained localiser's map is ~0.5 everywhere, so it finds one large component near the centre.
    const image: GrayImage = { rows: n, columns: n, data: Float32Array.from({ length: n * n }, (_, i) => (Math.hypot((i % n) - 70, Math.floor(i / n) - 60) < 12 ? 900 : 200 + (i % 13))) };
    const [seg] = await segmentLv(model, [image], { ...DEFAULT_MASK_OPTIONS, threshold: 0 });
    expect(seg.roi).not.toBeNull();
    const cam = await lvGradCam(model, image, 'segmenter.dec1', seg.mask);
    expect([cam.layer, cam.rows, cam.columns]).toEqual(['segmenter.dec1', n, n]);
    const roi = seg.roi!;
    let outside = 0, inside = 0;
    cam.data.forEach((v, i) => {
      const r = Math.floor(i / n), c = i % n;
      const within = Math.abs(r - roi.centerRow) <= roi.height / 2 && Math.abs(c - roi.centerColumn) <= roi.width / 2;
      if (within) inside = Math.max(inside, v);
      else outside = Math.max(outside, v);
    });
    expect(outside).toBe(0);
    expect(inside).toBeGreaterThan(0);
    const loc = await lvGradCam(model, image, 'localiser.enc2', seg.mask);
    expect([loc.layer, loc.rows, loc.columns]).toEqual(['localiser.enc2', 32, 32]);
    await expect(lvGradCam(model, image, 'dec1', seg.mask)).rejects.toThrow(/unknown layer "dec1"; valid layers: localiser.enc1/);
  });

  it('answers an empty mask with lvFound false when the localiser finds nothing, leaving no tensors behind', async () => {
    // An untrained localiser says ~0.5 everywhere; a score bias of (+4, −4) makes it say "background" everywhere.
    const score = model.kind === 'cascade' ? model.localiser.getLayer('score') : undefined;
    const [kernel, bias] = score!.getWeights();
    score!.setWeights([kernel, tf.tensor1d([4, -4])]);
    const before = tf.memory().numTensors;
    const [r] = await segmentLv(model, [{ rows: 100, columns: 90, data: Float32Array.from({ length: 9000 }, (_, i) => i % 7) }], DEFAULT_MASK_OPTIONS);
    expect(r.lvFound).toBe(false);
    expect(r.roi).toBeNull();
    expect(r.mask.data.every((v) => v === 0)).toBe(true);
    expect([r.mask.rows, r.mask.columns]).toEqual([100, 90]);
    expect(tf.memory().numTensors).toBe(before);
    score!.setWeights([kernel, bias]);
  });
});

describe('the shipped cascade with a second look: heat maps explain the region the mask came from', () => {
  let model: LvModel;
  let mask = DEFAULT_MASK_OPTIONS;
  beforeAll(async () => {
    await initBackend();
    const loaded = await loadLvModelByRef(openModelStore(`file://${join(repoRoot(), 'models')}`), 'production');
    if (loaded.model.kind !== 'cascade') throw new Error('the shipped production model is not a cascade');
    // A zoom that every LV passes, so the real fixture's (large) LV gets a second look.
    model = { ...loaded.model, spec: { ...loaded.model.spec, zoom: { factor: 1.5, minSideMm: 16, maxShare: 1 } } };
    mask = { ...DEFAULT_MASK_OPTIONS, ...maskOptionsOf(loaded.card) };
  });
  afterAll(() => model && disposeLvModel(model));

  it('segmenter maps and Grad-CAM lie on the second look\'s region, 0 outside it', async () => {
    const image = decodeDicom(readFileSync(join(repoRoot(), 'libs', 'imaging', 'test-fixtures', 'sunnybrook', 'SCD0000401', '100.dcm'))).image;
    const [seg] = await segmentLv(model, [image], mask);
    expect(seg.lvFound).toBe(true);
    expect(seg.zoomed).toBe(true);
    const roi = seg.roi!;
    const first = roiAround(image, roi.centerRow, roi.centerColumn, (model as Extract<LvModel, { kind: 'cascade' }>).spec.roiSideMm);
    expect(roi.height).toBeLessThan(first.height);
    const within = (i: number) => Math.abs(Math.floor(i / image.columns) - roi.centerRow) <= roi.height / 2 && Math.abs((i % image.columns) - roi.centerColumn) <= roi.width / 2;
    const [act] = await lvActivationMaps(model, image, ['segmenter.dec1'], mask);
    const cam = await lvGradCam(model, image, 'segmenter.dec1', seg.mask, 1, mask);
    for (const map of [act.data, cam.data]) {
      let inside = 0, outside = 0;
      map.forEach((v, i) => (within(i) ? (inside = Math.max(inside, Math.abs(v))) : (outside = Math.max(outside, Math.abs(v)))));
      expect(outside).toBe(0);
      expect(inside).toBeGreaterThan(0);
    }
  });
});

