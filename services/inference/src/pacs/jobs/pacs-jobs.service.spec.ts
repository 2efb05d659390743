import pino from 'pino';
import { LvsegError } from '@lvseg/common';
import type { PacsConfig } from '@lvseg/config';
import { MetricsService } from '../../metrics/metrics.service';
import type { ModelRegistry } from '../../models/model-registry.service';
import type { PacsClient, PacsSeriesStatus, SeriesRef } from '../client/pacs-client';
import { PacsMetrics } from '../pacs-metrics';
import type { SeriesSegmentationService } from '../series/series-segmentation.service';
import { MemoryPacsStateStore } from '../state/pacs-state-store';
import { sleep } from '../util/retry';
import type { PacsJobResult, PacsJobView } from './pacs-job';
import { PacsJobsService, PacsTiming } from './pacs-jobs.service';

/**
 * The job runner against in-memory stand-ins of its interfaces (PACS, pipeline, registry): coalescing, the
 * concurrency bound, retries with backoff, what stays pending, resume and shutdown. The real parts are exercised
 * together in test/pacs.e2e-spec.ts.
 */
const timing: PacsTiming = { seriesPollMs: [5, 20], maxSeriesWaitMs: 5000, attempts: 3, permanentAttempts: 2, retryBaseMs: 5, retryMaxMs: 20, failedRetryAfterMs: 60, failedRetryMaxMs: 200, keepFinishedJobs: 100, readinessCacheMs: 0, readinessTimeoutMs: 100 };
const ref = (n: number): SeriesRef => ({ studyInstanceUid: '1.2.3', seriesInstanceUid: `1.2.3.${n}` });

class InMemoryPacs implements Pick<PacsClient, 'seriesStatus'> {
  readonly status = new Map<string, PacsSeriesStatus>();
  statusCalls = 0;
  failuresLeft = 0;
  async seriesStatus(r: SeriesRef): Promise<PacsSeriesStatus> {
    this.statusCalls++;
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      throw new LvsegError('unavailable', 'PACS_UNREACHABLE', 'Orthanc series status: the PACS is unreachable (ECONNREFUSED)');
    }
    return this.status.get(r.seriesInstanceUid) ?? { exists: true, complete: true, modality: 'MR', instanceCount: 1 };
  }
}

class ScriptedPipeline {
  calls: string[] = [];
  running = 0;
  maxRunning = 0;
  /** Errors thrown by the next calls, in order. */
  errors: unknown[] = [];
  async process(r: SeriesRef): Promise<PacsJobResult> {
    this.calls.push(r.seriesInstanceUid);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      await sleep(10);
      const e = this.errors.shift();
      if (e) throw e;
      return { outcome: 'segmented', modelVersion: 'v1', images: [] };
    } finally {
      this.running--;
    }
  }
}

function setup(opts: { concurrency?: number; state?: MemoryPacsStateStore } = {}) {
  const pacs = new InMemoryPacs();
  const pipeline = new ScriptedPipeline();
  const state = opts.state ?? new MemoryPacsStateStore();
  const registry = { status: () => ({ ready: true, version: 'v1' }) } as unknown as ModelRegistry;
  const config = { concurrency: opts.concurrency ?? 2 } as PacsConfig;
  const lines: Array<Record<string, unknown>> = [];
  const metricsService = new MetricsService();
  const jobs = new PacsJobsService(
    config,
    pacs as unknown as PacsClient,
    state,
    timing,
    pipeline as unknown as SeriesSegmentationService,
    registry,
    new PacsMetrics(metricsService),
    pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) }),
  );
  const finished = async (id: string): Promise<PacsJobView> => {
    for (let i = 0; i < 500; i++) {
      const j = jobs.get(id);
      if (['done', 'skipped', 'failed'].includes(j.state)) return j;
      await sleep(5);
    }
    throw new Error(`job ${id} did not finish`);
  };
  return { pacs, pipeline, state, jobs, finished, metrics: metricsService, logs: () => lines };
}

