// Compares mask post-processing variants (threshold, which component is kept, hole filling) for a model on one split,
// through the serving path (`segmentCases`: for a cascade the mask also decides the second look). Choose on the TRAIN
// split only; val is for reporting. Mean Dice over images and the smallest quarter of expert LVs, as `lvseg eval`.
// Usage: npx tsx scripts/postprocess-analysis.ts <version|alias> [split=train] [thresholds=0.3,0.4,0.5,0.6]
// (store and data: lvseg's configuration, README "Configuration")
import { join } from 'node:path';
import { loadConfig } from '../libs/config/src';
import { openConfiguredStore } from '../libs/model-store/src';
import { loadDataset } from '../libs/imaging/src';
import { MaskOptions, disposeLvModel, evaluateCases, initBackend, loadLvModelByRef, maskOptionsOf, segmentCases } from '../libs/model/src';

(async () => {
  const config = loadConfig();
  await initBackend({ forced: config.backend });
  const [ref, split = 'train', list = '0.3,0.4,0.5,0.6'] = process.argv.slice(2);
  const { model, card } = await loadLvModelByRef(openConfiguredStore(config), ref);
  const { items } = loadDataset(join(config.dataDir, 'sunnybrook-png'), { splits: [split] });
  const own = maskOptionsOf(card);
  console.log(`model ${card?.version} split ${split}: ${items.length} images; own post-processing ${JSON.stringify(own)}`);
  console.log('threshold  component      fill  mean Dice  smallest quarter  no LV');
  const variants: MaskOptions[] = [];
  for (const threshold of list.split(',').map(Number)) {
    variants.push({ threshold, keepOneComponent: 'all', fillHoles: false });
    variants.push({ threshold, keepOneComponent: 'largest', fillHoles: true });
    variants.push({ threshold, keepOneComponent: 'most-probable', fillHoles: true });
  }
  for (const mask of variants) {
    const results = await segmentCases(model, items, mask);
    const report = evaluateCases(items.map((it, k) => ({ id: it.id, case: it.case, pred: results[k].mask, truth: it.mask, pixelSpacingMm: it.image.pixelSpacingMm })));
    console.log(
      `${String(mask.threshold).padStart(9)}  ${String(mask.keepOneComponent).padEnd(13)}  ${String(mask.fillHoles).padEnd(5)}${report.meanDice.toFixed(4).padStart(10)}${report.bySize[0].meanDice.toFixed(4).padStart(18)}${String(results.filter((r) => !r.lvFound).length).padStart(7)}`,
    );
  }
  disposeLvModel(model);
})();
