/**
 * Model lifecycle of the running service, against both real store implementations (a file store in a temp directory
 * and the S3 store against s3rver in a child process): unready until `production` exists, switching under load with no failed
 * request when the alias moves, refusing a version that fails its sha256 check or does not load (the old one keeps
 * serving), and freeing the replaced model.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Client } from 'minio';
import request from 'supertest';
import { initBackend } from '@lvseg/model';
import { ModelCard, ModelStore, openModelStore } from '@lvseg/model-store';
import { startS3rverProcess } from './support/s3rver-process';
import { startInferenceApp, RunningInferenceApp } from './support/inference-app';
import { publishSeededModel } from './support/models';
import { describeWithSunnybrook, readDicom, scd401frame100 } from './support/sunnybrook';

interface StoreUnderTest {
  store: ModelStore;
  /** Overwrites one stored file of a version behind the store's back (bit rot, a bad copy, tampering). */
  overwrite(version: string, file: string, bytes: Buffer): Promise<void>;
  stop(): Promise<void>;
}

async function fileStore(): Promise<StoreUnderTest> {
  const root = mkdtempSync(join(tmpdir(), 'lvseg-lifecycle-'));
  return {
    store: openModelStore(`file://${root}`),
    overwrite: async (version, file, bytes) => writeFileSync(join(root, 'versions', version, file), bytes),
    stop: async () => undefined,
  };
}

async function s3Store(): Promise<StoreUnderTest> {
  const s3 = await startS3rverProcess();
  const bucket = `lvseg-life-${randomBytes(4).toString('hex')}`;
  const url = new URL(s3.connection.endpoint);
  const client = new Client({ endPoint: url.hostname, port: Number(url.port), useSSL: false, accessKey: s3.connection.accessKey, secretKey: s3.connection.secretKey, pathStyle: true });
  return {
    store: openModelStore(`s3://${bucket}/models`, { s3: s3.connection }),
    overwrite: async (version, file, bytes) => {
      await client.putObject(bucket, `models/versions/${version}/${file}`, bytes, bytes.length);
    },
    stop: () => s3.stop(),
  };
}