describe('PacsJobsService', () => {
  it('joins triggers of one series into one job, waits until the series is complete, processes it once', async () => {
    const { pacs, pipeline, state, jobs, finished } = setup();
    pacs.status.set('1.2.3.1', { exists: true, complete: false, modality: 'MR', instanceCount: 3 });
    const first = jobs.submit(ref(1), { source: 'webhook', eventId: 'e1' });
    const second = jobs.submit(ref(1), { source: 'webhook', eventId: 'e2' });
    const third = jobs.submit(ref(1), { source: 'change-feed' });
    expect(first.joined).toBe(false);
    expect([second.joined, third.joined]).toEqual([true, true]);
    expect(new Set([first.job.id, second.job.id, third.job.id]).size).toBe(1);
    expect(state.pending().map((p) => p.seriesInstanceUid)).toEqual(['1.2.3.1']);
    await sleep(40);
    expect(jobs.get(first.job.id).state).toBe('waiting-for-series');
    expect(pipeline.calls).toEqual([]);

    pacs.status.set('1.2.3.1', { exists: true, complete: true, modality: 'MR', instanceCount: 3 });
    const job = await finished(first.job.id);
    expect(job.state).toBe('done');
    expect(job.triggers.map((t) => [t.source, t.eventId])).toEqual([['webhook', 'e1'], ['webhook', 'e2'], ['change-feed', undefined]]);
    expect(pipeline.calls).toEqual(['1.2.3.1']);
    expect(state.pending()).toEqual([]);
  });

  it('runs at most PACS_CONCURRENCY series through the pipeline at once', async () => {
    const { pipeline, jobs, finished } = setup({ concurrency: 2 });
    const ids = [1, 2, 3, 4, 5].map((n) => jobs.submit(ref(n), { source: 'change-feed' }).job.id);
    const done = await Promise.all(ids.map(finished));
    expect(done.every((j) => j.state === 'done')).toBe(true);
    expect(pipeline.calls.sort()).toEqual(['1.2.3.1', '1.2.3.2', '1.2.3.3', '1.2.3.4', '1.2.3.5']);
    expect(pipeline.maxRunning).toBe(2);
  });

  it('retries transient PACS errors with backoff, both while waiting for the series and in the pipeline', async () => {
    const { pacs, pipeline, jobs, finished } = setup();
    pacs.failuresLeft = 2;
    pipeline.errors = [new LvsegError('unavailable', 'PACS_SERVER_ERROR', 'STOW-RS store: the PACS answered HTTP 503')];
    const job = await finished(jobs.submit(ref(1), { source: 'webhook' }).job.id);
    expect(job.state).toBe('done');
    expect(job.attempts).toBe(2);
    expect(job.error).toBeUndefined();
    expect(pacs.statusCalls).toBe(3);
  });

  it('a run that keeps failing transiently fails the job but keeps the series pending, and it is retried later', async () => {
    const { pipeline, state, jobs, finished } = setup();
    pipeline.errors = [1, 2, 3].map(() => new LvsegError('unavailable', 'PACS_UNREACHABLE', 'WADO-RS series retrieve: the PACS is unreachable (ECONNREFUSED)'));
    const job = await finished(jobs.submit(ref(1), { source: 'webhook' }).job.id);
    expect(job.state).toBe('failed');
    expect(job.attempts).toBe(timing.attempts);
    expect(job.error).toMatchObject({ code: 'PACS_UNREACHABLE', retryable: true, nextAttemptAt: expect.any(String) });
    expect(state.pending()).toEqual([expect.objectContaining({ seriesInstanceUid: '1.2.3.1', failures: 1, retryAfter: job.error!.nextAttemptAt })]);

    expect(jobs.resubmitDue()).toBe(0); // not yet
    await sleep(timing.failedRetryAfterMs + 10);
    expect(jobs.resubmitDue()).toBe(1);
    await sleep(100);
    expect(state.pending()).toEqual([]);
    expect(pipeline.calls).toHaveLength(4);
  });

  it('a permanent error (content that cannot be decoded) is retried permanentAttempts times, then fails for good with the reason: job, log, metrics', async () => {
    const { pipeline, state, jobs, finished, metrics, logs } = setup();
    const undecodable = () => new LvsegError('invalid-input', 'SERIES_UNDECODABLE', 'none of the 2 image(s) of the series could be decoded (DICOM_CODEC_FAILED): …');
    pipeline.errors = [undecodable(), undecodable(), undecodable()];
    const job = await finished(jobs.submit(ref(1), { source: 'webhook' }).job.id);
    expect(job).toMatchObject({ state: 'failed', attempts: timing.permanentAttempts, error: { code: 'SERIES_UNDECODABLE', retryable: false } });
    expect(job.error!.nextAttemptAt).toBeUndefined();
    expect(pipeline.calls).toHaveLength(timing.permanentAttempts);
    expect(state.pending()).toEqual([]);
    expect(jobs.resubmitDue()).toBe(0);
    expect(await metrics.registry.getSingleMetricAsString('lvseg_pacs_job_failures_total')).toContain('lvseg_pacs_job_failures_total{code="SERIES_UNDECODABLE",permanent="true"} 1');
    expect(logs().find((l) => l.event === 'pacs.job_failed')).toMatchObject({ code: 'SERIES_UNDECODABLE', permanent: true, attempts: timing.permanentAttempts, retryAt: null });

    // A permanent error that goes away on the second attempt (a garbled retrieve) ends done.
    pipeline.errors = [undecodable()];
    expect((await finished(jobs.submit(ref(2), { source: 'webhook' }).job.id)).state).toBe('done');
  });

  it('a series failing transiently run after run waits twice as long each time, up to failedRetryMaxMs', async () => {
    const { pipeline, state, jobs, finished } = setup();
    const down = () => new LvsegError('unavailable', 'PACS_UNREACHABLE', 'WADO-RS series retrieve: the PACS is unreachable (ECONNREFUSED)');
    const waits: number[] = [];
    let id = jobs.submit(ref(1), { source: 'webhook' }).job.id;
    for (let run = 1; run <= 4; run++) {
      pipeline.errors = Array.from({ length: timing.attempts }, down);
      const job = await finished(id);
      expect(job.error).toMatchObject({ code: 'PACS_UNREACHABLE', retryable: true });
      const p = state.pending()[0];
      expect(p.failures).toBe(run);
      waits.push(Date.parse(p.retryAfter!) - Date.parse(job.updatedAt));
      if (run < 4) {
        await sleep(Date.parse(p.retryAfter!) - Date.now() + 5);
        expect(jobs.resubmitDue()).toBe(1);
        id = jobs.list({ series: ref(1).seriesInstanceUid })[0].id;
      }
    }
    // 60, 120, 200 (capped), 200 ms, give or take the clock between the two timestamps.
    for (const [k, expected] of [60, 120, 200, 200].entries()) expect(Math.abs(waits[k] - expected)).toBeLessThanOrEqual(15);
  });

  it('skips without fetching: non-MR series (from the webhook’s modality or the PACS) and series already segmented with the served model', async () => {
    const { pacs, pipeline, state, jobs, finished } = setup();
    const ct = await finished(jobs.submit(ref(1), { source: 'webhook', modality: 'CT' }).job.id);
    expect(ct.result?.reason?.code).toBe('NOT_MR');
    expect(pacs.statusCalls).toBe(0);
    pacs.status.set('1.2.3.2', { exists: true, complete: false, modality: 'SEG' });
    expect((await finished(jobs.submit(ref(2), { source: 'change-feed' }).job.id)).result?.reason).toEqual({ code: 'NOT_MR', message: 'the series modality is SEG, not MR: lvseg segments cardiac MR only' });
    state.markProcessed('1.2.3.3', 'v1');
    expect(jobs.isProcessed('1.2.3.3')).toBe(true);
    const again = await finished(jobs.submit(ref(3), { source: 'webhook' }).job.id);
    expect(again).toMatchObject({ state: 'skipped', result: { reason: { code: 'ALREADY_SEGMENTED' } } });
    expect(pipeline.calls).toEqual([]);
    expect(state.pending()).toEqual([]);
  });

  it('resumes pending series at start, and leaves unfinished ones pending at shutdown', async () => {
    const state = new MemoryPacsStateStore();
    state.addPending({ ...ref(7), source: 'webhook', since: new Date().toISOString(), failures: 0 });
    const a = setup({ state });
    a.jobs.onApplicationBootstrap();
    await sleep(100);
    expect(a.pipeline.calls).toEqual(['1.2.3.7']);
    expect(state.pending()).toEqual([]);

    const b = setup({ state });
    b.pacs.status.set('1.2.3.8', { exists: true, complete: false, modality: 'MR' });
    const { job } = b.jobs.submit(ref(8), { source: 'webhook' });
    await sleep(20);
    await b.jobs.onApplicationShutdown();
    expect(b.jobs.get(job.id)).toMatchObject({ state: 'failed', error: { code: 'SHUTTING_DOWN', retryable: true } });
    expect(state.pending().map((p) => p.seriesInstanceUid)).toEqual(['1.2.3.8']);
    expect(b.jobs.resubmitDue()).toBe(0); // a stopped runner starts nothing
  });

  it('job records outlive the runner: found by id and by study/series after a restart; one cut short by a crash says so', async () => {
    const state = new MemoryPacsStateStore();
    const a = setup({ state });
    const done = await a.finished(a.jobs.submit(ref(1), { source: 'webhook', eventId: 'e1' }).job.id);
    const other = await a.finished(a.jobs.submit({ studyInstanceUid: '9.9', seriesInstanceUid: '9.9.1' }, { source: 'change-feed' }).job.id);
    a.pacs.status.set('1.2.3.2', { exists: true, complete: false, modality: 'MR' });
    const waiting = a.jobs.submit(ref(2), { source: 'webhook' }).job;
    await sleep(20);
    // The process dies here (no shutdown hook): the record of the waiting job still says waiting-for-series.
    expect(state.jobRecords().find((r) => r.id === waiting.id)?.state).toBe('waiting-for-series');

    const b = setup({ state });
    expect(b.jobs.get(done.id)).toEqual(done);
    expect(b.jobs.get(waiting.id)).toMatchObject({ state: 'failed', error: { code: 'INTERRUPTED', retryable: true } });
    expect(b.jobs.list({ series: '1.2.3.1' }).map((j) => j.id)).toEqual([done.id]);
    expect(b.jobs.list({ study: '1.2.3' }).map((j) => j.id)).toEqual([waiting.id, done.id]);
    expect(b.jobs.list({ study: '9.9', series: '9.9.1' }).map((j) => j.id)).toEqual([other.id]);
    expect(b.jobs.list({ study: '9.9', series: '1.2.3.1' })).toEqual([]);
    expect(b.jobs.list({ limit: 1 }).map((j) => j.id)).toEqual([waiting.id]);
    // The series itself is resumed by a new job, found beside the interrupted one.
    b.pacs.status.set('1.2.3.2', { exists: true, complete: true, modality: 'MR' });
    expect(b.jobs.resubmitDue('resume')).toBe(1);
    const resumed = b.jobs.list({ series: '1.2.3.2' });
    expect(resumed).toHaveLength(2);
    expect((await b.finished(resumed[0].id)).state).toBe('done');
    a.jobs.onApplicationShutdown();
  });

  it('answers 404 JOB_NOT_FOUND for an unknown job', () => {
    expect(() => setup().jobs.get('nope')).toThrow(expect.objectContaining({ kind: 'not-found', code: 'JOB_NOT_FOUND' }));
  });
});
