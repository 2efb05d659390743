import { SingleBar, Presets } from 'cli-progress';
import type { EpochMetrics, TrainHooks } from '@lvseg/model';

const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(2) + '%' : '  -  ');
const num = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : '  -  ');

/** One line per epoch: loss, pixel accuracy and Dice on train and val. */
export function formatEpoch(m: EpochMetrics, epochs: number): string {
  const val = m.val ? `val acc ${pct(m.val.pixelAccuracy)} dice ${num(m.val.dice)}` : 'val      -';
  return `epoch ${String(m.epoch).padStart(String(epochs).length)}/${epochs}  lr ${m.learningRate.toExponential(2)}  loss ${num(m.trainLoss)}  train acc ${pct(m.trainPixelAccuracy)} dice ${num(m.trainDice)}  ${val}  ${(m.ms / 1000).toFixed(1)}s`;
}

/** Training hooks that draw a progress bar per epoch on a terminal and print a line per epoch everywhere. */
export function progressHooks(epochs: number, out: NodeJS.WriteStream = process.stderr): TrainHooks {
  const tty = Boolean(out.isTTY);
  let bar: SingleBar | undefined;
  return {
    onEpochStart(epoch, steps) {
      if (!tty) return;
      bar = new SingleBar({ stream: out, format: `epoch ${epoch}/${epochs} [{bar}] {value}/{total} steps  loss {loss}  lr {lr}`, hideCursor: true, clearOnComplete: true }, Presets.shades_classic);
      bar.start(steps, 0, { loss: '-', lr: '-' });
    },
    onStep(info) {
      bar?.update(info.step, { loss: info.loss.toFixed(4), lr: info.learningRate.toExponential(2) });
    },
    onEpochEnd(m) {
      bar?.stop();
      bar = undefined;
      out.write(formatEpoch(m, epochs) + '\n');
    },
  };
}

/** `lvseg eval`'s progress: a bar of images segmented on a terminal, one starting line elsewhere. */
export function evalProgress(what: string, out: NodeJS.WriteStream = process.stderr): (done: number, total: number) => void {
  const tty = Boolean(out.isTTY);
  let bar: SingleBar | undefined;
  return (done, total) => {
    if (done === 0) {
      if (!tty) {
        out.write(`${what}: segmenting ${total} images\n`);
        return;
      }
      bar = new SingleBar({ stream: out, format: `${what} [{bar}] {value}/{total} images  {eta_formatted} left`, hideCursor: true, clearOnComplete: true }, Presets.shades_classic);
      bar.start(total, 0);
      return;
    }
    bar?.update(done);
    if (done >= total) {
      bar?.stop();
      bar = undefined;
    }
  };
}
