// Test-time augmentation by flips: mean Dice of a model with its LV probabilities averaged over 1, 2 or 4 flipped
// copies of each input (then the usual post-processing), on one split. Not used by serving; a measurement.
// Usage: npx tsx scripts/tta-analysis.ts <version|alias> [split=train]   (store and data: lvseg's configuration, README "Configuration")
import { join } from 'node:path';
import { loadConfig } from '../libs/config/src';
import { openConfiguredStore } from '../libs/model-store/src';
import { loadDataset, MODEL_INPUT_SIZE as S, resizeBilinear, toModelInput } from '../libs/imaging/src';
import { evaluateCases, initBackend, loadModelByRef, predictLvProbabilities, probabilityToMask } from '../libs/model/src';

/** The S×S map mirrored left-right (`h`) and/or top-bottom (`v`); its own inverse. */
function flip(a: Float32Array, h: boolean, v: boolean): Float32Array {
  const o = new Float32Array(a.length);
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) o[(v ? S - 1 - y : y) * S + (h ? S - 1 - x : x)] = a[y * S + x];
  return o;
}

(async () => {
  const config = loadConfig();
  await initBackend({ forced: config.backend });
  const split = process.argv[3] ?? 'train';
  const { model } = await loadModelByRef(openConfiguredStore(config), process.argv[2]);
  const { items } = loadDataset(join(config.dataDir, 'sunnybrook-png'), { splits: [split] });
  const inputs = items.map((i) => toModelInput(i.image));
  const flips: Array<[boolean, boolean]> = [[false, false], [true, false], [false, true], [true, true]];
  const probs = flips.map(([h, v]) => predictLvProbabilities(model, inputs.map((a) => flip(a, h, v))).map((p) => flip(p, h, v)));
  for (const [name, used] of [['no flips', [0]], ['+ left-right', [0, 1]], ['4 flips', [0, 1, 2, 3]]] as const) {
    const report = evaluateCases(
      items.map((it, k) => {
        const mean = new Float32Array(S * S);
        for (const j of used) for (let i = 0; i < mean.length; i++) mean[i] += probs[j][k][i] / used.length;
        const prob = resizeBilinear(mean, S, S, it.image.rows, it.image.columns);
        return { id: it.id, case: it.case, pred: probabilityToMask(prob, it.image.rows, it.image.columns), truth: it.mask, pixelSpacingMm: it.image.pixelSpacingMm };
      }),
    );
    console.log(`${split} ${name.padEnd(13)} mean Dice ${report.meanDice.toFixed(4)}  good contours ${(report.goodContourRate * 100).toFixed(1)}%  Dice over good ${report.meanDiceGood?.toFixed(4) ?? "-"}`);
  }
  model.dispose();
})();
