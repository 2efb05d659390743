/**
 * PACS integration end to end: a real Orthanc started from deploy/orthanc (its Lua webhook script included), the real
 * inference app with the PACS module (createInferenceApp), the 5 real Sunnybrook patients sent with dcmtk's storescu
 * as a scanner would. Expected masks and Dice are computed independently with the same model through the libraries
 * (`segmentLv`, `dice`, and `evaluateCases`, the report `lvseg eval` prints), never copied from a run.
 *
 * Order matters (one Orthanc, one state folder): live patients via webhooks → refused webhooks → a non-MR series →
 * a burst while lvseg is stopped, processed from the change feed after it starts again → every SEG and LV function SR
 * checked → a single-phase series (a SEG, no SR, the reason in the job).
 * Waits are generous (PACS_E2E_PHASE_MINUTES, default 12): on a machine shared with training runs this test gets
 * little CPU; the time per image is printed both as wall time and as this process's CPU time.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { repoRoot } from '@lvseg/common';
import { PacsConfig, loadConfig } from '@lvseg/config';
import { COMPREHENSIVE_SR_STORAGE, LV_BLOOD_POOL_SEGMENT, ReadLvFunctionSr, ReadSegmentation, SEGMENTATION_STORAGE, naturalizeDicom, readDicomSeg, readLvFunctionSr } from '@lvseg/dicom';
import { BinaryMask, decodeDicom, decodeDicomImage, parseContour, rasterizeContour } from '@lvseg/imaging';
import { computeLvFunction, framesFromDicom } from '@lvseg/lv-function';
import { DEFAULT_MASK_OPTIONS, EvaluationItem, MaskOptions, dice, disposeLvModel, evaluateCases, initBackend, loadLvModelByRef, segmentLv } from '@lvseg/model';
import { ModelCard, ModelStore, openModelStore } from '@lvseg/model-store';
import type { PacsJobView } from '../services/inference/src/pacs/jobs/pacs-job';
import { signWebhook } from '../services/inference/src/pacs/webhook/webhook-signature';
import { publishSeededModel } from './support/models';
import { RunningPacsApp, startPacsApp } from './support/pacs/lvseg-app';
import { RunningOrthanc, freePort, pacsToolsMissingReason, startOrthanc } from './support/pacs/orthanc';
import { storescu } from './support/pacs/storescu';
import { SUNNYBROOK_DICOM_DIR, SunnybrookDicomCase, readContour, sunnybrookCases, sunnybrookMissingReason } from './support/sunnybrook';

const reason = pacsToolsMissingReason() ?? sunnybrookMissingReason();
if (reason) {
  // eslint-disable-next-line no-console
  console.warn(`skipping the PACS end-to-end test: ${reason}`);
}
const describeIfTools = reason ? describe.skip : describe;
// dicom3tools (scripts/test.sh installs it): without it the dciodvfy checks are skipped with the reason, and fail under CI.
const dciodvfyMissing = spawnSync('dciodvfy', [], { stdio: 'ignore' }).error ? 'dciodvfy (dicom3tools) is not installed (apt-get install dicom3tools)' : undefined;
if (dciodvfyMissing && !reason) {
  if (process.env.CI === 'true') throw new Error(`the PACS end-to-end test needs dciodvfy under CI: ${dciodvfyMissing}`);
  // eslint-disable-next-line no-console
  console.warn(`skipping the dciodvfy checks of the PACS end-to-end test: ${dciodvfyMissing}`);
}
const itWithDciodvfy = dciodvfyMissing ? it.skip : it;
// GDCM's gdcmconv makes the JPEG 2000 series (scripts/test.sh installs libgdcm-tools).
const gdcmconvMissing = spawnSync('gdcmconv', ['--version'], { stdio: 'ignore' }).error ? 'gdcmconv (libgdcm-tools) is not installed (apt-get install libgdcm-tools)' : undefined;
if (gdcmconvMissing && !reason) {
  if (process.env.CI === 'true') throw new Error(`the PACS end-to-end test needs gdcmconv under CI: ${gdcmconvMissing}`);
  // eslint-disable-next-line no-console
  console.warn(`skipping the JPEG 2000 series of the PACS end-to-end test: ${gdcmconvMissing}`);
}
const itWithGdcm = gdcmconvMissing || dciodvfyMissing ? it.skip : it;
const newUid = () => `2.25.${BigInt(`0x${randomBytes(15).toString('hex')}`)}`;

const LIVE = ['SCD0000101', 'SCD0000201', 'SCD0000301'];
const BURST = ['SCD0000401', 'SCD0000501'];
const STABLE_AGE_SECONDS = 2;
const PHASE_MS = Number(process.env.PACS_E2E_PHASE_MINUTES ?? 12) * 60_000;
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const countLv = (m: BinaryMask): number => m.data.reduce((n, v) => n + v, 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

interface OrthancSeries {
  ID: string;
  ParentStudy: string;
  Instances: string[];
  MainDicomTags: Record<string, string>;
}

describeIfTools('PACS integration end to end (real Orthanc + Lua webhook, storescu, 5 Sunnybrook patients, DICOM SEG back)', () => {
  const secret = randomBytes(24).toString('hex');
  let orthanc: RunningOrthanc;
  let app: RunningPacsApp;
  let pacs: PacsConfig;
  let port: number;
  let store: ModelStore;
  let version: string;
  let maskOptions: MaskOptions;
  const dirs: string[] = [];
  const cases = () => sunnybrookCases();
  const filesOf = (patients: string[]) => cases().filter((c) => patients.includes(c.case)).map((c) => join(SUNNYBROOK_DICOM_DIR, c.image));
  /** SOP Instance UID → manifest row, read from the files themselves. */
  const bySop = new Map<string, SunnybrookDicomCase>();
  /** Every finished (done, skipped or failed) job seen in the app logs (both runs). */
  const finishedJobs: PacsJobView[] = [];

  const allSeries = () => orthanc.rest<OrthancSeries[]>('/series?expand');
  const segSeries = async () => (await allSeries()).filter((s) => s.MainDicomTags.Modality === 'SEG');
  const srSeries = async () => (await allSeries()).filter((s) => s.MainDicomTags.Modality === 'SR');
  /** The Sunnybrook values the derived objects copy verbatim (UIDs with leading zeros, birth date 00000000), for dciodvfy. */
  const copiedSourceValues = (): Set<string> => {
    const copied = new Set<string>();
    for (const [sop, c] of bySop) {
      const ds = naturalizeDicom(readFileSync(join(SUNNYBROOK_DICOM_DIR, c.image)));
      for (const v of [sop, ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID, ds.PatientBirthDate]) copied.add(String(v));
    }
    return copied;
  };
  /** dciodvfy's error lines that are not about a value copied from the sources. */
  const ownErrors = (dciodvfyOutput: string): string[] => {
    const copied = copiedSourceValues();
    return dciodvfyOutput
      .split('\n')
      .filter((l) => l.startsWith('Error'))
      .filter((l) => !/Dicom dataset contains invalid data values/.test(l))
      .filter((l) => {
        const value = /= <([^>]*)>/.exec(l)?.[1];
        return value === undefined || !copied.has(value);
      });
  };
  const startApp = () => startPacsApp({ store, port, pacs });
  async function collectJobs(): Promise<void> {
    const ids = app.logLines().filter((l) => l.event === 'pacs.job_finished' || l.event === 'pacs.job_failed').map((l) => String(l.jobId));
    for (const id of ids) {
      if (finishedJobs.some((j) => j.id === id)) continue;
      finishedJobs.push((await request(app.url).get(`/jobs/${id}`).expect(200)).body as PacsJobView);
    }
  }

  beforeAll(async () => {
    await initBackend();
    for (const c of cases()) bySop.set(String(naturalizeDicom(readFileSync(join(SUNNYBROOK_DICOM_DIR, c.image))).SOPInstanceUID), c);

    // The shipped production model when the repo has one (or PACS_E2E_MODEL_DIR + PACS_E2E_MODEL: a store folder and
    // a version in it, e.g. a model just trained into var/models); else a freshly built, seeded (untrained) model.
    const storeDir = mkdtempSync(join(tmpdir(), 'lvseg-pacs-models-'));
    dirs.push(storeDir);
    const seed = process.env.PACS_E2E_MODEL_DIR ?? join(repoRoot(), 'models');
    store = openModelStore(`file://${storeDir}`, existsSync(seed) ? { seedFrom: seed } : {});
    if (process.env.PACS_E2E_MODEL) await store.setAlias('production', process.env.PACS_E2E_MODEL);
    try {
      version = await store.resolve('production');
    } catch {
      const card = await publishSeededModel(store, { seed: 3, decisive: true });
      await store.setAlias('production', card.version);
      version = card.version;
    }
    const card: ModelCard = (await store.load(version)).card;
    maskOptions = (card.preprocessing as { postprocess?: MaskOptions } | undefined)?.postprocess ?? DEFAULT_MASK_OPTIONS;

    port = await freePort();
    orthanc = await startOrthanc({ webhookUrl: `http://127.0.0.1:${port}/webhooks/pacs`, webhookSecret: secret, stableAgeSeconds: STABLE_AGE_SECONDS });
    const stateDir = mkdtempSync(join(tmpdir(), 'lvseg-pacs-state-'));
    dirs.push(stateDir);
    pacs = loadConfig({
      PACS_URL: orthanc.url,
      PACS_USERNAME: orthanc.username,
      PACS_PASSWORD: orthanc.password,
      PACS_WEBHOOK_SECRET: secret,
      PACS_CONCURRENCY: '2',
      PACS_POLL_SECONDS: '0.5',
      LVSEG_PACS_STATE_DIR: stateDir,
    }).pacs!;
    app = await startApp();
    await until('the model to load', async () => ((await request(app.url).get('/health/ready')).status === 200 ? true : undefined), PHASE_MS);
    const ready = (await request(app.url).get('/health/ready').expect(200)).body as { pacs?: { status: string } };
    expect(ready.pacs?.status).toBe('ok');
  }, PHASE_MS);

  afterAll(async () => {
    await app?.close();
    await orthanc?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('a study sent with storescu while lvseg runs gets one SEG per series, triggered by the signed webhook', async () => {
    const files = filesOf(LIVE);
    const started = performance.now();
    const cpuStarted = cpuMs();
    const storescuMs = await storescu(orthanc, files);
    const segs = await until('3 SEG series', async () => ((await segSeries()).length >= LIVE.length ? segSeries() : undefined), PHASE_MS);
    const totalMs = performance.now() - started;
    const cpu = cpuMs() - cpuStarted;
    // eslint-disable-next-line no-console
    console.log(
      `storescu → SEG stored (webhook path): ${files.length} images in ${LIVE.length} series, ${Math.round(totalMs)} ms wall = ${Math.round(totalMs / files.length)} ms per image ` +
        `(storescu ${Math.round(storescuMs)} ms; includes Orthanc StableAge ${STABLE_AGE_SECONDS} s); lvseg CPU ${Math.round(cpu / files.length)} ms per image; ` +
        `load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores; model ${version}`,
    );
    expect(segs).toHaveLength(LIVE.length);
    await until('3 finished jobs', async () => (app.logLines().filter((l) => l.event === 'pacs.job_finished' && l.state === 'done').length >= 3 ? true : undefined), 60_000);
    await collectJobs();
    const done = finishedJobs.filter((j) => j.state === 'done');
    expect(done).toHaveLength(3);
    for (const job of done) {
      expect(job.triggers.some((t) => t.source === 'webhook' && typeof t.eventId === 'string')).toBe(true);
      expect(job.result?.modelVersion).toBe(version);
      const patient = bySop.get(job.result!.images![0].sopInstanceUid)!.case;
      expect(job.result!.images!.map((i) => i.sopInstanceUid).sort()).toEqual([...bySop].filter(([, c]) => c.case === patient).map(([sop]) => sop).sort());
      for (const image of job.result!.images!) {
        const { meta } = decodeDicom(readFileSync(join(SUNNYBROOK_DICOM_DIR, bySop.get(image.sopInstanceUid)!.image)));
        expect(image.lvArea.mm2).toBeCloseTo(image.lvArea.pixels * meta.pixelSpacingMm![0] * meta.pixelSpacingMm![1], 6);
      }
    }
  }, PHASE_MS + 120_000);

  it('refuses unsigned, wrongly signed, stale, replayed and malformed webhooks; a valid one gets 202 and a job', async () => {
    const c = cases().find((x) => x.case === LIVE[0])!;
    const ds = naturalizeDicom(readFileSync(join(SUNNYBROOK_DICOM_DIR, c.image)));
    const body = JSON.stringify({
      id: `test-${randomBytes(6).toString('hex')}`,
      kind: 'instance.stored',
      resource: { type: 'instance', studyInstanceUid: ds.StudyInstanceUID, seriesInstanceUid: ds.SeriesInstanceUID, sopInstanceUid: ds.SOPInstanceUID, modality: 'MR' },
    });
    const now = Math.floor(Date.now() / 1000);
    const post = (b: string, headers: Record<string, string>) => request(app.url).post('/webhooks/pacs').set({ 'Content-Type': 'application/json', ...headers }).send(b);
    const signed = (b: string, ts = now, key = secret) => ({ 'X-Lvseg-Timestamp': String(ts), 'X-Lvseg-Signature': signWebhook(key, ts, b) });

    expect((await post(body, {}).expect(401)).body.error.code).toBe('WEBHOOK_UNSIGNED');
    expect((await post(body, signed(body, now, 'not-the-secret-at-all')).expect(401)).body.error.code).toBe('WEBHOOK_BAD_SIGNATURE');
    expect((await post(body.replace('"MR"', '"CT"'), signed(body)).expect(401)).body.error.code).toBe('WEBHOOK_BAD_SIGNATURE');
    expect((await post(body, signed(body, now - 301)).expect(401)).body.error.code).toBe('WEBHOOK_STALE');
    expect((await post('{"id":', signed('{"id":')).expect(400)).body.error.code).toBe('WEBHOOK_EVENT_INVALID');

    const accepted = await post(body, signed(body)).expect(202);
    // (joined is true only if a late webhook of the same series still has a job open)
    expect(accepted.body).toMatchObject({ jobId: expect.any(String), joined: expect.any(Boolean) });
    expect(accepted.headers.location).toBe(`/jobs/${accepted.body.jobId}`);
    // The same event again (within its 5 minutes, correctly signed) is a replay.
    expect((await post(body, signed(body)).expect(409)).body.error.code).toBe('WEBHOOK_REPLAYED');
    expect((await post(body, signed(body, now + 1)).expect(409)).body.error.code).toBe('WEBHOOK_REPLAYED');

    // The series already has its SEG: the job ends skipped, and nothing new is written.
    const job = await until('the job to finish', async () => {
      const j = (await request(app.url).get(`/jobs/${accepted.body.jobId}`).expect(200)).body as PacsJobView;
      return ['done', 'skipped', 'failed'].includes(j.state) ? j : undefined;
    }, 120_000);
    expect(job.state).toBe('skipped');
    expect(job.result?.reason?.code).toBe('ALREADY_SEGMENTED');
    expect((await segSeries()).length).toBe(LIVE.length);
    expect((await request(app.url).get('/jobs/00000000-0000-0000-0000-000000000000').expect(404)).body.error.code).toBe('JOB_NOT_FOUND');

    const metrics = (await request(app.url).get('/metrics').expect(200)).text;
    for (const [outcome, n] of [['unsigned', 1], ['bad_signature', 2], ['stale', 1], ['invalid', 1], ['replayed', 2]] as const) {
      expect(metrics).toContain(`lvseg_pacs_webhooks_total{outcome="${outcome}"} ${n}`);
    }
    // Nothing about the refused requests (or any DICOM value but a SOP Instance UID) in the log.
    expect(app.logText()).not.toContain(secret);
    expect(app.logText()).not.toContain('SCD0000');
  }, 180_000);

  it('a series that is not MR gets no event, no job and no SEG; a webhook naming it anyway ends skipped with the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-pacs-ot-'));
    dirs.push(dir);
    const src = join(SUNNYBROOK_DICOM_DIR, cases().find((x) => x.case === LIVE[1])!.image);
    const file = join(dir, 'ot.dcm');
    execFileSync('cp', [src, file]);
    const seriesUid = newUid();
    // The same image filed as an "OT" series of the same study (secondary capture style), via dcmtk.
    execFileSync('dcmodify', ['-nb', '-m', '(0008,0060)=OT', '-m', `(0020,000e)=${seriesUid}`, '-m', `(0008,0018)=${seriesUid}.1`, file]);
    /** Webhooks accepted or joined so far (GET /metrics). */
    const webhooksTaken = async () => {
      const text = (await request(app.url).get('/metrics').expect(200)).text;
      return [...text.matchAll(/^lvseg_pacs_webhooks_total\{outcome="(?:accepted|joined)"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const webhooksBefore = await webhooksTaken();
    await storescu(orthanc, [file]);
    const [otSeries] = await orthanc.rest<Array<{ ID: string }>>('/tools/lookup', { method: 'POST', body: seriesUid });
    await until('the OT series to be stable', async () => ((await orthanc.rest<{ IsStable: boolean }>(`/series/${otSeries.ID}`)).IsStable ? true : undefined), 60_000);
    await sleep(1500 + 3 * pacs.pollSeconds * 1000); // the Lua event and change-feed ticks past its StableSeries
    // Orthanc's script posts for MR series only, and the change feed skips other modalities: nothing to do.
    expect(await webhooksTaken()).toBe(webhooksBefore);
    expect((await request(app.url).get('/jobs').query({ series: seriesUid }).expect(200)).body).toEqual({ jobs: [] });

    // A sender that does not filter (a signed webhook naming the series): the job is skipped, with the reason.
    const study = (await orthanc.rest<{ MainDicomTags: Record<string, string> }>(`/series/${otSeries.ID}/study`)).MainDicomTags.StudyInstanceUID;
    const body = JSON.stringify({ id: `test-ot-${randomBytes(6).toString('hex')}`, kind: 'series.stable', resource: { studyInstanceUid: study, seriesInstanceUid: seriesUid } });
    const ts = Math.floor(Date.now() / 1000);
    await request(app.url).post('/webhooks/pacs').set({ 'Content-Type': 'application/json', 'X-Lvseg-Timestamp': String(ts), 'X-Lvseg-Signature': signWebhook(secret, ts, body) }).send(body).expect(202);
    await until('the OT job', async () => {
      await collectJobs();
      return finishedJobs.find((j) => j.series.seriesInstanceUid === seriesUid);
    }, 120_000);
    const job = finishedJobs.find((j) => j.series.seriesInstanceUid === seriesUid)!;
    expect(job.state).toBe('skipped');
    expect(job.result?.reason).toEqual({ code: 'NOT_MR', message: 'the series modality is OT, not MR: lvseg segments cardiac MR only' });
    await sleep(1500); // a change-feed tick or more
    const segs = await segSeries();
    for (const seg of segs) {
      const referenced = readDicomSeg(await orthanc.restBytes(`/instances/${seg.Instances[0]}/file`)).referencedSeries.map((r) => r.seriesInstanceUid);
      expect(referenced).not.toContain(seriesUid);
    }
    expect(segs).toHaveLength(LIVE.length);
  }, 180_000);

  it('a burst stored while lvseg is stopped is processed from the change feed after it starts: one SEG per series, none twice', async () => {
    await app.close();
    const files = filesOf(BURST);
    await storescu(orthanc, files);
    // The webhooks had nowhere to go.
    await until('failed webhook posts in the Orthanc log', () => (orthanc.logText().includes('lvseg webhook: POST failed') ? true : undefined), 120_000);
    expect((await segSeries()).length).toBe(LIVE.length);

    const restarted = performance.now();
    app = await startApp();
    const cpuStarted = cpuMs();
    const segs = await until('5 SEG series', async () => ((await segSeries()).length >= LIVE.length + BURST.length ? segSeries() : undefined), PHASE_MS);
    // eslint-disable-next-line no-console
    console.log(
      `after restart: ${files.length} images of ${BURST.length} series stored while lvseg was down; all their SEGs stored ${Math.round(performance.now() - restarted)} ms after the start ` +
        `(lvseg CPU ${Math.round((cpuMs() - cpuStarted) / files.length)} ms per image)`,
    );
    expect(segs).toHaveLength(5);

    // More ticks of the change feed (StableSeries changes arrive too) and late webhooks change nothing.
    await sleep(STABLE_AGE_SECONDS * 1000 + 3 * pacs.pollSeconds * 1000 + 1000);
    const after = await segSeries();
    expect(after).toHaveLength(5);
    for (const s of after) expect(s.Instances).toHaveLength(1);
    await collectJobs();
    const burstJobs = finishedJobs.filter((j) => j.state === 'done' && BURST.includes(bySop.get(j.result!.images![0].sopInstanceUid)!.case));
    expect(burstJobs).toHaveLength(2);
    for (const j of burstJobs) expect(j.triggers.map((t) => t.source)).toContain('change-feed');
    const state = JSON.parse(readFileSync(join(pacs.stateDir, 'state.json'), 'utf8')) as { pending: unknown[]; cursor: number };
    expect(state.pending).toEqual([]);
    expect(readFileSync(join(pacs.stateDir, 'processed.log'), 'utf8').trim().split('\n')).toHaveLength(5);
  }, PHASE_MS + 120_000);

  it('job records survive the restart: first-run jobs are found by id and by study and series (GET /jobs?study=&series=)', async () => {
    const firstRun = finishedJobs.filter((j) => j.state === 'done' && LIVE.includes(bySop.get(j.result!.images![0].sopInstanceUid)?.case ?? ''));
    expect(firstRun).toHaveLength(LIVE.length);
    for (const job of firstRun) {
      // The app was restarted since: these come from the state folder.
      expect((await request(app.url).get(`/jobs/${job.id}`).expect(200)).body).toEqual(job);
      const { studyInstanceUid, seriesInstanceUid } = job.series;
      const found = (await request(app.url).get('/jobs').query({ study: studyInstanceUid, series: seriesInstanceUid }).expect(200)).body as { jobs: PacsJobView[] };
      expect(found.jobs.map((j) => j.id)).toContain(job.id);
      expect(found.jobs.every((j) => j.series.seriesInstanceUid === seriesInstanceUid)).toBe(true);
      const ofStudy = (await request(app.url).get('/jobs').query({ study: studyInstanceUid }).expect(200)).body as { jobs: PacsJobView[] };
      expect(ofStudy.jobs.map((j) => j.id)).toContain(job.id);
    }
    // The replayed webhook's job (LIVE[0], skipped) sits beside the first one of its series, newest first.
    const live0 = firstRun.find((j) => bySop.get(j.result!.images![0].sopInstanceUid)!.case === LIVE[0])!;
    const ofSeries = ((await request(app.url).get('/jobs').query({ series: live0.series.seriesInstanceUid }).expect(200)).body as { jobs: PacsJobView[] }).jobs;
    expect(ofSeries.map((j) => j.state)).toEqual(['skipped', 'done']);
    expect(readdirSync(join(pacs.stateDir, 'jobs')).filter((f) => f.endsWith('.json')).length).toBeGreaterThanOrEqual(firstRun.length + 3);
    expect((await request(app.url).get('/jobs').query({ study: 'SCD0000101' }).expect(400)).body.error).toEqual({ code: 'INVALID_JOB_QUERY', message: 'study must be a DICOM UID (digits and dots, at most 64 characters)' });
    // The request log names the query's parameters, not their values: no study or series UID, nothing a caller typed.
    expect(app.logLines().some((l) => l.event === 'request' && l.url === '/jobs?study=…&series=…')).toBe(true);
    for (const job of firstRun) expect(app.logText()).not.toContain(job.series.studyInstanceUid);
    expect(app.logText()).not.toContain('SCD0000');
  }, 60_000);

  it('every SEG sits in its study beside its MR series, references each source image, and its masks give the Dice of segmentLv and lvseg eval', async () => {
    const series = await allSeries();
    const studies = new Set(series.map((s) => s.ParentStudy));
    const { model } = await loadLvModelByRef(store, version);
    const fromSeg: EvaluationItem[] = [];
    const fromLibrary: EvaluationItem[] = [];
    const summary: string[] = [];
    const efSummary: string[] = [];
    try {
      for (const patient of [...LIVE, ...BURST]) {
        const rows = cases().filter((c) => c.case === patient);
        const sources = rows.map((c) => naturalizeDicom(readFileSync(join(SUNNYBROOK_DICOM_DIR, c.image))));
        const mr = series.find((s) => s.MainDicomTags.SeriesInstanceUID === sources[0].SeriesInstanceUID)!;
        // The study in Orthanc's REST API: the MR series and lvseg's SEG series beside it.
        const inStudy = await orthanc.rest<OrthancSeries[]>(`/studies/${mr.ParentStudy}/series`);
        const modalities = inStudy.map((s) => s.MainDicomTags.Modality).sort();
        expect(modalities.filter((m) => m !== 'OT')).toEqual(['MR', 'SEG', 'SR']);
        const segInfo = inStudy.find((s) => s.MainDicomTags.Modality === 'SEG')!;
        const seg: ReadSegmentation = readDicomSeg(await orthanc.restBytes(`/instances/${segInfo.Instances[0]}/file`));

        expect(seg.sopClassUid).toBe(SEGMENTATION_STORAGE);
        expect(seg.studyInstanceUid).toBe(sources[0].StudyInstanceUID);
        expect(seg.segmentationType).toBe('BINARY');
        expect(seg.segments).toHaveLength(1);
        expect(seg.segments[0]).toMatchObject({ number: 1, label: 'Left ventricle blood pool', category: LV_BLOOD_POOL_SEGMENT.category, type: LV_BLOOD_POOL_SEGMENT.type });
        expect(seg.frames).toHaveLength(rows.length);
        expect(seg.frames.map((f) => f.referencedSopInstanceUid).sort()).toEqual(sources.map((s) => String(s.SOPInstanceUID)).sort());
        // Each Sunnybrook image carries its own Frame of Reference UID and a SEG has one: it states none (and no plane
        // positions); the slices are a stack dimension, the phases a temporal one.
        expect(new Set(sources.map((x) => x.FrameOfReferenceUID)).size).toBe(sources.length);
        expect(seg.frameOfReferenceUid).toBeUndefined();
        const segDataset = naturalizeDicom(await orthanc.restBytes(`/instances/${segInfo.Instances[0]}/file`));
        const labels = (segDataset.DimensionIndexSequence as Array<Record<string, unknown>>).map((d) => d.DimensionDescriptionLabel);
        expect(labels).toEqual(['ReferencedSegmentNumber', 'InStackPositionNumber', 'TemporalPositionIndex (cardiac phase)']);
        const indexOf = new Map<string, number[]>();
        (segDataset.PerFrameFunctionalGroupsSequence as Array<Record<string, Array<Record<string, unknown>>>>).forEach((f, k) => {
          indexOf.set(seg.frames[k].referencedSopInstanceUid!, f.FrameContentSequence[0].DimensionIndexValues as number[]);
        });
        // Every frame has its own index triple; at each slice the earlier trigger time (ED) is phase 1, the later (ES) phase 2.
        expect(new Set([...indexOf.values()].map((v) => v.join(' '))).size).toBe(sources.length);
        const bySlice = new Map<number, Array<{ triggerTime: number; phase: number }>>();
        for (const src of sources) {
          const [, slice, phase] = indexOf.get(String(src.SOPInstanceUID))!;
          bySlice.set(slice, [...(bySlice.get(slice) ?? []), { triggerTime: Number(src.TriggerTime), phase }]);
        }
        for (const frames of bySlice.values()) {
          expect(frames).toHaveLength(2);
          const [ed, es] = [...frames].sort((a, b) => a.triggerTime - b.triggerTime);
          expect([ed.phase, es.phase]).toEqual([1, 2]);
        }

        const decoded = rows.map((c) => decodeDicom(readFileSync(join(SUNNYBROOK_DICOM_DIR, c.image))));
        const images = decoded.map((d) => d.image);
        // The PACS path segments a series' images together (a cascade places its ROIs with the series' consensus).
        const expected = await segmentLv(model, images, maskOptions, { series: true });
        const dices: number[] = [];
        rows.forEach((row, k) => {
          const frame = seg.frames.find((f) => f.referencedSopInstanceUid === String(sources[k].SOPInstanceUID))!;
          expect(Buffer.from(frame.mask.data).equals(Buffer.from(expected[k].mask.data))).toBe(true);
          const truth = rasterizeContour(parseContour(readContour(row)), images[k].rows, images[k].columns);
          const d = dice(frame.mask, truth);
          expect(d).toBe(dice(expected[k].mask, truth));
          dices.push(d);
          const id = `${row.case}/${row.instanceNumber}`;
          fromSeg.push({ id, case: row.case, pred: frame.mask, truth, pixelSpacingMm: images[k].pixelSpacingMm });
          fromLibrary.push({ id, case: row.case, pred: expected[k].mask, truth, pixelSpacingMm: images[k].pixelSpacingMm });
        });
        // The LV areas the job reported are those of the SEG's masks.
        const job = finishedJobs.find((j) => j.state === 'done' && j.series.seriesInstanceUid === sources[0].SeriesInstanceUID)!;
        for (const image of job.result!.images!) {
          expect(image.lvArea.pixels).toBe(countLv(seg.frames.find((f) => f.referencedSopInstanceUid === image.sopInstanceUid)!.mask));
        }

        // One LV function SR beside it, whose numbers are the job's, and the EF libs/lv-function gives from the SEG's
        // masks placed by the images' own DICOM geometry (computed here, not by the service).
        const srInfo = inStudy.filter((s) => s.MainDicomTags.Modality === 'SR');
        expect(srInfo).toHaveLength(1);
        expect(srInfo[0].Instances).toHaveLength(1);
        const sr: ReadLvFunctionSr = readLvFunctionSr(await orthanc.restBytes(`/instances/${srInfo[0].Instances[0]}/file`));
        const fn = job.result!.function!;
        if (!fn.computed) throw new Error(`${patient}: no LV function (${fn.reason.code}: ${fn.reason.message})`);
        expect(sr).toMatchObject({ sopClassUid: COMPREHENSIVE_SR_STORAGE, sopInstanceUid: fn.sr.sopInstanceUid, seriesInstanceUid: fn.sr.seriesInstanceUid, studyInstanceUid: sources[0].StudyInstanceUID, templateId: '1500' });
        expect(sr.lvFunction).toMatchObject({ efPercent: fn.efPercent, edvMl: fn.edvMl, esvMl: fn.esvMl, svMl: fn.svMl, segSopInstanceUid: job.result!.seg!.sopInstanceUid });
        expect(fn.edvMl).not.toBeNull();
        const placed = framesFromDicom(
          rows.map((_, k) => {
            const frame = seg.frames.find((f) => f.referencedSopInstanceUid === String(sources[k].SOPInstanceUID))!;
            const [sr0, sc0] = decoded[k].meta.pixelSpacingMm!;
            return { id: String(sources[k].SOPInstanceUID), areaPx: countLv(frame.mask), areaMm2: countLv(frame.mask) * sr0 * sc0, ...decoded[k].meta };
          }),
        );
        const expectedFn = computeLvFunction(placed.frames, placed);
        expect(fn.efPercent).toBe(Math.round(expectedFn.ef * 10000) / 100);
        expect(fn.edvMl).toBe(Math.round((expectedFn.edvMl as number) * 100) / 100);
        expect(fn.esvMl).toBe(Math.round((expectedFn.esvMl as number) * 100) / 100);
        // Per image: its area (mm², to 0.01), its source image, and the SEG frame that holds its mask.
        expect(sr.images.map((g) => g.sourceSopInstanceUid).sort()).toEqual(sources.map((s) => String(s.SOPInstanceUID)).sort());
        for (const g of sr.images) {
          const image = job.result!.images!.find((i) => i.sopInstanceUid === g.sourceSopInstanceUid)!;
          expect(g.unit).toBe('mm2');
          expect(g.value).toBe(Math.round(image.lvArea.mm2! * 100) / 100);
          expect(g.segSopInstanceUid).toBe(job.result!.seg!.sopInstanceUid);
          expect(seg.frames[g.segFrameNumber! - 1].referencedSopInstanceUid).toBe(g.sourceSopInstanceUid);
        }
        efSummary.push(`${patient} EF ${fn.efPercent} % (EDV ${fn.edvMl} mL, ESV ${fn.esvMl} mL)`);
        summary.push(`${patient} ${(dices.reduce((a, b) => a + b, 0) / dices.length).toFixed(4)}`);
      }
    } finally {
      disposeLvModel(model);
    }
    // The report `lvseg eval` prints (evaluateCases over segmentLv's masks) is the same from the SEGs' masks.
    const segReport = evaluateCases(fromSeg);
    expect(segReport).toEqual(evaluateCases(fromLibrary));
    // eslint-disable-next-line no-console
    console.log(`Dice from the SEGs in Orthanc (model ${version}): mean ${segReport.meanDice.toFixed(4)} over ${segReport.images} images; per patient ${summary.join(', ')}`);
    // eslint-disable-next-line no-console
    console.log(`LV function from the SRs in Orthanc (model ${version}): ${efSummary.join('; ')}`);
    expect(studies.size).toBe(5);
  }, PHASE_MS);

  itWithDciodvfy('a SEG as stored in Orthanc passes dciodvfy, except for values copied verbatim from its sources', async () => {
    const seg = (await segSeries())[0];
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-pacs-dciodvfy-'));
    dirs.push(dir);
    const file = join(dir, 'seg.dcm');
    const bytes = await orthanc.restBytes(`/instances/${seg.Instances[0]}/file`);
    writeFileSync(file, bytes);
    const out = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
    const text = `${out.stdout}${out.stderr}`;
    expect(text).toMatch(/^Segmentation$/m);
    // The Sunnybrook files carry UIDs with leading zeros and a birth date of 00000000 (invalid values the SEG must copy
    // to stay in the same study and point at its images); any other error is the SEG's own.
    expect(ownErrors(text)).toEqual([]);
  }, 120_000);

  itWithDciodvfy('every LV function SR as stored in Orthanc passes dciodvfy as a Comprehensive SR, except for values copied from its sources', async () => {
    const srs = await srSeries();
    expect(srs).toHaveLength(5);
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-pacs-dciodvfy-sr-'));
    dirs.push(dir);
    for (const [k, s] of srs.entries()) {
      const file = join(dir, `sr-${k}.dcm`);
      writeFileSync(file, await orthanc.restBytes(`/instances/${s.Instances[0]}/file`));
      const out = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
      const text = `${out.stdout}${out.stderr}`;
      expect(text).toMatch(/^ComprehensiveSR$/m);
      expect(ownErrors(text)).toEqual([]);
      if (k === 0) {
        // eslint-disable-next-line no-console
        console.log(`dciodvfy on an SR from Orthanc:\n${text.trim()}`);
      }
    }
  }, 120_000);

  it('a series of a single cardiac phase gets its SEG and no SR; the job is done and says why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-pacs-one-phase-'));
    dirs.push(dir);
    const src = join(SUNNYBROOK_DICOM_DIR, cases().find((x) => x.case === LIVE[0])!.image);
    const file = join(dir, 'one.dcm');
    execFileSync('cp', [src, file]);
    // One image filed as its own MR series (in a study of its own), via dcmtk: one slice at one phase.
    const uid = () => `2.25.${BigInt(`0x${randomBytes(15).toString('hex')}`)}`;
    const [studyUid, seriesUid] = [uid(), uid()];
    execFileSync('dcmodify', ['-nb', '-m', `(0020,000d)=${studyUid}`, '-m', `(0020,000e)=${seriesUid}`, '-m', `(0008,0018)=${seriesUid}.1`, file]);
    const before = (await srSeries()).length;
    await storescu(orthanc, [file]);
    const job = await until('the single-phase job', async () => {
      await collectJobs();
      return finishedJobs.find((j) => j.series.seriesInstanceUid === seriesUid);
    }, PHASE_MS);
    expect(job.state).toBe('done');
    expect(job.result?.seg?.frames).toBe(1);
    expect(job.result?.function).toEqual({ computed: false, reason: { code: 'LV_SINGLE_PHASE', message: expect.stringMatching(/single phase/) } });
    const study = (await allSeries()).find((s) => s.MainDicomTags.SeriesInstanceUID === seriesUid)!.ParentStudy;
    const modalities = (await orthanc.rest<OrthancSeries[]>(`/studies/${study}/series`)).map((s) => s.MainDicomTags.Modality).sort();
    expect(modalities).toEqual(['MR', 'SEG']);
    expect((await srSeries()).length).toBe(before);
    expect(app.logLines().some((l) => l.event === 'pacs.lv_function_not_computed' && l.code === 'LV_SINGLE_PHASE')).toBe(true);
    expect((await request(app.url).get('/metrics').expect(200)).text).toContain('lvseg_pacs_lv_function_reports_total{outcome="not_computed"} 1');
    expect(app.logText()).not.toContain('SCD0000');
  }, PHASE_MS + 60_000);

  itWithGdcm('a JPEG 2000 series is retrieved as stored (transfer-syntax=*) and gets its SEG: lossless gives the masks of the originals, lossy a SEG that says LossyImageCompression 01', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-pacs-j2k-'));
    dirs.push(dir);
    const rows = cases().filter((x) => x.case === LIVE[2]).slice(0, 6);
    /** The 6 images as a new series of a new study, compressed by gdcmconv (`extra`: e.g. --lossy -r 10). */
    const makeSeries = (name: string, extra: string[]) => {
      const [studyUid, seriesUid] = [newUid(), newUid()];
      const files = rows.map((row, k) => {
        const plain = join(dir, `${name}-${k}-plain.dcm`);
        const out = join(dir, `${name}-${k}.dcm`);
        execFileSync('cp', [join(SUNNYBROOK_DICOM_DIR, row.image), plain]);
        execFileSync('dcmodify', ['-nb', '-m', `(0020,000d)=${studyUid}`, '-m', `(0020,000e)=${seriesUid}`, '-m', `(0008,0018)=${seriesUid}.${k + 1}`, plain]);
        execFileSync('gdcmconv', ['--j2k', ...extra, plain, out], { stdio: 'ignore' });
        return out;
      });
      return { studyUid, seriesUid, files };
    };
    const lossless = makeSeries('lossless', []);
    const lossy = makeSeries('lossy', ['--lossy', '-r', '10']);
    expect((await decodeDicomImage(readFileSync(lossless.files[0]))).meta.transferSyntaxUid).toBe('1.2.840.10008.1.2.4.90');
    expect(naturalizeDicom(readFileSync(lossy.files[0])).LossyImageCompression).toBe('01');
    // storescu proposes JPEG 2000 only when asked (-xv lossless, -xw lossy); Orthanc keeps what it receives.
    await storescu(orthanc, lossless.files, undefined, ['-xv']);
    await storescu(orthanc, lossy.files, undefined, ['-xw']);
    // Debian's Orthanc cannot transcode JPEG 2000: asked for Explicit VR Little Endian, WADO-RS answers 500.
    const transcoded = await fetch(`${orthanc.dicomWebUrl}/studies/${lossless.studyUid}/series/${lossless.seriesUid}`, {
      headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1', Authorization: `Basic ${Buffer.from(`${orthanc.username}:${orthanc.password}`).toString('base64')}` },
    });
    await transcoded.arrayBuffer();
    // eslint-disable-next-line no-console
    console.log(`WADO-RS of the JPEG 2000 series transcoded to Explicit VR Little Endian: HTTP ${transcoded.status}`);

    const jobOf = (seriesUid: string) =>
      until(`the job of series ${seriesUid}`, async () => {
        await collectJobs();
        return finishedJobs.find((j) => j.series.seriesInstanceUid === seriesUid);
      }, PHASE_MS);
    const [losslessJob, lossyJob] = [await jobOf(lossless.seriesUid), await jobOf(lossy.seriesUid)];
    expect(losslessJob.state).toBe('done');
    expect(lossyJob.state).toBe('done');
    expect(losslessJob.attempts).toBe(1);
    expect(losslessJob.result!.seg).toMatchObject({ frames: 6, lossyImageCompression: false });
    expect(lossyJob.result!.seg).toMatchObject({ frames: 6, lossyImageCompression: true });

    const segOf = async (job: PacsJobView) => {
      const [hit] = await orthanc.rest<Array<{ ID: string }>>('/tools/lookup', { method: 'POST', body: job.result!.seg!.sopInstanceUid });
      return orthanc.restBytes(`/instances/${hit.ID}/file`);
    };
    const { model } = await loadLvModelByRef(store, version);
    try {
      const originals = await Promise.all(rows.map((row) => decodeDicomImage(readFileSync(join(SUNNYBROOK_DICOM_DIR, row.image)))));
      const expected = await segmentLv(model, originals.map((o) => o.image), maskOptions, { series: true });
      // (gdcmconv gives a lossy copy a new SOP Instance UID: it is a derived image.)
      const sopOf = (k: number, seriesUid: string) => String(naturalizeDicom(readFileSync((seriesUid === lossy.seriesUid ? lossy : lossless).files[k])).SOPInstanceUID);
      const losslessSeg = readDicomSeg(await segOf(losslessJob));
      rows.forEach((_, k) => {
        const frame = losslessSeg.frames.find((f) => f.referencedSopInstanceUid === sopOf(k, lossless.seriesUid))!;
        expect(Buffer.from(frame.mask.data).equals(Buffer.from(expected[k].mask.data))).toBe(true);
      });
      const lossyBytes = await segOf(lossyJob);
      const lossySeg = readDicomSeg(lossyBytes);
      const dices = rows.map((_, k) => dice(lossySeg.frames.find((f) => f.referencedSopInstanceUid === sopOf(k, lossy.seriesUid))!.mask, expected[k].mask));
      const meanDice = dices.reduce((a, b) => a + b, 0) / dices.length;
      // eslint-disable-next-line no-console
      console.log(`JPEG 2000 lossy (gdcmconv -r 10) vs the originals' masks: mean Dice ${meanDice.toFixed(4)}, lowest ${Math.min(...dices).toFixed(4)} over ${dices.length} images`);
      expect(meanDice).toBeGreaterThan(0.9);
      const source = naturalizeDicom(readFileSync(lossy.files[0]));
      const ds = naturalizeDicom(lossyBytes);
      expect(ds.LossyImageCompression).toBe('01');
      expect(ds.LossyImageCompressionRatio).toBe(Math.round(Number(source.LossyImageCompressionRatio) * 100) / 100);
      expect(naturalizeDicom(await segOf(losslessJob)).LossyImageCompression).toBe('00');
      const file = join(dir, 'lossy-seg.dcm');
      writeFileSync(file, lossyBytes);
      const out = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
      expect(`${out.stdout}${out.stderr}`).toMatch(/^Segmentation$/m);
      expect(ownErrors(`${out.stdout}${out.stderr}`)).toEqual([]);
    } finally {
      disposeLvModel(model);
    }
  }, PHASE_MS + 60_000);

  itWithGdcm('a series no codec can decode is retried a capped number of times and ends failed, with the reason in the job, the log and the metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-pacs-corrupt-'));
    dirs.push(dir);
    const [studyUid, seriesUid] = [newUid(), newUid()];
    const rows = cases().filter((x) => x.case === LIVE[1]).slice(0, 2);
    const files = rows.map((row, k) => {
      const plain = join(dir, `${k}-plain.dcm`);
      const out = join(dir, `${k}.dcm`);
      execFileSync('cp', [join(SUNNYBROOK_DICOM_DIR, row.image), plain]);
      execFileSync('dcmodify', ['-nb', '-m', `(0020,000d)=${studyUid}`, '-m', `(0020,000e)=${seriesUid}`, '-m', `(0008,0018)=${seriesUid}.${k + 1}`, plain]);
      execFileSync('gdcmconv', ['--j2k', plain, out], { stdio: 'ignore' });
      // Overwrite the codestream's image and tile size marker segment (SIZ, right after SOC) with 0xFF: no decoder reads it.
      const bytes = readFileSync(out);
      const soc = bytes.indexOf(Buffer.from([0xff, 0x4f, 0xff, 0x51]));
      expect(soc).toBeGreaterThan(0);
      bytes.fill(0xff, soc + 4, soc + 44);
      writeFileSync(out, bytes);
      return out;
    });
    await storescu(orthanc, files, undefined, ['-xv']);
    const job = await until('the job of the undecodable series', async () => {
      await collectJobs();
      return finishedJobs.find((j) => j.series.seriesInstanceUid === seriesUid);
    }, PHASE_MS);
    expect(job.state).toBe('failed');
    expect(job.attempts).toBe(3); // DEFAULT_PACS_TIMING.permanentAttempts
    expect(job.error).toEqual({ code: 'SERIES_UNDECODABLE', retryable: false, message: expect.stringMatching(/^none of the 2 image\(s\) of the series could be decoded \(DICOM_CODEC_FAILED\)/) });
    const line = app.logLines().find((l) => l.event === 'pacs.job_failed' && l.jobId === job.id)!;
    expect(line).toMatchObject({ code: 'SERIES_UNDECODABLE', permanent: true, attempts: 3, retryAt: null });
    expect(String(line.msg)).toMatch(/failed for good \(not retried\)/);
    const metrics = (await request(app.url).get('/metrics').expect(200)).text;
    expect(metrics).toContain('lvseg_pacs_job_failures_total{code="SERIES_UNDECODABLE",permanent="true"} 1');
    // Not pending any more: not retried at the next ticks, and no SEG.
    const state = JSON.parse(readFileSync(join(pacs.stateDir, 'state.json'), 'utf8')) as { pending: Array<{ seriesInstanceUid: string }> };
    expect(state.pending.map((p) => p.seriesInstanceUid)).not.toContain(seriesUid);
    const found = ((await request(app.url).get('/jobs').query({ series: seriesUid }).expect(200)).body as { jobs: PacsJobView[] }).jobs;
    expect(found.map((j) => [j.id, j.state])).toEqual([[job.id, 'failed']]);
    expect(app.logText()).not.toContain('SCD0000');
  }, PHASE_MS);

  it('GET /health/ready says not ready, with the reason and no secret, while the PACS refuses lvseg’s credentials or is stopped', async () => {
    const readiness = async (url: string) =>
      until('a verdict beyond the model loading', async () => {
        const r = await request(url).get('/health/ready');
        return r.body?.error?.code === 'MODEL_NOT_READY' ? undefined : r;
      }, PHASE_MS);
    const configFor = (url: string, password: string) =>
      loadConfig({ PACS_URL: url, PACS_USERNAME: orthanc.username, PACS_PASSWORD: password, PACS_WEBHOOK_SECRET: secret, PACS_POLL_SECONDS: '5', LVSEG_PACS_STATE_DIR: mkdtempSync(join(tmpdir(), 'lvseg-pacs-ready-')) }).pacs!;

    // The real Orthanc with a wrong password.
    const wrongPassword = 'not-the-orthanc-password';
    const wrongConfig = configFor(orthanc.url, wrongPassword);
    dirs.push(wrongConfig.stateDir);
    const wrong = await startPacsApp({ store, port: await freePort(), pacs: wrongConfig, timing: { readinessCacheMs: 100 } });
    try {
      const res = await readiness(wrong.url);
      expect(res.status).toBe(503);
      expect(res.body.error).toEqual({ code: 'PACS_AUTH_FAILED', message: "pacs not ready: Orthanc access check: the PACS refused lvseg's credentials (HTTP 401); check PACS_USERNAME and PACS_PASSWORD" });
      expect(res.headers['retry-after']).toBe('5');
      expect(res.text).not.toContain(wrongPassword);
      expect(wrong.logText()).not.toContain(wrongPassword);
      expect(wrong.logLines().some((l) => l.event === 'pacs.not_ready' && l.code === 'PACS_AUTH_FAILED')).toBe(true);
    } finally {
      await wrong.close();
    }

    // A second real Orthanc: ready while it runs, not ready once it is stopped.
    const second = await startOrthanc({ webhookUrl: `http://127.0.0.1:${await freePort()}/webhooks/pacs`, webhookSecret: secret, stableAgeSeconds: STABLE_AGE_SECONDS });
    const secondConfig = configFor(second.url, second.password);
    dirs.push(secondConfig.stateDir);
    const bridge = await startPacsApp({ store, port: await freePort(), pacs: secondConfig, timing: { readinessCacheMs: 100 } });
    try {
      const up = await readiness(bridge.url);
      expect(up.status).toBe(200);
      expect(up.body.pacs).toEqual({ status: 'ok', checkedAt: expect.any(String) });
      await second.stop();
      const down = await until('not ready after the PACS stopped', async () => {
        const r = await request(bridge.url).get('/health/ready');
        return r.status === 503 ? r : undefined;
      }, 30_000);
      expect(down.body.error.code).toBe('PACS_UNREACHABLE');
      expect(down.body.error.message).toBe('pacs not ready: Orthanc access check: the PACS is unreachable (ECONNREFUSED)');
      expect(down.text).not.toContain(second.password);
    } finally {
      await bridge.close();
      await second.stop();
    }
  }, 2 * PHASE_MS);
});
