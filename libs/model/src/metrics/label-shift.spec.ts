import type { BinaryMask } from '@lvseg/imaging';
import { dice } from './overlap';
import { bestLabelShift, shiftedDiceTable } from './label-shift';

function disc(rows: number, columns: number, cr: number, cc: number, radius: number): BinaryMask {
  const data = new Uint8Array(rows * columns);
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) if ((r - cr) ** 2 + (c - cc) ** 2 <= radius ** 2) data[r * columns + c] = 1;
  return { rows, columns, data };
}

describe('shiftedDiceTable / bestLabelShift', () => {
  it('the unshifted entry is dice(); a shifted entry is the Dice against the moved mask', () => {
    const pred = disc(40, 50, 20, 25, 8);
    const truth = disc(40, 50, 17, 30, 7);
    const table = shiftedDiceTable(pred, truth, 6);
    const side = 13;
    expect(table[6 * side + 6]).toBeCloseTo(dice(pred, truth), 12);
    // truth moved 3 down and 5 left is the disc at (20, 25) of radius 7.
    expect(table[(6 + 3) * side + (6 - 5)]).toBeCloseTo(dice(pred, disc(40, 50, 20, 25, 7)), 12);
  });

  it('finds the one shift of a case whose expert masks all sit off the predictions by the same amount', () => {
    const pairs = [
      { pred: disc(64, 64, 30, 30, 9), truth: disc(64, 64, 27, 41, 9) },
      { pred: disc(64, 64, 34, 28, 6), truth: disc(64, 64, 31, 39, 6) },
    ];
    const best = bestLabelShift(pairs, 15);
    expect(best).toMatchObject({ dRow: 3, dColumn: -11, dice: 1 });
    expect(best.unshiftedDice).toBeCloseTo(pairs.reduce((s, p) => s + dice(p.pred, p.truth), 0) / 2, 12);
  });

  it('keeps aligned masks where they are (ties go to the smallest move), and two empty masks agree at no move', () => {
    const m = disc(32, 32, 16, 16, 5);
    expect(bestLabelShift([{ pred: m, truth: m }], 4)).toMatchObject({ dRow: 0, dColumn: 0, dice: 1, unshiftedDice: 1 });
    const empty = { rows: 8, columns: 8, data: new Uint8Array(64) };
    expect(bestLabelShift([{ pred: empty, truth: empty }], 2)).toEqual({ dRow: 0, dColumn: 0, dice: 1, unshiftedDice: 1 });
  });
});
