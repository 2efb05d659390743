import { TrainConfig } from '@lvseg/model';

export interface SearchSpace {
  learningRate: number[];
  decayRate: number[];
  decaySteps: number[];
  epochs: number[];
}

/** Every combination of the search space, in a stable order. */
export function searchGrid(space: SearchSpace): Array<Partial<TrainConfig>> {
  const out: Array<Partial<TrainConfig>> = [];
  for (const learningRate of space.learningRate)
    for (const decayRate of space.decayRate)
      for (const decaySteps of space.decaySteps)
        for (const epochs of space.epochs) out.push({ learningRate, decayRate, decaySteps, epochs });
  return out;
}

export interface LeaderboardRow {
  rank: number;
  params: Partial<TrainConfig>;
  valDice: number;
  valPixelAccuracy: number;
  trainDice: number;
  bestEpoch: number;
  ms: number;
  version?: string;
}

/** Leaderboard text, best val Dice first. */
export function formatLeaderboard(rows: LeaderboardRow[]): string {
  const head = 'rank  learning_rate  decay_rate  decay_steps  epochs  val Dice  val acc   train Dice  best epoch  time     version';
  const body = rows.map(
    (r) =>
      `${String(r.rank).padStart(4)}  ${String(r.params.learningRate).padStart(13)}  ${String(r.params.decayRate).padStart(10)}  ${String(r.params.decaySteps).padStart(11)}  ${String(r.params.epochs).padStart(6)}  ${r.valDice.toFixed(4).padStart(8)}  ${(r.valPixelAccuracy * 100).toFixed(2).padStart(6)}%  ${r.trainDice.toFixed(4).padStart(10)}  ${String(r.bestEpoch).padStart(10)}  ${(r.ms / 1000).toFixed(0).padStart(5)}s  ${r.version ?? '-'}`,
  );
  return [head, ...body].join('\n');
}

/** Parse a comma list of numbers for a search dimension. */
export function parseNumberList(name: string, text: string): number[] {
  const values = text.split(',').map((s) => Number(s.trim()));
  if (values.length === 0 || values.some((v) => !Number.isFinite(v) || v <= 0)) throw new Error(`--${name} takes a comma list of positive numbers, got "${text}"`);
  return values;
}
