import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { isLvsegError } from '@lvseg/common';
import type { PacsConfig } from '@lvseg/config';
import { APP_LOGGER } from '../../tokens';
import type { PacsChangeFeed } from '../client/pacs-client';
import { PACS_CHANGE_FEED, PACS_CONFIG, PACS_STATE } from '../pacs.tokens';
import { PacsMetrics } from '../pacs-metrics';
import type { PacsStateStore } from '../state/pacs-state-store';
import { SERIES_JOB_QUEUE, SeriesJobQueue } from '../queue/series-job-queue';
import { backoffMs, sleep } from '../util/retry';

/** Changes read per request, and requests per tick (a long backlog is read over several ticks, without a pause). */
const PAGE = 200;
const SERIES_CHANGES = new Set(['NewSeries', 'StableSeries']);

/**
 * Follows the PACS's durable change log from a persisted cursor: webhooks are a hint, this is the source of truth.
 * Every new or newly stable MR series becomes pending (durably) before the cursor moves past its change, so lvseg
 * being down, a lost webhook or a crash between the two never loses a series. Without a cursor (first start) it
 * begins at the end of the log: the archive is not re-processed. Each tick also restarts failed series whose retry
 * time has come. A failed read is retried with backoff.
 */
@Injectable()
export class ChangeFeedFollower implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly stop = new AbortController();
  private loop?: Promise<void>;
  private failures = 0;
  lastError?: { code: string; message: string; at: string };

  constructor(
    @Inject(PACS_CONFIG) private readonly config: PacsConfig,
    @Inject(PACS_CHANGE_FEED) private readonly feed: PacsChangeFeed,
    @Inject(PACS_STATE) private readonly state: PacsStateStore,
    @Inject(SERIES_JOB_QUEUE) private readonly jobs: SeriesJobQueue,
    private readonly metrics: PacsMetrics,
    @Inject(APP_LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stop.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stop.signal.aborted) {
      let delayMs = this.config.pollSeconds * 1000;
      try {
        await this.tick();
        this.failures = 0;
        this.lastError = undefined;
      } catch (e) {
        this.failures++;
        this.metrics.changeFeedErrors.inc();
        const code = isLvsegError(e) ? e.code : 'UNEXPECTED';
        const message = e instanceof Error ? e.message : String(e);
        this.lastError = { code, message, at: new Date().toISOString() };
        delayMs = Math.max(delayMs, backoffMs(this.failures, 1000, 60_000));
        this.log.warn({ event: 'pacs.change_feed_failed', code, failures: this.failures, retryInMs: delayMs, ...(isLvsegError(e) ? {} : { err: e }) }, `reading the PACS change feed failed: ${message}`);
      }
      await sleep(delayMs, this.stop.signal);
    }
  }

  /** Reads every change after the cursor, turns series changes into pending jobs, and moves the cursor. */
  async tick(): Promise<void> {
    let cursor = this.state.cursor();
    if (cursor === undefined) {
      cursor = await this.feed.latestSeq();
      this.state.setCursor(cursor);
      this.log.info({ event: 'pacs.change_feed_start', cursor }, `following the PACS change feed from its current end (seq ${cursor})`);
    }
    for (;;) {
      if (this.stop.signal.aborted) return;
      const page = await this.feed.changes(cursor, PAGE);
      let submitted = 0;
      for (const change of page.changes) {
        if (!SERIES_CHANGES.has(change.type) || change.resourceType !== 'Series') continue;
        const series = await this.feed.seriesOfChange(change);
        if (!series) continue; // deleted since
        if (series.modality && series.modality !== 'MR') continue; // SEGs (ours included), CT, reports…
        if (this.jobs.alreadyDone(series.seriesInstanceUid)) continue;
        // In-process: pending in the state folder; Redis: a durable job. Either way before the cursor moves.
        await this.jobs.submit({ studyInstanceUid: series.studyInstanceUid, seriesInstanceUid: series.seriesInstanceUid }, { source: 'change-feed', modality: series.modality });
        submitted++;
      }
      // Only now: every series of this page is durably pending.
      cursor = page.last;
      this.state.setCursor(cursor);
      this.metrics.changeFeedCursor.set(cursor);
      if (submitted > 0) this.log.info({ event: 'pacs.change_feed', cursor, series: submitted }, `change feed: ${submitted} series to process (cursor ${cursor})`);
      if (page.done || page.changes.length === 0) break;
    }
    this.jobs.retryDue();
  }
}
