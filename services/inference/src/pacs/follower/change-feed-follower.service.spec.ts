import pino from 'pino';
import { LvsegError } from '@lvseg/common';
import type { PacsConfig } from '@lvseg/config';
import { MetricsService } from '../../metrics/metrics.service';
import type { PacsChange, PacsChangeFeed, SeriesRef } from '../client/pacs-client';
import type { SeriesJobQueue } from '../queue/series-job-queue';
import { PacsMetrics } from '../pacs-metrics';
import { MemoryPacsStateStore, PacsTriggerSource } from '../state/pacs-state-store';
import { ChangeFeedFollower } from './change-feed-follower.service';

/** An Orthanc-like change log in memory: series changes with their UIDs and modality. */
class InMemoryFeed implements PacsChangeFeed {
  readonly log: PacsChange[] = [];
  readonly series = new Map<string, SeriesRef & { modality?: string }>();
  failNext = 0;
  add(type: string, pacsId: string, modality = 'MR'): void {
    this.series.set(pacsId, { studyInstanceUid: '1.2', seriesInstanceUid: `1.2.${pacsId}`, modality });
    this.log.push({ seq: this.log.length + 1, type, resourceType: 'Series', pacsId });
    this.log.push({ seq: this.log.length + 1, type: 'NewInstance', resourceType: 'Instance', pacsId: `i${pacsId}` });
  }
  async latestSeq(): Promise<number> {
    return this.log.length;
  }
  async changes(since: number, limit: number) {
    if (this.failNext > 0) {
      this.failNext--;
      throw new LvsegError('unavailable', 'PACS_UNREACHABLE', 'Orthanc changes: the PACS is unreachable (ECONNREFUSED)');
    }
    const changes = this.log.filter((c) => c.seq > since).slice(0, limit);
    const last = changes.length ? changes[changes.length - 1].seq : since;
    return { changes, last, done: last >= this.log.length };
  }
  async seriesOfChange(change: PacsChange) {
    return this.series.get(change.pacsId);
  }
}

/** Records submissions, and checks each series is pending (durably) before the cursor passes its change. */
class RecordingJobs {
  submitted: Array<{ series: string; source: PacsTriggerSource }> = [];
  processed = new Set<string>();
  resubmits = 0;
  constructor(private readonly state: MemoryPacsStateStore) {}
  async submit(ref: SeriesRef, t: { source: PacsTriggerSource }) {
    this.state.addPending({ ...ref, source: t.source, since: new Date().toISOString(), failures: 0 });
    this.submitted.push({ series: ref.seriesInstanceUid, source: t.source });
    return { job: {}, joined: false };
  }
  alreadyDone(series: string): boolean {
    return this.processed.has(series);
  }
  retryDue(): number {
    this.resubmits++;
    return 0;
  }
}

function setup() {
  const feed = new InMemoryFeed();
  const state = new MemoryPacsStateStore();
  const jobs = new RecordingJobs(state);
  const follower = new ChangeFeedFollower({ pollSeconds: 0.01 } as PacsConfig, feed, state, jobs as unknown as SeriesJobQueue, new PacsMetrics(new MetricsService()), pino({ level: 'silent' }));
  return { feed, state, jobs, follower };
}

describe('ChangeFeedFollower', () => {
  it('starts at the end of the log on first run (the archive is not re-processed), then follows new MR series', async () => {
    const { feed, state, jobs, follower } = setup();
    feed.add('NewSeries', 'old');
    await follower.tick();
    expect(state.cursor()).toBe(2);
    expect(jobs.submitted).toEqual([]);

    feed.add('NewSeries', 'a');
    feed.add('NewSeries', 'ct', 'CT');
    feed.add('NewSeries', 'seg', 'SEG');
    feed.add('StableSeries', 'a');
    await follower.tick();
    expect(jobs.submitted).toEqual([
      { series: '1.2.a', source: 'change-feed' },
      { series: '1.2.a', source: 'change-feed' },
    ]);
    expect(state.cursor()).toBe(feed.log.length);
    expect(jobs.resubmits).toBe(2);
  });

  it('reads a long backlog page by page and skips series already segmented', async () => {
    const { feed, state, jobs, follower } = setup();
    state.setCursor(0);
    for (let i = 0; i < 150; i++) feed.add('NewSeries', `s${i}`);
    jobs.processed.add('1.2.s7');
    await follower.tick();
    expect(jobs.submitted).toHaveLength(149);
    expect(state.cursor()).toBe(300);
    expect(state.pending()).toHaveLength(149);
  });

  it('keeps the cursor when the PACS is unreachable, and catches up once it answers', async () => {
    const { feed, state, jobs, follower } = setup();
    state.setCursor(0);
    feed.add('NewSeries', 'a');
    feed.failNext = 1;
    await expect(follower.tick()).rejects.toMatchObject({ code: 'PACS_UNREACHABLE' });
    expect(state.cursor()).toBe(0);
    expect(jobs.submitted).toEqual([]);
    await follower.tick();
    expect(jobs.submitted).toEqual([{ series: '1.2.a', source: 'change-feed' }]);
    expect(state.cursor()).toBe(2);
  });

  it('polls on its own after start and stops on shutdown', async () => {
    const { feed, state, jobs, follower } = setup();
    state.setCursor(0);
    feed.failNext = 1; // the first read fails; the loop backs off and retries
    feed.add('NewSeries', 'a');
    follower.onApplicationBootstrap();
    for (let i = 0; i < 300 && jobs.submitted.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await follower.onApplicationShutdown();
    expect(jobs.submitted).toEqual([{ series: '1.2.a', source: 'change-feed' }]);
    expect(follower.lastError).toBeUndefined();
  });
});
