import { LvsegError } from '@lvseg/common';
import type { ModelStore } from './model-store';

export interface PromoteOptions {
  alias: string;
  /** Version id or alias (e.g. promote whatever `staging` points at). */
  version: string;
  /** Refuse versions whose `metrics.val.dice` is below this (or missing). No bar when omitted. */
  minDice?: number;
  /** Promote even below the bar; recorded in the alias history as `forced`. */
  force?: boolean;
  reason?: string;
  /** Who promoted, for the alias history. */
  by?: string;
}

export interface PromoteResult {
  alias: string;
  /** Version the alias pointed at before, if any. */
  previous?: string;
  /** Version the alias points at now. */
  current: string;
  /** The validation Dice the decision was based on. */
  valDice?: number;
  /** True when the bar was not met and `force` overrode it. */
  forced: boolean;
}

/** Points `alias` at a version after checking its validation Dice against `minDice`. */
export async function promote(store: ModelStore, opts: PromoteOptions): Promise<PromoteResult> {
  if (opts.minDice !== undefined && !(typeof opts.minDice === 'number' && opts.minDice >= 0 && opts.minDice <= 1)) {
    throw new LvsegError('invalid-input', 'MODEL_DICE_BAR_INVALID', `minDice must be a number in [0, 1], got ${JSON.stringify(opts.minDice)}`);
  }
  const card = await store.getCard(opts.version);
  const valDice = card.metrics?.val?.dice;
  const meetsBar = opts.minDice === undefined || (typeof valDice === 'number' && valDice >= opts.minDice);
  if (!meetsBar && !opts.force) {
    const measured = typeof valDice === 'number' ? `validation Dice ${valDice}` : 'no recorded validation Dice (metrics.val.dice)';
    throw new LvsegError('conflict', 'MODEL_BELOW_DICE_BAR', `refusing to point ${opts.alias} at ${card.version}: ${measured}, the bar is ${opts.minDice}; use force to override`, {
      version: card.version,
      valDice,
      minDice: opts.minDice,
    });
  }
  const change = await store.setAlias(opts.alias, card.version, {
    ...(opts.by !== undefined ? { by: opts.by } : {}),
    ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
    ...(!meetsBar ? { forced: true } : {}),
  });
  return {
    alias: change.alias,
    ...(change.previous !== undefined ? { previous: change.previous } : {}),
    current: change.current,
    ...(typeof valDice === 'number' ? { valDice } : {}),
    forced: !meetsBar,
  };
}
