import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import pino from 'pino';
import request from 'supertest';
import { LvsegConfig, loadConfig } from '@lvseg/config';
import { initBackend } from '@lvseg/model';
import { FileModelStore } from '@lvseg/model-store';
import { RunningRedis, describeWithRedis, startRedis } from '../../../../test/support/redis';
import { createInferenceApp } from '../create-app';
import { TfjsEngineFactory } from '../engine/tfjs-engine';
import { PacsJobsService } from './jobs/pacs-jobs.service';
import { BullmqSeriesJobQueue } from './queue/bullmq-series-job-queue';
import { InProcessSeriesJobQueue } from './queue/in-process-series-job-queue';
import { SERIES_JOB_QUEUE, SeriesJobQueue } from './queue/series-job-queue';
import { SeriesSegmentationService } from './series/series-segmentation.service';
import { MemoryPacsStateStore } from './state/pacs-state-store';

/**
 * The PACS module's two modes in the real app: without Redis the pod segments in-process (the single-machine
 * default); with LVSEG_REDIS_URL the bridge only queues in Redis (no job runner, no series pipeline: workers run it).
 * GET /jobs and /metrics give the queue's counts in both. The PACS is an unused loopback port: nothing is fetched
 * (the change feed's failed reads are retried in the background), and the model store is empty (no model loads).
 */
const SECRET = 'a-webhook-secret-of-some-length';
const ref = (n: number) => ({ studyInstanceUid: '1.2.3', seriesInstanceUid: `1.2.3.${n}` });

async function startApp(root: string, env: Record<string, string>): Promise<{ app: NestExpressApplication; config: LvsegConfig }> {
  const config = loadConfig({ PACS_URL: 'http://127.0.0.1:9', PACS_WEBHOOK_SECRET: SECRET, PACS_POLL_SECONDS: '3600', LVSEG_PACS_STATE_DIR: join(root, 'state'), LVSEG_ALIAS_POLL_SECONDS: '3600', ...env });
  const app = await createInferenceApp({
    config,
    store: new FileModelStore({ root: join(root, 'models') }),
    engineFactory: new TfjsEngineFactory(),
    logger: pino({ level: 'silent' }),
    // Readiness asked afresh at each GET /health/ready (the PACS at port 9 refuses at once).
    pacs: { config: config.pacs!, state: new MemoryPacsStateStore(), timing: { readinessCacheMs: 0 }, ...(config.queue ? { queue: config.queue } : {}) },
  });
  await app.init();
  return { app, config };
}

const has = (app: NestExpressApplication, token: unknown): boolean => {
  try {
    app.get(token as never, { strict: false });
    return true;
  } catch {
    return false;
  }
};

