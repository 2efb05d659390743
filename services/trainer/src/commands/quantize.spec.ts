/**
 * `lvseg models quantize`: the shipped production model calibrated on a few real train PNGs, published into a real file
 * store, then served by the real onnx engine factory in INT8 (and, with `int8: false`, in float) on val PNGs. When the
 * shipped `production` is itself an INT8 version, its float parent is the one calibrated here.
 * LVSEG_SHIPPED_MODELS=<store> runs it against a candidate store instead of <repo>/models.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import pino from 'pino';
import { dataRoot, repoRoot } from '@lvseg/common';
import { loadDataset } from '@lvseg/imaging';
import { INT8_CALIBRATION_FILE, dice, disposeLvModel, initBackend, lvModelFromFiles, lvNetworks, parseInt8Calibration } from '@lvseg/model';
import { ModelStore, openModelStore } from '@lvseg/model-store';
import { OnnxEngineFactory, OnnxSegmentationEngine } from '../../../inference/src/engine/onnx-engine';
import { defaultNetworks, quantizeVersion } from './quantize';

const PNG = join(dataRoot(), 'sunnybrook-png');
const MISSING = existsSync(join(PNG, 'manifest.csv')) ? undefined : `no ${join(PNG, 'manifest.csv')}; set LVSEG_DATA_DIR`;
// A test that cannot run has passed nothing: skipped with the reason here, a failure under CI.
if (MISSING) {
  if (process.env.CI === 'true') throw new Error(`lvseg models quantize cannot be tested under CI: ${MISSING}`);
  // eslint-disable-next-line no-console
  console.warn(`skipping lvseg models quantize: ${MISSING}`);
}
const describeWithData = MISSING ? describe.skip : describe;

describeWithData('quantizeVersion (lvseg models quantize) on the shipped production model', () => {
  let storeDir: string;
  let store: ModelStore;
  let version: string;
  /** The float version calibrated here: production, or its parent when production already carries a calibration. */
  let float: string;
  beforeAll(async () => {
    await initBackend({ prefer: 'wasm' });
    storeDir = mkdtempSync(join(tmpdir(), 'lvseg-quantize-store-'));
    store = openModelStore(`file://${storeDir}`, { seedFrom: process.env.LVSEG_SHIPPED_MODELS || join(repoRoot(), 'models') });
    const production = await store.load('production');
    float = production.files.has(INT8_CALIBRATION_FILE) ? production.card.parent! : production.card.version;
    // every 40th train image (7 of 260): enough to exercise the command; the real calibration uses all of them
    const { card } = await quantizeVersion(store, float, { data: PNG, every: 40, gitCommit: 'test' });
    version = card.version;
  }, 300_000);
  afterAll(() => rmSync(storeDir, { recursive: true, force: true }));

  it('publishes a new version naming the float version as parent, with its files unchanged and a calibration of the default networks', async () => {
    const parent = await store.load(float);
    expect(parent.files.has(INT8_CALIBRATION_FILE)).toBe(false);
    const { card, files } = await store.load(version);
    expect(card.parent).toBe(parent.card.version);
    expect(card.architecture).toBe(parent.card.architecture);
    expect(card.notes).toMatch(/INT8 calibration.*metrics are the float network's/);
    for (const [name, bytes] of parent.files) expect(files.get(name)?.equals(bytes)).toBe(true);
    const calibration = parseInt8Calibration(files.get(INT8_CALIBRATION_FILE)!);
    expect(calibration.data).toMatchObject({ source: 'sunnybrook-png', split: 'train', images: 7 });
    expect(calibration.data.manifestSha256).toMatch(/^[0-9a-f]{64}$/);
    const model = await lvModelFromFiles(parent.files, parent.card.architecture);
    const names = lvNetworks(model).map((n) => n.name);
    const quantised = defaultNetworks(model);
    disposeLvModel(model);
    // a cascade: its segmenter only (the localiser stays float); a single network: itself
    expect(Object.keys(calibration.networks)).toEqual(quantised);
    expect(quantised).toEqual(names.includes('segmenter') ? ['segmenter'] : names);
    for (const n of Object.values(calibration.networks)) expect(Object.keys(n.ranges).length).toBeGreaterThan(10);
  });

  it('refuses val (where models are selected), a version already calibrated, and an unknown network', async () => {
    await expect(quantizeVersion(store, float, { data: PNG, split: 'val' })).rejects.toMatchObject({ code: 'CALIBRATION_SPLIT' });
    await expect(quantizeVersion(store, version, { data: PNG, every: 40 })).rejects.toMatchObject({ code: 'MODEL_ALREADY_CALIBRATED' });
    await expect(quantizeVersion(store, float, { data: PNG, every: 40, networks: ['decoder'] })).rejects.toMatchObject({ code: 'ONNX_CALIBRATION_NETWORK' });
  }, 300_000);

  it('is served in INT8 by the onnx engine (int8: false serves the same version in float), with masks close to float', async () => {
    const { card, files } = await store.load(version);
    const logged: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
    const [float, int8] = await Promise.all([false, true].map((q) => new OnnxEngineFactory(ort, { threads: 1, int8: q, logger }).create(card, files)));
    try {
      expect(float).toBeInstanceOf(OnnxSegmentationEngine);
      expect(int8).toBeInstanceOf(OnnxSegmentationEngine); // the INT8 probe against tfjs passed its tolerance
      const ready = logged.filter((l) => l.event === 'engine.onnx_ready');
      expect(ready.map((l) => l.int8).sort()).toEqual([false, true]);
      // Which networks run INT8, and the runtime GET /health/ready shows says so (float says nothing of INT8).
      const quantised = Object.keys(parseInt8Calibration(files.get(INT8_CALIBRATION_FILE)!).networks);
      expect([(float as OnnxSegmentationEngine).int8Networks, (int8 as OnnxSegmentationEngine).int8Networks]).toEqual([[], quantised]);
      expect(int8.runtime).toContain(`intra-op thread, INT8 ${quantised.join(' and ')}); explanations on tfjs`);
      expect(float.runtime).not.toContain('INT8');
      const { items } = loadDataset(PNG, { splits: ['val'] });
      const chosen = items.filter((_, k) => k % 33 === 0); // 9 images over the val patients
      const agreement: number[] = [];
      for (const it of chosen) {
        const [[a], [b]] = [await float.segment([it.image]), await int8.segment([it.image])];
        if (a.lvFound || b.lvFound) agreement.push(dice(b.mask, a.mask));
      }
      // eslint-disable-next-line no-console
      console.log(`INT8 vs float masks on ${chosen.length} val PNGs: Dice ${agreement.map((d) => d.toFixed(3)).join(' ')}`);
      expect(agreement.length).toBeGreaterThan(5);
      // Most masks move by a border pixel at most; a small cavity may flip which component wins, so the median is
      // bounded, not the minimum (the full val comparison is scripts/int8-eval.ts).
      const median = [...agreement].sort((x, y) => x - y)[agreement.length >> 1];
      expect(median).toBeGreaterThanOrEqual(0.95);
    } finally {
      float.dispose();
      int8.dispose();
    }
  }, 300_000);
});
