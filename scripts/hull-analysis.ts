// Would a convex hull of the predicted LV mask match the expert better? For each image of a split: Dice of the
// served mask and of its convex hull (pixel-centre fill of the hull of the mask's pixel corners), by patient as
// `lvseg eval` averages; plus how convex the expert masks are (area / hull area). A measurement, not serving.
// Choose on the train split; val is for reporting. Usage: npx tsx scripts/hull-analysis.ts <cascade version|alias> [split=train]
import { join } from 'node:path';
import { loadConfig } from '../libs/config/src';
import { openConfiguredStore } from '../libs/model-store/src';
import { BinaryMask, countLvPixels, fillContoursByPixelCentre, loadDataset } from '../libs/imaging/src';
import { dice, initBackend, loadLvModelByRef, maskOptionsOf, segmentCases } from '../libs/model/src';

/** Andrew's monotone chain over the corners of every mask pixel (x = column, y = row). */
function convexHullMask(m: BinaryMask): BinaryMask {
  const pts: Array<[number, number]> = [];
  for (let r = 0; r < m.rows; r++) for (let c = 0; c < m.columns; c++) if (m.data[r * m.columns + c]) pts.push([c - 0.5, r - 0.5], [c + 0.5, r - 0.5], [c - 0.5, r + 0.5], [c + 0.5, r + 0.5]);
  if (pts.length === 0) return m;
  pts.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o: number[], a: number[], b: number[]) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Array<[number, number]> = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Array<[number, number]> = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  const hull = [...lower.slice(0, -1), ...upper.slice(0, -1)];
  return fillContoursByPixelCentre([hull], m.rows, m.columns);
}

(async () => {
  const config = loadConfig();
  await initBackend({ forced: config.backend });
  const split = process.argv[3] ?? 'train';
  const { model, card } = await loadLvModelByRef(openConfiguredStore(config), process.argv[2]);
  const { items } = loadDataset(join(config.dataDir, 'sunnybrook-png'), { splits: [split] });
  const out = await segmentCases(model, items, maskOptionsOf(card));
  const perCase = new Map<string, { served: number[]; hull: number[]; expertConvexity: number[] }>();
  items.forEach((it, k) => {
    const m = out[k].mask;
    const pc = perCase.get(it.case) ?? { served: [], hull: [], expertConvexity: [] };
    pc.served.push(dice(m, it.mask));
    pc.hull.push(out[k].lvFound ? dice(convexHullMask(m), it.mask) : dice(m, it.mask));
    pc.expertConvexity.push(countLvPixels(it.mask) / Math.max(1, countLvPixels(convexHullMask(it.mask))));
    perCase.set(it.case, pc);
  });
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  console.log(`model ${card?.version} split ${split}: ${items.length} images`);
  console.log('case                 served  hull    expert area/hull');
  for (const [c, v] of perCase) console.log(`${c.padEnd(20)} ${mean(v.served).toFixed(4)}  ${mean(v.hull).toFixed(4)}  ${mean(v.expertConvexity).toFixed(3)}`);
  const byCase = (key: 'served' | 'hull' | 'expertConvexity') => mean([...perCase.values()].map((v) => mean(v[key])));
  console.log(`mean by patient: served ${byCase('served').toFixed(4)}, convex hull ${byCase('hull').toFixed(4)}; expert area / hull area ${byCase('expertConvexity').toFixed(3)}`);
})();
