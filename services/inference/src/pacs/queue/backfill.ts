import type { BullmqSeriesJobQueue } from './bullmq-series-job-queue';
import type { FoundSeries } from './pacs-series-search';

export interface BackfillProgress {
  /** Series found by the search so far. */
  found: number;
  /** Jobs this run added. */
  queued: number;
  /** Series that already had a job for the version (an earlier or interrupted backfill, the live flow). */
  alreadyQueued: number;
  /** Dead jobs queued again (`retryFailed`). */
  retried: number;
}

export interface BackfillOptions {
  modelVersion: string;
  dryRun?: boolean;
  /** Runs the dead jobs of the version again (else a dead job counts as already queued). */
  retryFailed?: boolean;
  /** Stops after the current page (the run can be started again: already queued series are skipped). */
  signal?: AbortSignal;
  onProgress?: (p: BackfillProgress) => void;
}

/**
 * Queues one job per series found, for one model version. Stoppable between series and resumable: the job id is
 * the series and the version, so running it again adds only what is missing. Returns the job ids of every series
 * found (new and already queued), to follow them.
 */
export async function backfillSeries(queue: BullmqSeriesJobQueue, pages: AsyncIterable<FoundSeries[]>, opts: BackfillOptions): Promise<BackfillProgress & { stopped: boolean; jobIds: string[] }> {
  const p: BackfillProgress = { found: 0, queued: 0, alreadyQueued: 0, retried: 0 };
  const jobIds: string[] = [];
  for await (const page of pages) {
    for (const s of page) {
      if (opts.signal?.aborted) return { ...p, stopped: true, jobIds };
      p.found++;
      const { added, retried, view } = await queue.enqueue(s, { source: 'backfill', ...(s.modality ? { modality: s.modality } : {}) }, opts.modelVersion, { dryRun: opts.dryRun, retryFailed: opts.retryFailed });
      if (added) p.queued++;
      else if (retried) p.retried++;
      else p.alreadyQueued++;
      jobIds.push(view.id);
    }
    opts.onProgress?.({ ...p });
  }
  return { ...p, stopped: false, jobIds };
}

export interface BackfillJobsProgress {
  total: number;
  done: number;
  skipped: number;
  failed: number;
  /** Running, waiting, or waiting for a retry. */
  open: number;
}

/** Follows the jobs of a backfill until every one is finished (or `signal` aborts); calls `onProgress` as it goes. */
export async function waitForJobs(queue: BullmqSeriesJobQueue, jobIds: string[], opts: { pollMs?: number; signal?: AbortSignal; onProgress?: (p: BackfillJobsProgress) => void } = {}): Promise<BackfillJobsProgress> {
  const finished = new Map<string, 'done' | 'skipped' | 'failed'>();
  for (;;) {
    const open = jobIds.filter((id) => !finished.has(id));
    for (let i = 0; i < open.length; i += 100) {
      const views = await Promise.all(open.slice(i, i + 100).map((id) => queue.get(id).catch(() => undefined)));
      for (const v of views) if (v && (v.state === 'done' || v.state === 'skipped' || v.state === 'failed')) finished.set(v.id, v.state);
    }
    const states = [...finished.values()];
    const p: BackfillJobsProgress = {
      total: jobIds.length,
      done: states.filter((s) => s === 'done').length,
      skipped: states.filter((s) => s === 'skipped').length,
      failed: states.filter((s) => s === 'failed').length,
      open: jobIds.length - finished.size,
    };
    opts.onProgress?.(p);
    if (p.open === 0 || opts.signal?.aborted) return p;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, opts.pollMs ?? 2000);
      opts.signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }
}
