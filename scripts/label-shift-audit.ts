// Know the data: do a case's expert masks sit where a model finds the LV, or all off by the same rigid shift? For
// each case of the chosen splits, the integer shift (one per case, within ±max-shift px) that maximises the mean
// Dice of the model's masks (each image segmented alone, as POST /segment) against the shifted expert masks, and how
// many of the case's images on their own prefer a shift near it. A case that gains a lot from a shift no other case
// needs, with its images agreeing on it, is a registration question about its labels (or a systematic model error)
// for a human to look at. A measurement, printed as a table; no mask is changed and nothing else reads it.
// Usage: npx tsx scripts/label-shift-audit.ts <version|alias> [splits=train,val] [--max-shift 16]
//   (store and data: lvseg's configuration, README "Configuration").
import { join } from 'node:path';
import { loadConfig } from '../libs/config/src';
import { openConfiguredStore } from '../libs/model-store/src';
import { loadDataset } from '../libs/imaging/src';
import { DEFAULT_MASK_OPTIONS, bestLabelShift, disposeLvModel, initBackend, loadLvModelByRef, maskOptionsOf, segmentLv } from '../libs/model/src';

/** A case is flagged when one shift of at least this many pixels (city-block) lifts its mean Dice by at least this much. */
const FLAG = { minMovePx: 4, minGain: 0.1 };
/** An image "agrees" with its case's shift when its own best shift is within this many pixels of it (each axis). */
const AGREE_PX = 3;

(async () => {
  const args = process.argv.slice(2);
  const at = args.indexOf('--max-shift');
  const maxShift = at >= 0 ? Number(args.splice(at, 2)[1]) : 16;
  if (!(Number.isInteger(maxShift) && maxShift >= 1 && maxShift <= 64)) throw new Error('--max-shift takes an integer from 1 to 64');
  if (!args[0]) throw new Error('usage: npx tsx scripts/label-shift-audit.ts <version|alias> [splits=train,val] [--max-shift 16]');
  const splits = (args[1] ?? 'train,val').split(',');
  const config = loadConfig();
  await initBackend({ forced: config.backend });
  const { model, card } = await loadLvModelByRef(openConfiguredStore(config), args[0]);
  const mask = card ? maskOptionsOf(card) : DEFAULT_MASK_OPTIONS;
  const { items } = loadDataset(join(config.dataDir, 'sunnybrook-png'), { splits });
  const byCase = new Map<string, typeof items>();
  for (const it of items) byCase.set(it.case, [...(byCase.get(it.case) ?? []), it]);
  process.stdout.write(`model ${card?.version ?? args[0]}, splits ${splits.join('+')}, shifts within ±${maxShift} px (+: down/right), flagged: a move ≥ ${FLAG.minMovePx} px lifting mean Dice by ≥ ${FLAG.minGain}\n\n`);
  process.stdout.write('| case | split | images | mean Dice | best shift (rows, cols) | mean Dice at it | gain | images agreeing (±3 px) | flagged |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n');
  const rows: Array<{ move: number; gain: number; axis: number }> = [];
  for (const [name, list] of [...byCase].sort((a, b) => a[0].localeCompare(b[0]))) {
    const predicted = await segmentLv(model, list.map((i) => i.image), mask);
    const pairs = list.map((it, k) => ({ pred: predicted[k].mask, truth: it.mask }));
    const best = bestLabelShift(pairs, maxShift);
    const agreeing = pairs.filter((p) => {
      const own = bestLabelShift([p], maxShift);
      return Math.abs(own.dRow - best.dRow) <= AGREE_PX && Math.abs(own.dColumn - best.dColumn) <= AGREE_PX;
    }).length;
    const move = Math.abs(best.dRow) + Math.abs(best.dColumn);
    const gain = best.dice - best.unshiftedDice;
    rows.push({ move, gain, axis: Math.max(Math.abs(best.dRow), Math.abs(best.dColumn)) });
    const flagged = move >= FLAG.minMovePx && gain >= FLAG.minGain;
    process.stdout.write(`| ${name} | ${list[0].split} | ${list.length} | ${best.unshiftedDice.toFixed(3)} | (${best.dRow}, ${best.dColumn}) | ${best.dice.toFixed(3)} | ${gain >= 0 ? '+' : ''}${gain.toFixed(3)} | ${agreeing}/${list.length} | ${flagged ? '**yes**' : ''} |\n`);
  }
  const isFlagged = (r: { move: number; gain: number }) => r.move >= FLAG.minMovePx && r.gain >= FLAG.minGain;
  const others = rows.filter((r) => !isFlagged(r));
  process.stdout.write(`\n${rows.length} cases, flagged: ${rows.length - others.length}; the others' best shifts are at most ${Math.max(0, ...others.map((r) => r.axis))} px on either axis\n`);
  disposeLvModel(model);
})().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
