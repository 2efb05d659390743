import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import request from 'supertest';
import * as tf from '@tensorflow/tfjs';
import { sha256Hex } from '@lvseg/common';
import { loadConfig } from '@lvseg/config';
import { initBackend } from '@lvseg/model';
import { FileModelStore, ModelCard } from '@lvseg/model-store';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createInferenceApp } from '../create-app';
import { TfjsEngineFactory } from '../engine/tfjs-engine';
import { publishSeededModel } from '../testing/seeded-model';


describe('GET /models/:ref/files/:name (real app, real file store, real tfjs model)', () => {
  let root: string;
  let store: FileModelStore;
  let card: ModelCard;
  let app: NestExpressApplication;

  beforeAll(async () => {
    await initBackend();
    root = mkdtempSync(join(tmpdir(), 'lvseg-model-files-'));
    store = new FileModelStore({ root });
    card = await publishSeededModel(store, { architecture: 'fcn-paper', seed: 3 });
    await store.setAlias('production', card.version);
    app = await createInferenceApp({
      config: loadConfig({ LVSEG_ALIAS_POLL_SECONDS: '3600' }),
      store,
      engineFactory: new TfjsEngineFactory(),
      logger: pino({ level: 'silent' }),
    });
    await app.init();
  });

  /** GET with the body kept as raw bytes, whatever the content type. */
  const getBytes = (path: string) =>
    request(app.getHttpServer())
      .get(path)
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      });

  afterAll(async () => {
    await app?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('serves model.json and its weights byte for byte, and tfjs loads the model from them', async () => {
    const { files } = await store.load(card.version);
    const json = await getBytes(`/models/${card.version}/files/model.json`).expect(200);
    expect(json.headers['content-type']).toContain('application/json');
    expect(json.headers.etag).toBe(`"${card.files['model.json'].sha256}"`);
    expect(json.headers['cache-control']).toContain('immutable');
    expect((json.body as Buffer).equals(files.get('model.json')!)).toBe(true);
    const manifestPaths = (JSON.parse((json.body as Buffer).toString('utf8')) as { weightsManifest: Array<{ paths: string[] }> }).weightsManifest[0].paths;
    expect(manifestPaths).toEqual(['weights.bin']);

    const weights = await getBytes('/models/production/files/weights.bin').expect(200);
    expect(weights.headers['content-type']).toBe('application/octet-stream');
    expect(weights.headers['cache-control']).toBe('no-cache'); // an alias may move
    expect(sha256Hex(weights.body as Buffer)).toBe(card.files['weights.bin'].sha256);
    // Revalidation of the alias: same bytes → 304 without a body.
    const again = await request(app.getHttpServer()).get('/models/production/files/weights.bin').set('If-None-Match', weights.headers.etag).expect(304);
    expect(again.text ?? '').toBe('');
    await getBytes('/models/production/files/weights.bin').set('If-None-Match', '"0000"').expect(200);

    // What the browser does: load the model from the two served files (through tfjs's own loader) and run it.
    const weightData = (weights.body as Buffer).buffer.slice((weights.body as Buffer).byteOffset, (weights.body as Buffer).byteOffset + (weights.body as Buffer).length);
    const topology = JSON.parse((json.body as Buffer).toString('utf8'));
    const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topology.modelTopology, weightSpecs: topology.weightsManifest[0].weights, weightData }));
    try {
      expect(model.countParams()).toBe(card.parameterCount);
    } finally {
      model.dispose();
    }
  });

  it('answers 404 with the available names for a file that is not a browser file, and for an unknown version', async () => {
    for (const name of ['history.json', 'model.onnx', 'weights.bin.map']) {
      const res = await request(app.getHttpServer()).get(`/models/production/files/${name}`).expect(404);
      expect(res.body.error.code).toBe('MODEL_FILE_NOT_FOUND');
      expect(res.body.error.message).toContain('available: model.json, weights.bin');
    }
    const unknown = await request(app.getHttpServer()).get('/models/fcn-paper-20990101T000000-abcdef/files/model.json').expect(404);
    expect(unknown.body.error.code).toMatch(/NOT_FOUND/);
  });

  it('answers 400 for a malformed file name or reference, never reaching the file system', async () => {
    for (const name of ['card.json', '..%2Fcard.json', '.hidden', '%2E%2E']) {
      const res = await request(app.getHttpServer()).get(`/models/production/files/${name}`).expect(400);
      expect(res.body.error.code).toBe('MODEL_FILE_NAME_INVALID');
    }
    const badRef = await request(app.getHttpServer()).get('/models/..%2Fx/files/model.json').expect(400);
    expect(badRef.body.error.code).toBe('MODEL_REF_INVALID');
  });

  it('refuses with 503 (integrity) when the stored weights no longer match the card', async () => {
    const other = await publishSeededModel(store, { architecture: 'fcn-paper', seed: 4 });
    const path = join(root, 'versions', other.version, 'weights.bin');
    const bytes = (await store.load(other.version)).files.get('weights.bin')!;
    bytes[10] ^= 0xff;
    writeFileSync(path, bytes);
    const res = await request(app.getHttpServer()).get(`/models/${other.version}/files/weights.bin`).expect(503);
    expect(res.body.error.message).toMatch(/sha256|integrity/i);
  });
});