const POLL_SECONDS = 0.2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describeWithSunnybrook('model lifecycle of the running service', () => {
  beforeAll(async () => {
    await initBackend();
  });

  describe.each([
    ['file store', fileStore],
    ['S3 store (s3rver in a child process)', s3Store],
  ])('%s', (_name, makeStore) => {
    let s: StoreUnderTest;
    let app: RunningInferenceApp;
    let v1: ModelCard;
    let v2: ModelCard;
    const dicom = () => readDicom(scd401frame100());
    const segment = () => request(app.url).post('/segment').set('Content-Type', 'application/dicom').send(dicom());
    const servedVersion = async () => (await request(app.url).get('/health/ready')).body.version as string | undefined;

    beforeAll(async () => {
      s = await makeStore();
      v1 = await publishSeededModel(s.store, { seed: 11 });
      v2 = await publishSeededModel(s.store, { seed: 12 });
      app = await startInferenceApp(s.store, { LVSEG_ALIAS_POLL_SECONDS: String(POLL_SECONDS) });
    });

    afterAll(async () => {
      await app?.close();
      await s?.stop();
    });

    it('starts unready (503 + Retry-After) without a production alias and becomes ready once it is set', async () => {
      const notReady = await request(app.url).get('/health/ready').expect(503);
      expect(notReady.body.error.code).toBe('MODEL_NOT_READY');
      expect(notReady.headers['retry-after']).toBe('5');
      const refused = await segment().expect(503);
      expect(refused.body.error.code).toBe('MODEL_NOT_READY');
      await request(app.url).get('/health/live').expect(200);

      await s.store.setAlias('production', v1.version);
      await waitFor('production to be served', async () => (await servedVersion()) === v1.version);
      const ok = await segment().expect(200);
      expect(ok.body.model.version).toBe(v1.version);
    });

    it('switches to the new version under load when the alias moves, with no failed request, and frees the old model', async () => {
      await segment().expect(200);
      const tensorsWithV1 = tf.memory().numTensors;
      const results: Array<{ startedAt: number; endedAt: number; status: number; version?: string }> = [];
      let stop = false;
      const worker = async () => {
        while (!stop) {
          const startedAt = performance.now();
          const res = await segment();
          results.push({ startedAt, endedAt: performance.now(), status: res.status, version: res.body?.model?.version });
        }
      };
      const workers = [worker(), worker(), worker()];
      await sleep(600);
      const movedAt = performance.now();
      await s.store.setAlias('production', v2.version, { by: 'e2e', reason: 'switch under load' });
      await waitFor('v2 answers', async () => results.some((r) => r.version === v2.version));
      await sleep(600);
      stop = true;
      await Promise.all(workers);

      expect(results.length).toBeGreaterThan(6);
      expect(results.filter((r) => r.status !== 200)).toEqual([]);
      expect(new Set(results.map((r) => r.version))).toEqual(new Set([v1.version, v2.version]));
      const firstV2 = Math.min(...results.filter((r) => r.version === v2.version).map((r) => r.endedAt));
      // Once v2 has answered, every request started afterwards is answered by v2: the swap is one-way and atomic.
      expect(results.filter((r) => r.startedAt > firstV2 && r.version !== v2.version)).toEqual([]);
      expect(firstV2 - movedAt).toBeLessThan(30000);
      expect(await servedVersion()).toBe(v2.version);
      // v1's weights are gone: the same architecture is loaded once, so the tensor count is what it was with v1.
      expect(tf.memory().numTensors).toBe(tensorsWithV1);
      const swapped = app.logLines().filter((l) => l.event === 'model.swapped').map((l) => l.version);
      expect(swapped).toEqual([v1.version, v2.version]);
    });

    it('refuses a version whose weights fail the sha256 check; the old version keeps serving', async () => {
      const v3 = await publishSeededModel(s.store, { seed: 13 });
      const weights = (await s.store.load(v3.version)).files.get('weights.bin')!;
      const tampered = Buffer.from(weights);
      tampered[tampered.length >> 1] ^= 0x01;
      await s.overwrite(v3.version, 'weights.bin', tampered);
      await s.store.setAlias('production', v3.version);
      await waitFor('the refusal', async () => app.logLines().some((l) => l.event === 'model.refused' && l.version === v3.version));
      await sleep(POLL_SECONDS * 3000);

      expect(await servedVersion()).toBe(v2.version);
      expect((await segment().expect(200)).body.model.version).toBe(v2.version);
      const refusal = app.logLines().filter((l) => l.event === 'model.refused' && l.version === v3.version);
      expect(refusal).toHaveLength(1); // not retried on every poll
      expect(refusal[0]).toMatchObject({ code: 'MODEL_INTEGRITY', keptServing: v2.version });
      const explicit = await request(app.url).post(`/segment?model=${v3.version}`).set('Content-Type', 'application/dicom').send(dicom()).expect(503);
      expect(explicit.body.error.code).toBe('MODEL_REFUSED');
      expect(explicit.body.error.message).toMatch(/MODEL_INTEGRITY/);
      const metrics = (await request(app.url).get('/metrics')).text;
      expect(metrics).toContain('lvseg_model_swaps_total{outcome="refused"} 1');
      expect(metrics).toContain(`lvseg_model_info{version="${v2.version}",architecture="fcn-paper"} 1`);
    });

    it('refuses a version that does not load as a model; then follows the alias back to a good one', async () => {
      const junk = await s.store.publish({
        ...(({ version: _v, createdAt: _c, files: _f, ...body }) => body)(v1),
        notes: 'not a model',
        files: new Map([
          ['model.json', Buffer.from(JSON.stringify({ modelTopology: { class_name: 'Nope' }, weightsManifest: [{ paths: ['weights.bin'], weights: [] }] }))],
          ['weights.bin', Buffer.alloc(16)],
        ]),
      });
      await s.store.setAlias('production', junk.version);
      await waitFor('the refusal', async () => app.logLines().some((l) => l.event === 'model.refused' && l.version === junk.version));
      expect(app.logLines().find((l) => l.event === 'model.refused' && l.version === junk.version)).toMatchObject({ code: 'MODEL_LOAD_FAILED' });
      expect((await segment().expect(200)).body.model.version).toBe(v2.version);

      await s.store.setAlias('production', v1.version, { reason: 'back to a good one' });
      await waitFor('v1 again', async () => (await servedVersion()) === v1.version);
      expect((await segment().expect(200)).body.model.version).toBe(v1.version);
    });
  });
});
