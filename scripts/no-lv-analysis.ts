// Images with no LV in them: does a model say so (lvFound false, empty mask), or draw a blob? And on images that do
// hold an LV, how often does it wrongly say there is none? A measurement, printed as a table; not used by serving.
// No-LV images: blank, seeded uniform noise, smoothed noise, and "off-heart" views of real images of the split: for
// each image, the 96×96 corner region farthest from its expert LV (no LV pixel inside), upsampled to 256×256, so real
// anatomy (chest wall, lung, liver) with no LV.
// Usage: npx tsx scripts/no-lv-analysis.ts <version|alias> [split=train] [--spec '<json>']   (store and data: lvseg's
// configuration, README "Configuration"). --spec '{"fallbackMinPeak":0.01}' measures a cascade with spec values other
// than its version's.
import { join } from 'node:path';
import { SeededRandom } from '../libs/common/src';
import { loadConfig } from '../libs/config/src';
import { openConfiguredStore } from '../libs/model-store/src';
import { GrayImage, boxSmooth, cropToRoi, loadDataset } from '../libs/imaging/src';
import { DEFAULT_MASK_OPTIONS, disposeLvModel, initBackend, loadLvModelByRef, maskOptionsOf, segmentLv } from '../libs/model/src';
import { specOption } from './spec-option';

function offHeart(image: GrayImage, mask: Uint8Array): GrayImage | null {
  const side = 96;
  const corners: Array<[number, number]> = [
    [side / 2, side / 2],
    [side / 2, image.columns - side / 2],
    [image.rows - side / 2, side / 2],
    [image.rows - side / 2, image.columns - side / 2],
  ];
  for (const [cr, cc] of corners) {
    let lv = 0;
    for (let r = cr - side / 2; r < cr + side / 2; r++) for (let c = cc - side / 2; c < cc + side / 2; c++) lv += mask[r * image.columns + c];
    if (lv === 0) {
      const roi = { centerRow: cr - 0.5, centerColumn: cc - 0.5, height: side, width: side };
      return { rows: 256, columns: 256, data: cropToRoi(image.data, image.rows, image.columns, roi, 256) };
    }
  }
  return null;
}

(async () => {
  const { args, spec } = specOption(process.argv.slice(2));
  const config = loadConfig();
  await initBackend({ forced: config.backend });
  const split = args[1] ?? 'train';
  const { model, card } = await loadLvModelByRef(openConfiguredStore(config), args[0]);
  const mask = card ? maskOptionsOf(card) : DEFAULT_MASK_OPTIONS;
  if (model.kind === 'cascade' && spec) model.spec = { ...model.spec, ...(spec as Partial<typeof model.spec>) };
  const { items } = loadDataset(join(config.dataDir, 'sunnybrook-png'), { splits: [split] });
  const rng = new SeededRandom(7);
  const n = 256;
  const sets: Record<string, GrayImage[]> = {
    blank: [{ rows: n, columns: n, data: new Float32Array(n * n) }],
    'uniform noise': Array.from({ length: 20 }, () => ({ rows: n, columns: n, data: Float32Array.from({ length: n * n }, () => rng.next() * 1000) })),
    'smoothed noise': Array.from({ length: 20 }, () => ({ rows: n, columns: n, data: boxSmooth(Float32Array.from({ length: n * n }, () => rng.next() * 1000), n, 4) })),
    'off-heart views': items.map((it) => offHeart(it.image, it.mask.data)).filter((x): x is GrayImage => x !== null),
  };
  console.log(`model ${card?.version ?? args[0]} (${card?.architecture ?? '?'}), split ${split}${model.kind === 'cascade' ? `, spec ${JSON.stringify(model.spec)}` : ''}`);
  console.log('no-LV set            images  said "LV found"  mean mask px when found');
  for (const [name, images] of Object.entries(sets)) {
    const out = await segmentLv(model, images, mask);
    const found = out.filter((r) => r.lvFound);
    const px = found.map((r) => r.mask.data.reduce((a, b) => a + b, 0));
    console.log(`${name.padEnd(20)} ${String(images.length).padStart(6)}  ${String(found.length).padStart(15)}  ${px.length ? (px.reduce((a, b) => a + b, 0) / px.length).toFixed(0) : '-'}`);
  }
  const real = await segmentLv(model, items.map((i) => i.image), mask);
  const missed = real.filter((r) => !r.lvFound).length;
  console.log(`images with an LV (${split}): ${items.length}, said "no LV": ${missed} (${((100 * missed) / items.length).toFixed(1)} %)`);
  disposeLvModel(model);
})();
