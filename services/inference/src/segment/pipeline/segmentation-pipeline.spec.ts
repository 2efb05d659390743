import { SeededRandom, isLvsegError } from '@lvseg/common';
import type { BinaryMask, GrayImage } from '@lvseg/imaging';
import { buildModel, initBackend, modelToFiles } from '@lvseg/model';
import type { ModelCard } from '@lvseg/model-store';
import { writeDicom } from '../../../../../libs/imaging/src/testing/dicom-writer';
import { TfjsEngineFactory } from '../../engine/tfjs-engine';
import { ModelHandle } from '../../models/model-handle';
import { InferenceQueue } from '../inference-queue';
import { labelMetricsOf, lvAreaOf } from './postprocess.stage';
import { PipelineRun } from './segmentation-pipeline';
import { PredictStage } from './predict.stage';

/** Stored values with structure (a bright disc on noise), so an untrained net gives a non-trivial mask. */
function discPixels(rows: number, columns: number, seed: number): number[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: rows * columns }, (_, i) => {
    const r = Math.floor(i / columns), c = i % columns;
    return Math.round((Math.hypot(r - rows * 0.45, c - columns * 0.55) < rows / 6 ? 700 : 150) + rng.uniform(0, 100));
  });
}
const dicomOf = (rows: number, columns: number, seed: number) => Buffer.from(writeDicom({ rows, columns, pixels: discPixels(rows, columns, seed), pixelSpacing: [1.4, 1.4] }));
const maskFrom = (m: BinaryMask, keep: (i: number) => boolean): BinaryMask => ({ ...m, data: Uint8Array.from(m.data, (v, i) => (keep(i) ? 1 : 0)) });

describe('PipelineRun (a real tfjs engine, a real inference queue)', () => {
  let handle: ModelHandle;
  beforeAll(async () => {
    await initBackend();
    const model = buildModel('fcn-paper', { seed: 3 });
    const files = await modelToFiles(model);
    model.dispose();
    const card = { version: 'fcn-paper-seed-3', architecture: 'fcn-paper', classes: ['background', 'lv'], preprocessing: {} } as unknown as ModelCard;
    handle = new ModelHandle(card, await new TfjsEngineFactory().create(card, files));
  });
  afterAll(() => handle.retire());

  const newRun = (queue = new InferenceQueue({ capacity: 8, batchWindowMs: 0, maxBatchSize: 4 })) => new PipelineRun(handle.acquire(), new PredictStage(queue), 512);

  it('decode → segmentImage: the engine’s own mask, area, label metrics, each stage timed once', async () => {
    const run = newRun();
    const { image } = await run.decode(dicomOf(128, 160, 1));
    const [direct] = await handle.engine.segment([image]);
    const label = { kind: 'png' as const, mask: maskFrom(direct.mask, (i) => i % 3 !== 0) };
    const seg = await run.segmentImage(image, { label, maskPng: true });
    expect(seg.segmentation.mask).toEqual(direct.mask);
    expect(seg.lvArea.pixels).toBeGreaterThan(0);
    expect(seg.lvArea).toEqual(lvAreaOf(direct.mask, image));
    expect(seg.label).toEqual({ ...labelMetricsOf(direct.mask, label.mask, 'png'), lvArea: lvAreaOf(label.mask, image) });
    expect([seg.mask?.rows, seg.mask?.columns]).toEqual([128, 160]);
    expect(seg.roi).toBeNull();
    expect(run.batchSize).toBe(1);
    expect(run.clock.stages).toEqual(['decode', 'predict', 'queue', 'inference', 'postprocess', 'metrics']);
    expect(run.clock.ms('inference')!).toBeGreaterThan(0);
    // The predict stage's wall time holds the queue's wait and the forward pass.
    expect(run.clock.ms('predict')!).toBeGreaterThanOrEqual(run.clock.ms('inference')!);
    handle.release();
  });

  it('segmentSeries: one engine call as a series, labels only where given, no PNG unless asked', async () => {
    const run = newRun();
    const images: GrayImage[] = [];
    for (const seed of [4, 5, 6]) images.push((await run.decode(dicomOf(96, 96, seed))).image);
    const direct = await handle.engine.segment(images, { series: true });
    const label = { kind: 'contour' as const, mask: maskFrom(direct[1].mask, () => true) };
    const segs = await run.segmentSeries(images, { labels: [undefined, label, undefined] });
    expect(segs.map((s) => s.segmentation.mask)).toEqual(direct.map((d) => d.mask));
    expect(segs.map((s) => s.lvArea.pixels > 0)).toEqual([true, true, true]);
    expect(segs.map((s) => s.label === undefined)).toEqual([true, false, true]);
    expect(segs[1].label?.labelPixels).toBe(96 * 96);
    expect(segs.every((s) => s.mask === undefined)).toBe(true);
    expect(run.clock.ms('decode')).toBeDefined();
    handle.release();
  });

  it('segmentSeries on a full queue: refused (503 QUEUE_FULL), or waited out with waitWhenFull', async () => {
    const queue = new InferenceQueue({ capacity: 1, batchWindowMs: 0, maxBatchSize: 4 });
    const run = newRun(queue);
    const images = [(await run.decode(dicomOf(64, 64, 7))).image];
    let unblock!: () => void;
    const blocker = queue.run(handle, 'block', () => new Promise<void>((resolve) => (unblock = resolve)));
    const refused = await run.segmentSeries(images).catch((e: unknown) => e);
    expect(isLvsegError(refused) && refused.code).toBe('QUEUE_FULL');
    const waited = run.segmentSeries(images, { waitWhenFull: true });
    setTimeout(() => unblock(), 250);
    await blocker;
    expect((await waited)[0].segmentation.mask).toEqual((await handle.engine.segment(images, { series: true }))[0].mask);
    handle.release();
  });

  it('heat maps and Grad-CAM go through the same queue and are timed as their own stages', async () => {
    const run = newRun();
    const { image } = await run.decode(dicomOf(96, 96, 8));
    const [layer] = run.model.heatmapLayers;
    const seg = await run.segmentImage(image);
    const maps = await run.heatmaps(image, [layer]);
    const cam = await run.gradCam(image, layer, seg.segmentation.mask);
    expect(maps.map((m) => m.layer)).toEqual([layer]);
    expect(cam.layer).toBe(layer);
    expect(Buffer.from(maps[0].overlayPng, 'base64').subarray(1, 4).toString()).toBe('PNG');
    expect(run.clock.ms('heatmaps')).toBeGreaterThan(0);
    expect(run.clock.ms('gradcam')).toBeGreaterThan(0);
    handle.release();
  });
});