describe('PacsModule without Redis: in-process, the default', () => {
  let root: string;
  let app: NestExpressApplication;
  beforeAll(async () => {
    await initBackend();
    root = mkdtempSync(join(tmpdir(), 'lvseg-pacs-module-'));
    ({ app } = await startApp(root, {}));
  });
  afterAll(async () => {
    await app?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('queues in this pod (the job runner and the series pipeline are here)', () => {
    expect(app.get(SERIES_JOB_QUEUE, { strict: false })).toBeInstanceOf(InProcessSeriesJobQueue);
    expect(has(app, PacsJobsService)).toBe(true);
    expect(has(app, SeriesSegmentationService)).toBe(true);
  });

  it('GET /jobs and /metrics count its jobs', async () => {
    const queue = app.get<SeriesJobQueue>(SERIES_JOB_QUEUE, { strict: false });
    const { job } = await queue.submit(ref(1), { source: 'webhook', eventId: 'e1', modality: 'MR' });
    const listed = await request(app.getHttpServer()).get('/jobs').expect(200);
    expect(listed.body.queue).toEqual({ mode: 'in-process', counts: { waiting: 1, active: 0, delayed: 0, completed: 0, failed: 0 } });
    expect(listed.body.jobs.map((j: { id: string }) => j.id)).toEqual([job.id]);
    // A study's listing is that study's jobs only: no queue counts.
    expect((await request(app.getHttpServer()).get('/jobs?study=1.2.3').expect(200)).body).toEqual({ jobs: [expect.objectContaining({ id: job.id })] });
    const metrics = (await request(app.getHttpServer()).get('/metrics').expect(200)).text;
    expect(metrics).toContain('lvseg_series_jobs{state="waiting",mode="in-process"} 1');
    expect(metrics).toContain('lvseg_series_jobs{state="failed",mode="in-process"} 0');
  });

  it('GET /health/ready checks the model and the PACS, each with its reason (no Redis check without Redis)', async () => {
    const res = await request(app.getHttpServer()).get('/health/ready').expect(503);
    expect(res.body.error.code).toBe('MODEL_NOT_READY');
    expect(Object.keys(res.body.checks)).toEqual(['model', 'pacs']);
    expect(res.body.checks.model).toMatchObject({ status: 'failing', code: 'MODEL_NOT_READY' });
    expect(res.body.checks.pacs).toMatchObject({ status: 'failing', code: 'PACS_UNREACHABLE' });
    expect(res.body.error.message).toContain(`pacs not ready: ${res.body.checks.pacs.message}`);
  });

  it('refuses a backfill job (it needs the Redis queue)', async () => {
    await expect(app.get<SeriesJobQueue>(SERIES_JOB_QUEUE, { strict: false }).submit(ref(2), { source: 'backfill' })).rejects.toMatchObject({ code: 'BACKFILL_NEEDS_QUEUE' });
  });
});

describeWithRedis()('PacsModule with LVSEG_REDIS_URL: the bridge only queues (real redis-server)', () => {
  let root: string;
  let redis: RunningRedis;
  let app: NestExpressApplication;
  beforeAll(async () => {
    await initBackend();
    root = mkdtempSync(join(tmpdir(), 'lvseg-pacs-module-redis-'));
    redis = await startRedis();
    ({ app } = await startApp(root, { LVSEG_REDIS_URL: redis.url, LVSEG_JOBS_QUEUE: 'module-spec' }));
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('has the Redis queue and neither the job runner nor the series pipeline', () => {
    expect(app.get(SERIES_JOB_QUEUE, { strict: false })).toBeInstanceOf(BullmqSeriesJobQueue);
    expect(has(app, PacsJobsService)).toBe(false);
    expect(has(app, SeriesSegmentationService)).toBe(false);
  });

  it('GET /jobs, GET /jobs/:id and /metrics give the Redis queue (counts, model version, progress)', async () => {
    const queue = app.get<BullmqSeriesJobQueue>(SERIES_JOB_QUEUE, { strict: false });
    // The served model's version names a live job; this store has none, so the version is given (as a backfill does).
    await queue.enqueue(ref(1), { source: 'backfill', modality: 'MR' }, 'v-spec');
    await queue.enqueue(ref(2), { source: 'backfill', modality: 'MR' }, 'v-spec');
    const listed = await request(app.getHttpServer()).get('/jobs').expect(200);
    expect(listed.body.queue).toEqual({
      mode: 'redis',
      counts: { waiting: 2, active: 0, delayed: 0, completed: 0, failed: 0 },
      queue: { name: 'module-spec', rateLimit: { max: 20, durationMs: 60_000 }, attempts: 5 },
    });
    const one = (await request(app.getHttpServer()).get(`/jobs/${encodeURIComponent('1.2.3.1@v-spec')}`).expect(200)).body;
    expect(one).toMatchObject({ id: '1.2.3.1@v-spec', state: 'queued', queue: { modelVersion: 'v-spec', progress: 0, stalls: 0 }, triggers: [{ source: 'backfill' }] });
    await request(app.getHttpServer()).get(`/jobs/${encodeURIComponent('1.2.3.9@v-spec')}`).expect(404);
    const metrics = (await request(app.getHttpServer()).get('/metrics').expect(200)).text;
    expect(metrics).toContain('lvseg_series_jobs{state="waiting",mode="redis"} 2');
    expect(metrics).toContain('lvseg_series_jobs{state="active",mode="redis"} 0');
  });

  // Last: it stops Redis.
  it('GET /health/ready also checks Redis: ok while it answers, failing with the reason once it stops', async () => {
    const up = await request(app.getHttpServer()).get('/health/ready').expect(503);
    expect(Object.keys(up.body.checks)).toEqual(['model', 'pacs', 'redis']);
    expect(up.body.checks.redis).toEqual({ status: 'ok', checkedAt: expect.any(String) });
    expect(up.body.error.message).not.toContain('redis not ready');
    await redis.stop();
    const down = await request(app.getHttpServer()).get('/health/ready').expect(503);
    expect(down.body.checks.redis).toEqual({ status: 'failing', checkedAt: expect.any(String), code: 'QUEUE_UNAVAILABLE', message: expect.stringMatching(/^Redis (is not connected|did not answer)|^the job queue is unavailable/) });
    expect(down.body.error.message).toContain(`redis not ready: ${down.body.checks.redis.message}`);
    expect(down.text).not.toContain(redis.url);
  });
});
