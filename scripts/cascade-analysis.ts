// Where a cascade loses Dice: the localiser (no LV found, or a ROI that misses the expert LV) or the segmenter (a
// ROI around the LV, drawn wrong). For each image of a split: the cascade alone, as a series (per case), and with an
// "oracle" ROI centred on the expert LV's centroid (what a perfect localiser would give). A measurement, not serving.
// Usage: npx tsx scripts/cascade-analysis.ts <cascade version|alias> [split=val] [--spec '<json>']   (store and data:
// lvseg's configuration, README "Configuration"). --spec '{"testTimeFlip":true}' measures with spec values other
// than the version's own.
import { join } from 'node:path';
import { loadConfig } from '../libs/config/src';
import { openConfiguredStore } from '../libs/model-store/src';
import { loadDataset, maskCentroid, normalize, roiAround } from '../libs/imaging/src';
import {
  dice, disposeLvModel, initBackend, loadLvModelByRef, maskOptionsOf, pasteRoiProbability, predictLvProbabilities, probabilityToMask, segmentCases, segmenterInput,
} from '../libs/model/src';
import { specOption } from './spec-option';

(async () => {
  const { args, spec } = specOption(process.argv.slice(2));
  const config = loadConfig();
  await initBackend({ forced: config.backend });
  const split = args[1] ?? 'val';
  const { model, card } = await loadLvModelByRef(openConfiguredStore(config), args[0]);
  if (model.kind !== 'cascade') throw new Error(`${args[0]} is not a cascade`);
  if (spec) model.spec = { ...model.spec, ...(spec as Partial<typeof model.spec>) };
  const mask = maskOptionsOf(card);
  const { items } = loadDataset(join(config.dataDir, 'sunnybrook-png'), { splits: [split] });
  const alone = await segmentCases(model, items, mask);
  const series = await segmentCases(model, items, mask, { series: true });
  let notFound = 0, roiMisses = 0;
  const d = { alone: [] as number[], series: [] as number[], oracle: [] as number[] };
  const perCase = new Map<string, { alone: number[]; series: number[]; oracle: number[] }>();
  items.forEach((it, k) => {
    const a = alone[k];
    if (!a.lvFound) notFound++;
    const [cr, cc] = maskCentroid(it.mask.data, it.mask.rows, it.mask.columns)!;
    if (a.roi) {
      // The ROI misses the LV when an expert LV pixel lies outside it.
      let outside = 0;
      for (let i = 0; i < it.mask.data.length; i++) {
        if (!it.mask.data[i]) continue;
        const r = Math.floor(i / it.mask.columns), c = i % it.mask.columns;
        if (Math.abs(r - a.roi.centerRow) > a.roi.height / 2 || Math.abs(c - a.roi.centerColumn) > a.roi.width / 2) outside++;
      }
      if (outside) roiMisses++;
    }
    const roi = roiAround(it.image, cr, cc, model.spec.roiSideMm);
    const [p] = predictLvProbabilities(model.segmenter, [segmenterInput(normalize(it.image), it.image, roi, model.spec)], model.spec.segmenterSize, 1);
    const oracle = probabilityToMask(pasteRoiProbability(p, roi, it.image, model.spec), it.image.rows, it.image.columns, mask);
    const row = { alone: dice(a.mask, it.mask), series: dice(series[k].mask, it.mask), oracle: dice(oracle, it.mask) };
    const pc = perCase.get(it.case) ?? { alone: [], series: [], oracle: [] };
    for (const key of ['alone', 'series', 'oracle'] as const) {
      d[key].push(row[key]);
      pc[key].push(row[key]);
    }
    perCase.set(it.case, pc);
  });
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  console.log(`model ${card?.version} split ${split}: ${items.length} images`);
  console.log('case                 alone  series  oracle ROI');
  for (const [c, v] of perCase) console.log(`${c.padEnd(20)} ${mean(v.alone).toFixed(4)}  ${mean(v.series).toFixed(4)}  ${mean(v.oracle).toFixed(4)}`);
  console.log(`mean Dice: alone ${mean(d.alone).toFixed(4)}, as series ${mean(d.series).toFixed(4)}, oracle ROI ${mean(d.oracle).toFixed(4)}`);
  console.log(`alone: no LV found in ${notFound} images; ROI cut off part of the expert LV in ${roiMisses}; Dice < 0.5 in ${d.alone.filter((x) => x < 0.5).length}`);
  disposeLvModel(model);
})();
