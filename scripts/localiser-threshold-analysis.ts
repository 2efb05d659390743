// How a cascade's "is there an LV?" decision trades missed LVs for Dice: the localiser's fallback peak (a ROI at the
// localiser's most probable pixel when no component is confident) swept on one split (each image alone, as POST /segment). A measurement to choose the spec on the train
// split; not used by serving.
// Usage: npx tsx scripts/localiser-threshold-analysis.ts <cascade version|alias> [split=train] [min masses=1, e.g. 1,2,4]   (store and data: lvseg's configuration, README "Configuration")
import { join } from 'node:path';
import { loadConfig } from '../libs/config/src';
import { openConfiguredStore } from '../libs/model-store/src';
import { loadDataset } from '../libs/imaging/src';
import { dice, disposeLvModel, initBackend, loadLvModelByRef, maskOptionsOf, segmentLv } from '../libs/model/src';

(async () => {
  const config = loadConfig();
  await initBackend({ forced: config.backend });
  const split = process.argv[3] ?? 'train';
  const { model, card } = await loadLvModelByRef(openConfiguredStore(config), process.argv[2]);
  if (model.kind !== 'cascade') throw new Error(`${process.argv[2]} is not a cascade`);
  const { items } = loadDataset(join(config.dataDir, 'sunnybrook-png'), { splits: [split] });
  const base = model.spec;
  console.log(`model ${card?.version} split ${split}: ${items.length} images`);
  console.log('fallback peak  min mass  mean Dice  no LV found  Dice < 0.5');
  for (const peak of [undefined, 0.2, 0.1, 0.05, 0.02, 0.01, 0]) {
    for (const minMass of (process.argv[4] ?? '1').split(',').map(Number)) {
      model.spec = { ...base, fallbackMinPeak: peak, minLocaliserMass: minMass };
      const out = await segmentLv(model, items.map((i) => i.image), maskOptionsOf(card));
      const d = out.map((r, k) => dice(r.mask, items[k].mask));
      console.log(`${(peak === undefined ? 'none' : peak.toFixed(2)).padStart(13)}  ${minMass.toFixed(2).padStart(8)}  ${(d.reduce((a, b) => a + b, 0) / d.length).toFixed(4).padStart(9)}  ${String(out.filter((r) => !r.lvFound).length).padStart(11)}  ${String(d.filter((x) => x < 0.5).length).padStart(10)}`);
    }
  }
  disposeLvModel(model);
})();
