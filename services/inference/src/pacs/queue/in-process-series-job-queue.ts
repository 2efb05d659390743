import { LvsegError } from '@lvseg/common';
import type { SeriesRef } from '../client/pacs-client';
import type { PacsJobView } from '../jobs/pacs-job';
import type { PacsJobsService } from '../jobs/pacs-jobs.service';
import { SeriesJobQueue, SeriesJobSubmitted, SeriesJobTrigger, SeriesQueueSummary, countsOfStates } from './series-job-queue';

/**
 * The single-machine queue: this pod segments (PacsJobsService: coalescing per series, PACS_CONCURRENCY, retries,
 * pending series in the state folder). The default when no Redis is configured.
 */
export class InProcessSeriesJobQueue implements SeriesJobQueue {
  readonly mode = 'in-process' as const;

  constructor(private readonly jobs: PacsJobsService) {}

  async submit(ref: SeriesRef, trigger: SeriesJobTrigger): Promise<SeriesJobSubmitted> {
    if (trigger.source === 'backfill') throw new LvsegError('invalid-input', 'BACKFILL_NEEDS_QUEUE', 'a backfill needs the Redis queue (LVSEG_REDIS_URL)');
    return this.jobs.submit(ref, { source: trigger.source, ...(trigger.eventId ? { eventId: trigger.eventId } : {}), ...(trigger.modality ? { modality: trigger.modality } : {}) });
  }

  alreadyDone(seriesInstanceUid: string): boolean {
    return this.jobs.isProcessed(seriesInstanceUid);
  }

  retryDue(): number {
    return this.jobs.resubmitDue('retry');
  }

  async get(id: string): Promise<PacsJobView> {
    return this.jobs.get(id);
  }

  async list(filter: { study?: string; series?: string; limit?: number }): Promise<PacsJobView[]> {
    return this.jobs.list(filter);
  }

  async summary(): Promise<SeriesQueueSummary> {
    return { mode: this.mode, counts: countsOfStates(this.jobs.list({ limit: Number.MAX_SAFE_INTEGER }).map((j) => j.state)) };
  }
}
