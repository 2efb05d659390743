/**
 * Past one machine, end to end: a real redis-server, a real Orthanc (its Lua webhook included), the real inference app
 * as the PACS bridge in queue mode (it only queues), and two `lvseg worker` processes (real child processes) that
 * segment. The 5 Sunnybrook patients are sent with storescu as a scanner would; one worker is killed with SIGKILL (by
 * PID) in the middle of a series. Checked in Orthanc itself: every series gets exactly one SEG, none is lost, the
 * killed job was retried by the other worker. Then `lvseg backfill` (a real process, QIDO-RS) with a second model
 * version writes one new SEG per series, and running it again queues nothing (resume is idempotent).
 *
 * Nothing depends on the machine being idle: the kill is timed by the worker's own log line (the pipeline has started
 * on a series), the waits are upper bounds (PACS_E2E_PHASE_MINUTES, default 12), and a job that ran twice because a
 * busy worker lost its lock (a loaded machine can starve the lock renewal) is accepted as long as the PACS holds
 * exactly one SEG per series: that, not the count of runs, is the guarantee.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { repoRoot } from '@lvseg/common';
import { PacsConfig, QueueConfig, loadConfig } from '@lvseg/config';
import { naturalizeDicom, segUidsFor } from '@lvseg/dicom';
import { ModelStore, openModelStore } from '@lvseg/model-store';
import { createInferenceApp } from '../services/inference/src/create-app';
import type { PacsJobView } from '../services/inference/src/pacs/jobs/pacs-job';
import type { SeriesQueueSummary } from '../services/inference/src/pacs/queue/series-job-queue';
import { captureLogs } from './support/log-capture';
import { LvsegProcess, runLvseg, startLvseg } from './support/lvseg-process';
import { RunningOrthanc, freePort, pacsToolsMissingReason, startOrthanc } from './support/pacs/orthanc';
import { storescu } from './support/pacs/storescu';
import { RunningRedis, describeWithRedis, startRedis } from './support/redis';
import { SUNNYBROOK_DICOM_DIR, sunnybrookCases, sunnybrookMissingReason } from './support/sunnybrook';

const describeIfTools = describeWithRedis(pacsToolsMissingReason() ?? sunnybrookMissingReason());
const PHASE_MS = Number(process.env.PACS_E2E_PHASE_MINUTES ?? 12) * 60_000;
const STABLE_AGE_SECONDS = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

interface OrthancSeries {
  ID: string;
  Instances: string[];
  MainDicomTags: Record<string, string>;
}

describeIfTools('PACS past one machine (real redis-server + Orthanc, bridge queues, 2 lvseg worker processes, one killed mid-series)', () => {
  const secret = 'queue-e2e-webhook-secret-0123456789';
  const dirs: string[] = [];
  const workers: LvsegProcess[] = [];
  let redis: RunningRedis;
  let orthanc: RunningOrthanc;
  let bridge: NestExpressApplication;
  let bridgeUrl: string;
  let store: ModelStore;
  let storeDir: string;
  let v1: string;
  let pacs: PacsConfig;
  let queue: QueueConfig;
  let workerEnv: Record<string, string>;
  /** Source MR series UIDs of the 5 patients, from the files. */
  let sourceSeries: string[];
  let killed: { pid: number; jobId: string } | undefined;

  const allSeries = () => orthanc.rest<OrthancSeries[]>('/series?expand');
  const segsOf = async (): Promise<OrthancSeries[]> => (await allSeries()).filter((s) => s.MainDicomTags.Modality === 'SEG');
  const getJob = async (id: string) => (await request(bridgeUrl).get(`/jobs/${encodeURIComponent(id)}`).expect(200)).body as PacsJobView;
  const startWorker = async (): Promise<LvsegProcess> => {
    const w = startLvseg(['worker'], workerEnv);
    workers.push(w);
    await w.waitFor((l) => l.event === 'queue.worker_ready', PHASE_MS, 'the worker to be ready');
    return w;
  };

  beforeAll(async () => {
    const files = sunnybrookCases().map((c) => join(SUNNYBROOK_DICOM_DIR, c.image));
    sourceSeries = [...new Set(files.map((f) => String(naturalizeDicom(readFileSync(f)).SeriesInstanceUID)))].sort();

    storeDir = mkdtempSync(join(tmpdir(), 'lvseg-queue-models-'));
    dirs.push(storeDir);
    store = openModelStore(`file://${storeDir}`, { seedFrom: join(repoRoot(), 'models') });
    v1 = await store.resolve('production');

    redis = await startRedis();
    const port = await freePort();
    orthanc = await startOrthanc({ webhookUrl: `http://127.0.0.1:${port}/webhooks/pacs`, webhookSecret: secret, stableAgeSeconds: STABLE_AGE_SECONDS });
    const stateDir = mkdtempSync(join(tmpdir(), 'lvseg-queue-state-'));
    dirs.push(stateDir);
    const queueEnv = {
      LVSEG_REDIS_URL: redis.url,
      // A dead worker's job is back in the queue within half a minute (production: 120 s lock, 30 s checks); not less,
      // so a worker starved of CPU by the training run still renews its lock in time (usually).
      LVSEG_JOBS_LOCK_SECONDS: '30',
      LVSEG_JOBS_STALLED_SECONDS: '1',
      LVSEG_JOBS_BACKOFF_MS: '500',
      LVSEG_JOBS_RATE_MAX: '100',
      LVSEG_JOBS_RATE_SECONDS: '1',
    };
    const pacsEnv = { PACS_URL: orthanc.url, PACS_USERNAME: orthanc.username, PACS_PASSWORD: orthanc.password, PACS_WEBHOOK_SECRET: secret, PACS_POLL_SECONDS: '0.5', LVSEG_PACS_STATE_DIR: stateDir };
    // The bridge's configuration, loaded as main.ts does: the inference app with the PACS module and the Redis queue.
    const config = loadConfig({ ...queueEnv, ...pacsEnv, LVSEG_ALIAS_POLL_SECONDS: '5', LOG_LEVEL: 'info' });
    queue = config.queue!;
    pacs = config.pacs!;
    // The same PACS settings as the bridge (the configuration rules ask for the webhook secret wherever PACS_URL is set).
    workerEnv = { ...queueEnv, PACS_URL: orthanc.url, PACS_USERNAME: orthanc.username, PACS_PASSWORD: orthanc.password, PACS_WEBHOOK_SECRET: secret, LVSEG_MODEL_STORE: `file://${storeDir}`, LOG_LEVEL: 'info' };

    // The bridge: the inference app with the PACS module in queue mode (webhook + change feed → Redis), on loopback.
    bridge = await createInferenceApp({ config, store, logger: captureLogs('info').logger, pacs: { config: pacs, queue } });
    await bridge.listen(port, '127.0.0.1');
    bridgeUrl = `http://127.0.0.1:${port}`;
    const ready = await until('the bridge to be ready', async () => {
      const r = await request(bridgeUrl).get('/health/ready');
      return r.status === 200 ? r : undefined;
    }, PHASE_MS);
    // Ready means the model, the PACS and (Redis mode) Redis: each check under its name.
    expect([ready.body.pacs, ready.body.redis]).toEqual([{ status: 'ok', checkedAt: expect.any(String) }, { status: 'ok', checkedAt: expect.any(String) }]);
  }, PHASE_MS);

  afterAll(async () => {
    for (const w of workers) await w.stop();
    await bridge?.close();
    await orthanc?.stop();
    await redis?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('every series gets exactly one SEG, none lost, the job of the killed worker retried by the other', async () => {
    const [a, b] = [await startWorker(), await startWorker()];
    const started = performance.now();
    await storescu(orthanc, sunnybrookCases().map((c) => join(SUNNYBROOK_DICOM_DIR, c.image)));
    const jobIds = sourceSeries.map((s) => `${s}@${v1}`);

    // The bridge only queued: its jobs are in Redis, and the workers, not the bridge, run them.
    const queued = await until('the 5 jobs to be queued', async () => {
      const views = await Promise.all(jobIds.map((id) => request(bridgeUrl).get(`/jobs/${encodeURIComponent(id)}`)));
      return views.every((r) => r.status === 200) ? views.map((r) => r.body as PacsJobView) : undefined;
    }, PHASE_MS);
    expect(queued.every((j) => j.triggers.some((t) => t.source === 'webhook' || t.source === 'change-feed'))).toBe(true);

    // Kill a worker in the middle of a series: the pipeline has started on it (its log says so; GET /jobs/:id then
    // shows it running on that worker) and has not finished it.
    const byPid = new Map([a, b].map((w) => [w.pid, w]));
    killed = await until('a worker in the middle of a series', () => {
      for (const w of [a, b]) {
        const lines = w.lines();
        const last = lines.filter((l) => l.event === 'queue.job_segmenting').pop();
        if (!last) continue;
        const after = lines.slice(lines.lastIndexOf(last));
        if (!after.some((l) => l.jobId === last.jobId && (l.event === 'queue.job_finished' || l.event === 'queue.job_error'))) return { pid: w.pid, jobId: String(last.jobId) };
      }
      return undefined;
    }, PHASE_MS, 10);
    process.kill(killed.pid, 'SIGKILL');
    const victim = byPid.get(killed.pid)!;
    const survivor = victim === a ? b : a;
    await victim.exited;

    const finished = await until('every job to finish', async () => {
      const views = await Promise.all(jobIds.map(getJob));
      return views.every((j) => ['done', 'skipped', 'failed'].includes(j.state)) ? views : undefined;
    }, PHASE_MS, 500);
    const wallMs = performance.now() - started;

    // None lost, nothing dead.
    for (const j of finished) expect(j.state).not.toBe('failed');
    const killedJob = finished.find((j) => j.id === killed!.jobId)!;
    expect(killedJob.queue!.stalls).toBeGreaterThanOrEqual(1);
    expect(Number(killedJob.queue!.worker!.split(':').pop())).toBe(survivor.pid);
    // Its re-run either segmented it, or found its SEG and SR already stored (by the dead worker, or by an earlier run
    // of the survivor's: SEG_ALREADY_IN_PACS asks the PACS, ALREADY_SEGMENTED the worker's own record).
    for (const j of finished) if (j.state === 'skipped') expect([j.id, j.result?.reason?.code]).toEqual([j.id, expect.stringMatching(/^(SEG_ALREADY_IN_PACS|ALREADY_SEGMENTED)$/)]);

    // Exactly one SEG per series, checked in the PACS: one SEG series per source series, one instance each, its UID
    // the one derived from the series and the model version.
    const segs = await segsOf();
    expect(segs).toHaveLength(sourceSeries.length);
    expect(segs.map((s) => s.MainDicomTags.SeriesInstanceUID).sort()).toEqual(sourceSeries.map((s) => segUidsFor(s, v1).seriesInstanceUid).sort());
    for (const s of segs) expect(s.Instances).toHaveLength(1);

    const summary = (await request(bridgeUrl).get('/jobs?limit=500').expect(200)).body as { jobs: PacsJobView[]; queue: SeriesQueueSummary };
    expect(summary.queue).toMatchObject({ mode: 'redis', counts: { failed: 0, active: 0 }, queue: { name: queue.queueName } });
    const metrics = (await request(bridgeUrl).get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/lvseg_series_jobs\{state="completed",mode="redis"\} \d+/);
    expect(metrics).toContain('lvseg_series_jobs{state="failed",mode="redis"} 0');

    const done = survivor.lines().filter((l) => l.event === 'queue.job_finished' && l.outcome === 'segmented');
    const cpu = done.map((l) => Number(l.cpuMs));
    // eslint-disable-next-line no-console
    console.log(
      `queue e2e: ${sourceSeries.length} series, 2 workers (one SIGKILLed mid-series, job ${killed.jobId.slice(0, 12)}… retried after ${killedJob.queue!.stalls} stall(s)), ` +
        `${Math.round(wallMs / 1000)} s wall from storescu to the last job; surviving worker CPU per segmented series ${cpu.map((c) => Math.round(c)).join(', ')} ms; ` +
        `load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`,
    );
  }, 3 * PHASE_MS);

  it('lvseg backfill with a second model version (--since, --dry-run; stopped with Ctrl-C and resumed) writes one new SEG per series; run again it queues nothing', async () => {
    // A second version: the shipped model copied under a new version id (no training).
    const { card, files } = await store.load(v1);
    const { version: _v, createdAt: _c, files: _f, ...body } = card;
    const v2 = (await store.publish({ ...body, notes: 'copy of the shipped model (queue e2e test)', files })).version;
    expect(v2).not.toBe(v1);
    if (workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null).length < 2) await startWorker();

    const dry = await runLvseg(['backfill', '--model', v2, '--dry-run'], workerEnv);
    expect(dry.stderr).not.toMatch(/Error/);
    expect(dry.stdout).toContain(`${sourceSeries.length} series found, would queue ${sourceSeries.length}, 0 already queued for ${v2}`);
    // --since filters on the study date in the QIDO-RS query (the Sunnybrook studies are dated 2012: StudyDate 20120000).
    const since = async (date: string) => (await runLvseg(['backfill', '--model', v2, '--since', date, '--dry-run'], workerEnv)).stdout;
    expect(await since('2011-06-01')).toContain(`${sourceSeries.length} series found, would queue ${sourceSeries.length}, 0 already queued for ${v2}`);
    expect(await since('2013-01-01')).toContain(`0 series found, would queue 0, 0 already queued for ${v2}`);

    const started = performance.now();
    // Stop: Ctrl-C (SIGINT) once the series are queued, while it follows them; the queued jobs run on regardless.
    const first = startLvseg(['backfill', '--model', v2, '--modality', 'MR', '--wait'], workerEnv);
    const queuedLine = `${sourceSeries.length} series found, queued ${sourceSeries.length}, 0 already queued for ${v2}`;
    for (let i = 0; !first.stdout().includes(queuedLine) && first.child.exitCode === null; i++) {
      if (i > PHASE_MS / 100) throw new Error(`the first backfill did not queue the series: ${first.stderr().slice(-2000)}`);
      await sleep(100);
    }
    expect(first.stdout()).toContain(queuedLine);
    // Progress on stderr: the search's pages, then the jobs.
    expect(first.stderr()).toContain(`backfill: ${sourceSeries.length} series found, ${sourceSeries.length} queued, 0 already queued`);
    const stoppedWhileFollowing = first.child.exitCode === null;
    if (stoppedWhileFollowing) first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    // Stopped while jobs were open, it says they run on and how to follow them again (or they had all finished).
    if (stoppedWhileFollowing) expect(first.stdout()).toMatch(/stopped following the jobs \(they run on\)|finished \(\d+ segmented, \d+ skipped, 0 failed\), 0 open/);

    // Resume: the same command queues nothing new (the jobs exist) and follows them to the end.
    const run = await runLvseg(['backfill', '--model', v2, '--modality', 'MR', '--wait'], workerEnv);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${sourceSeries.length} series found, queued 0, ${sourceSeries.length} already queued for ${v2}`);
    expect(run.stderr).toMatch(new RegExp(`backfill: \\d+/${sourceSeries.length} finished`));
    // Every job finished, none failed; each segmented its series, or (run twice after a lost lock) found its SEG stored.
    expect(run.stdout).toMatch(new RegExp(`backfill: ${sourceSeries.length}/${sourceSeries.length} finished \\(\\d+ segmented, \\d+ skipped, 0 failed\\), 0 open`));
    const v2Jobs = await Promise.all(sourceSeries.map((s) => getJob(`${s}@${v2}`)));
    for (const j of v2Jobs) {
      expect([j.id, j.state, j.queue?.modelVersion]).toEqual([j.id, expect.stringMatching(/^(done|skipped)$/), v2]);
      // A second run of a job only comes from its lock lapsing (BullMQ counts that as a stall).
      if (j.state === 'skipped') expect([j.id, j.result?.reason?.code, j.queue!.stalls > 0]).toEqual([j.id, expect.stringMatching(/^(SEG_ALREADY_IN_PACS|ALREADY_SEGMENTED)$/), true]);
    }
    const wallMs = performance.now() - started;

    const segs = await segsOf();
    expect(segs).toHaveLength(2 * sourceSeries.length);
    const uids = new Set(segs.map((s) => s.MainDicomTags.SeriesInstanceUID));
    for (const s of sourceSeries) {
      expect(uids.has(segUidsFor(s, v1).seriesInstanceUid)).toBe(true);
      expect(uids.has(segUidsFor(s, v2).seriesInstanceUid)).toBe(true);
    }
    for (const s of segs) expect(s.Instances).toHaveLength(1);

    // Run again after the end: still nothing new (finished jobs are kept).
    const again = await runLvseg(['backfill', '--model', v2], workerEnv);
    expect(again.stdout).toContain(`${sourceSeries.length} series found, queued 0, ${sourceSeries.length} already queued for ${v2}`);
    expect(await segsOf()).toHaveLength(2 * sourceSeries.length);
    // eslint-disable-next-line no-console
    console.log(`backfill e2e: ${sourceSeries.length} series with ${v2} in ${Math.round(wallMs / 1000)} s wall (model load included; first run ${stoppedWhileFollowing ? 'stopped with SIGINT while following its jobs' : 'ended before the SIGINT'}); load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`);
  }, 3 * PHASE_MS);

  // Last: it stops Redis (and starts it again on its port).
  it('GET /health/ready: the bridge is not ready while Redis is down, with the reason, and ready again once it is back', async () => {
    const readyStatus = async () => {
      const r = await request(bridgeUrl).get('/health/ready');
      return { status: r.status, body: r.body as { error?: { code: string; message: string }; checks?: Record<string, { status: string; code?: string; message?: string }> }, text: r.text };
    };
    const port = redis.port;
    await redis.stop();
    // The PACS still answers: Redis is the one reason (the verdicts are cached a few seconds: wait for the new one).
    const down = await until('not ready after Redis stopped', async () => {
      const r = await readyStatus();
      return r.status === 503 && r.body.checks?.redis?.status === 'failing' ? r : undefined;
    }, 60_000);
    expect(down.body.error!.code).toBe('QUEUE_UNAVAILABLE');
    expect(down.body.error!.message).toMatch(/^redis not ready: /);
    expect(down.body.checks!.pacs.status).toBe('ok');
    expect(down.body.checks!.model.status).toBe('ok');
    expect(down.text).not.toContain(redis.url);

    redis = await startRedis({ port });
    // BullMQ reconnects (1 s, then longer waits); the check then passes again.
    const up = await until('ready after Redis came back', async () => {
      const r = await readyStatus();
      return r.status === 200 ? r : undefined;
    }, 120_000);
    expect(up.body).toMatchObject({ status: 'ready', redis: { status: 'ok' }, pacs: { status: 'ok' } });
  }, PHASE_MS);
});
