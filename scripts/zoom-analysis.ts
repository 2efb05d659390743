// Choosing the cascade's second look at small LVs (`CascadeSpec.zoom`): the version's own spec, then each zoom
// setting, on one split; mean Dice over the images (as `lvseg eval`) and of the patients' means (each image alone, as
// POST /segment), mean Dice of the quarter of images
// with the smallest expert LVs, and how many images got a second look. A measurement, not serving.
// Usage: npx tsx scripts/zoom-analysis.ts <cascade version|alias> [split=train] [--zoom f,min,share|none ...]
import { join } from 'node:path';
import { loadConfig } from '../libs/config/src';
import { openConfiguredStore } from '../libs/model-store/src';
import { loadDataset } from '../libs/imaging/src';
import { ZoomSpec, evaluateCases, initBackend, loadLvModelByRef, maskOptionsOf, segmentCases } from '../libs/model/src';

(async () => {
  const argv = process.argv.slice(2);
  // undefined: the version's own spec; null: one pass.
  const zooms: Array<ZoomSpec | null | undefined> = [undefined];
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--zoom' && argv[i + 1] === 'none') {
      zooms.push(null);
      i++;
    } else if (argv[i] === '--zoom') {
      const [factor, minSideMm, maxShare] = argv[++i].split(',').map(Number);
      zooms.push({ factor, minSideMm, maxShare });
    } else args.push(argv[i]);
  }
  if (zooms.length === 1) for (const factor of [3, 3.5, 4, 5]) for (const minSideMm of [32, 48]) for (const maxShare of [0.85, 1]) zooms.push({ factor, minSideMm, maxShare });
  const config = loadConfig();
  await initBackend({ forced: config.backend });
  const split = args[1] ?? 'train';
  const { model, card } = await loadLvModelByRef(openConfiguredStore(config), args[0]);
  if (model.kind !== 'cascade') throw new Error(`${args[0]} is not a cascade`);
  const mask = maskOptionsOf(card);
  const { items } = loadDataset(join(config.dataDir, 'sunnybrook-png'), { splits: [split] });
  const own = model.spec.zoom;
  console.log(`model ${card?.version} split ${split}: ${items.length} images; own zoom ${JSON.stringify(own ?? null)}`);
  console.log('zoom (factor, min mm, max share)   mean Dice  of patients  smallest quarter  second looks');
  for (const zoom of zooms) {
    const results = await segmentCases({ ...model, spec: { ...model.spec, zoom: zoom === undefined ? own : (zoom ?? undefined) } }, items, mask);
    // The same figures as `lvseg eval`: mean over images, each patient's mean, the smallest quarter of `bySize`.
    const report = evaluateCases(items.map((it, k) => ({ id: it.id, case: it.case, pred: results[k].mask, truth: it.mask, pixelSpacingMm: it.image.pixelSpacingMm })));
    const byPatient = report.perCase.reduce((a, c) => a + c.meanDice, 0) / report.perCase.length;
    const name = zoom === null ? 'none (one pass)' : zoom ? `${zoom.factor}, ${zoom.minSideMm}, ${zoom.maxShare}` : `own (${own ? `${own.factor}, ${own.minSideMm}, ${own.maxShare}` : 'none'})`;
    console.log(`${name.padEnd(35)}${report.meanDice.toFixed(4).padStart(9)}${byPatient.toFixed(4).padStart(13)}${report.bySize[0].meanDice.toFixed(4).padStart(18)}${String(results.filter((r) => r.zoomed).length).padStart(14)}`);
  }
})();
