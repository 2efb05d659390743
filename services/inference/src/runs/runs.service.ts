import { Inject, Injectable, MessageEvent } from '@nestjs/common';
import { Observable } from 'rxjs';
import type { Logger } from 'pino';
import { LvsegError } from '@lvseg/common';
import { RunDetail, RunStore, RunSummary, assertRunId, assertRunLayerName, parseRunEpoch } from '@lvseg/model-store';
import { APP_LOGGER } from '../tokens';
import { RUN_STORE } from './run-store.token';

/** How often a live event stream re-reads its run from the store. */
export const RUN_POLL_MS = 1000;

/**
 * Training runs for the monitor: listing, one run's record, its heatmap images, and a live event stream that follows
 * a run by polling the store (the trainer may be another process, even another machine, writing to the same store).
 */
@Injectable()
export class RunsService {
  constructor(
    @Inject(RUN_STORE) private readonly store: RunStore,
    @Inject(APP_LOGGER) private readonly log: Logger,
  ) {}

  /** All runs, newest first, with status and latest epoch. */
  list(): Promise<RunSummary[]> {
    return this.store.listRuns();
  }

  /** A run with its epochs and heatmap index. */
  get(id: string): Promise<RunDetail> {
    assertRunId(id);
    return this.store.getRun(id);
  }

  /** One heatmap PNG; 400 for a layer the run does not record, 404 for an epoch without heatmaps. */
  async heatmap(id: string, epochParam: string, layer: string): Promise<Buffer> {
    assertRunId(id);
    const epoch = parseRunEpoch(epochParam);
    assertRunLayerName(layer);
    const { run } = await this.store.getRun(id);
    if (!run.layers.includes(layer)) {
      throw new LvsegError('invalid-input', 'RUN_LAYER_UNKNOWN', `run ${id} records no layer ${JSON.stringify(layer)}; its layers: ${run.layers.join(', ') || '(none)'}`, { valid: run.layers });
    }
    return this.store.readHeatmap(id, epoch, layer);
  }

  /**
   * Server-sent events for one run: `snapshot` (everything so far) first, then `epoch` per new epoch, `heatmaps` per new
   * heatmap set, `progress` when the trainer reports a new step, `status` on a status change, and `end` once the run is finished or failed (then the stream closes).
   * Unknown or malformed ids fail before the stream opens, so they are answered 404/400 as JSON.
   */
  async events(id: string, pollMs = RUN_POLL_MS): Promise<Observable<MessageEvent>> {
    assertRunId(id);
    const first = await this.store.getRun(id);
    return new Observable<MessageEvent>((subscriber) => {
      let previous = first;
      let timer: NodeJS.Timeout | undefined;
      let stopped = false;
      let pollFailures = 0;
      subscriber.next({ type: 'snapshot', data: first });
      const endIfDone = (detail: RunDetail): boolean => {
        if (detail.run.status === 'running') return false;
        subscriber.next({ type: 'end', data: { status: detail.run.status, version: detail.run.version ?? null } });
        subscriber.complete();
        return true;
      };
      const poll = async (): Promise<void> => {
        if (stopped) return;
        try {
          const next = await this.store.getRun(id);
          if (stopped) return;
          for (const event of runChanges(previous, next)) subscriber.next(event);
          previous = next;
          pollFailures = 0;
          if (endIfDone(next)) return;
        } catch (e) {
          // A store hiccup should not end the stream; say so once per streak of failures.
          if (pollFailures++ === 0) this.log.warn({ event: 'runs.poll_failed', runId: id, err: (e as Error).message }, 'run event stream: store read failed, retrying');
        }
        if (!stopped) timer = setTimeout(() => void poll(), pollMs);
      };
      if (!endIfDone(first)) timer = setTimeout(() => void poll(), pollMs);
      return () => {
        stopped = true;
        if (timer) clearTimeout(timer);
      };
    });
  }
}

/** The events that take a client from `before` to `after`: new or changed epochs, new heatmap sets, new step progress, a status change. */
export function runChanges(before: RunDetail, after: RunDetail): MessageEvent[] {
  const events: MessageEvent[] = [];
  const known = new Map(before.epochs.map((e) => [e.epoch, JSON.stringify(e)]));
  for (const e of after.epochs) if (known.get(e.epoch) !== JSON.stringify(e)) events.push({ type: 'epoch', data: e });
  const sets = new Map(before.heatmaps.map((h) => [h.epoch, h.layers.join(',')]));
  for (const h of after.heatmaps) if (sets.get(h.epoch) !== h.layers.join(',')) events.push({ type: 'heatmaps', data: h });
  if (after.progress && JSON.stringify(before.progress) !== JSON.stringify(after.progress)) events.push({ type: 'progress', data: after.progress });
  if (before.run.status !== after.run.status || before.run.version !== after.run.version) events.push({ type: 'status', data: after.run });
  return events;
}
