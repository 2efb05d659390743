// Compares mask post-processing variants for a model on one split (choose on the TRAIN split only; val is for reporting).
// Usage: npx tsx scripts/postprocess-analysis.ts <version|alias> [split=train]   (store and data: lvseg's configuration, README "Configuration")
import { join } from 'node:path';
import { loadConfig } from '../libs/config/src';
import { openConfiguredStore } from '../libs/model-store/src';
import { loadDataset, toModelInput } from '../libs/imaging/src';
import { initBackend, loadModelByRef, predictLvProbabilities, probabilityToMask, dice, selectComponent, fillHoles } from '../libs/model/src';
(async () => {
  const config = loadConfig();
  await initBackend({ forced: config.backend });
  const store = openConfiguredStore(config);
  const { model } = await loadModelByRef(store, process.argv[2]);
  const { items } = loadDataset(join(config.dataDir, 'sunnybrook-png'), { splits: [process.argv[3] ?? 'train'] });
  const probs = predictLvProbabilities(model, items.map((i) => toModelInput(i.image)));
  const variants: Record<string, (p: Float32Array) => ReturnType<typeof fillHoles>> = {};
  for (const t of [0.3, 0.4, 0.5, 0.6]) {
    variants[`t${t} raw`] = (p) => probabilityToMask(p, 256, 256, { threshold: t, keepOneComponent: 'all', fillHoles: false });
    variants[`t${t} largest+fill`] = (p) => probabilityToMask(p, 256, 256, { threshold: t, keepOneComponent: 'largest', fillHoles: true });
    variants[`t${t} probmass+fill`] = (p) => fillHoles(selectComponent(probabilityToMask(p, 256, 256, { threshold: t, keepOneComponent: 'all', fillHoles: false }), { probability: p }));
  }
  for (const [name, f] of Object.entries(variants)) {
    let d = 0;
    items.forEach((it, k) => (d += dice(f(probs[k]), it.mask)));
    console.log(name.padEnd(20), (d / items.length).toFixed(4));
  }
})();
