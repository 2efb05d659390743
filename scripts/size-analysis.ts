// Where the mean Dice is lost, by the expert LV's size: each image of a split segmented alone (as POST /segment), its
// Dice and expert LV area, grouped into area quartiles; with how much each group holds the mean below 1. A measurement.
// Usage: npx tsx scripts/size-analysis.ts <version|alias> [split=val]   (store and data: lvseg's configuration)
import { join } from 'node:path';
import { loadConfig } from '../libs/config/src';
import { openConfiguredStore } from '../libs/model-store/src';
import { countLvPixels, loadDataset } from '../libs/imaging/src';
import { dice, initBackend, loadLvModelByRef, maskOptionsOf, segmentCases } from '../libs/model/src';

(async () => {
  const config = loadConfig();
  await initBackend({ forced: config.backend });
  const split = process.argv[3] ?? 'val';
  const { model, card } = await loadLvModelByRef(openConfiguredStore(config), process.argv[2]);
  const { items } = loadDataset(join(config.dataDir, 'sunnybrook-png'), { splits: [split] });
  const out = await segmentCases(model, items, maskOptionsOf(card));
  const rows = items.map((it, k) => ({ area: countLvPixels(it.mask), predicted: countLvPixels(out[k].mask), dice: dice(out[k].mask, it.mask), found: out[k].lvFound }));
  const sorted = [...rows].sort((a, b) => a.area - b.area);
  const n = sorted.length;
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;
  console.log(`model ${card?.version} split ${split}: ${n} images, mean Dice over images ${mean(rows.map((r) => r.dice)).toFixed(4)}`);
  console.log('quartile  area px      images  mean Dice  Dice < 0.5  not found  share of the loss  predicted / expert area (found: mean, median)');
  const loss = rows.reduce((a, r) => a + (1 - r.dice), 0);
  for (let q = 0; q < 4; q++) {
    const g = sorted.slice(Math.floor((q * n) / 4), Math.floor(((q + 1) * n) / 4));
    const l = g.reduce((a, r) => a + (1 - r.dice), 0);
    console.log(`Q${q + 1}        ${String(g[0].area).padStart(4)}–${String(g[g.length - 1].area).padEnd(6)} ${String(g.length).padStart(6)}  ${mean(g.map((r) => r.dice)).toFixed(4)}     ${String(g.filter((r) => r.dice < 0.5).length).padStart(3)}         ${String(g.filter((r) => !r.found).length).padStart(3)}      ${((100 * l) / loss).toFixed(1)} %            ${mean(g.filter((r) => r.found).map((r) => r.predicted / r.area)).toFixed(3)}, ${median(g.filter((r) => r.found).map((r) => r.predicted / r.area)).toFixed(3)}`);
  }
})();
