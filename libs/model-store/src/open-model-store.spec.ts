import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LvsegError, isLvsegError } from '@lvseg/common';
import { FileModelStore } from './file-model-store';
import { DEFAULT_MODEL_STORE_URI, openConfiguredRunStore, openConfiguredStore, openModelStore } from './open-model-store';
import { FileRunStore } from './run-file-store';
import { S3RunStore } from './run-s3-store';
import { S3ModelStore } from './s3-model-store';
import { sampleModelVersion } from './testing/model-store.contract';
import { startS3rver } from './testing/s3rver';

function thrownBy(fn: () => unknown): LvsegError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LvsegError);
    return e as LvsegError;
  }
  throw new Error('expected a throw');
}

describe('openModelStore', () => {
  it('opens relative file:// stores from the working directory, the default included', () => {
    const store = openModelStore(DEFAULT_MODEL_STORE_URI);
    expect(store).toBeInstanceOf(FileModelStore);
    expect((store as FileModelStore).root).toBe(resolve(process.cwd(), 'var/models'));
    expect(openModelStore('file://models').uri).toBe(pathToFileURL(resolve('models')).href);
  });

  it('opens absolute file:/// stores (percent-decoded) and seeds them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lvseg open store '));
    try {
      const seed = new FileModelStore({ root: join(dir, 'seed') });
      const card = await seed.publish(sampleModelVersion());
      await seed.setAlias('production', card.version);
      const uri = pathToFileURL(join(dir, 'store')).href;
      expect(uri).toContain('%20');
      const store = openModelStore(uri, { seedFrom: join(dir, 'seed') });
      expect((store as FileModelStore).root).toBe(join(dir, 'store'));
      expect(await store.resolve('production')).toBe(card.version);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('opens s3:// stores with explicit connection settings', async () => {
    const server = await startS3rver();
    try {
      const store = openModelStore('s3://models/lvseg/prod', { s3: server.connection });
      expect(store).toBeInstanceOf(S3ModelStore);
      expect(store.uri).toBe('s3://models/lvseg/prod/');
      const card = await store.publish(sampleModelVersion());
      expect((await store.load(card.version)).card).toEqual(card);
    } finally {
      await server.stop();
    }
  });

  it('refuses unknown schemes and incomplete URIs as config errors', () => {
    for (const uri of ['http://models', 'gs://bucket/x', '/srv/models', 'models', '']) {
      const err = thrownBy(() => openModelStore(uri));
      expect(err.kind).toBe('config');
      expect(err.code).toBe('MODEL_STORE_URI_UNSUPPORTED');
    }
    expect(thrownBy(() => openModelStore('file://')).code).toBe('MODEL_STORE_URI_INVALID');
    expect(thrownBy(() => openModelStore('s3://')).code).toBe('MODEL_STORE_URI_INVALID');
    expect(thrownBy(() => openModelStore('s3://models/x')).code).toBe('MODEL_STORE_S3_CONFIG');
  });
});

describe('openConfiguredStore / openConfiguredRunStore', () => {
  const S3 = { endpoint: 'http://127.0.0.1:9000', accessKey: 'a', secretKey: 'b' };

  it('opens the configured file store, seeded from the shipped models only when they exist', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-configured-'));
    try {
      const store = openConfiguredStore({ modelStore: pathToFileURL(join(dir, 'models')).href, shippedModels: join(dir, 'none') });
      expect(store).toBeInstanceOf(FileModelStore);
      expect(await store.aliases()).toEqual({});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps runs in runs/ of the configured file store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-config-runs-'));
    try {
      const runs = openConfiguredRunStore({ modelStore: pathToFileURL(dir).href, shippedModels: join(dir, 'none') });
      expect(runs).toBeInstanceOf(FileRunStore);
      const run = await runs.createRun({ architecture: 'unet-small', hyperParameters: {}, manifestSha256: 'd'.repeat(64), valImageId: null, layers: [] });
      expect(readdirSync(join(dir, 'runs'))).toEqual([run.id]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses the S3 connection for an s3:// store, under the same prefix', () => {
    const runs = openConfiguredRunStore({ modelStore: 's3://models/lvseg', shippedModels: '/nonexistent', s3: S3 });
    expect(runs).toBeInstanceOf(S3RunStore);
    expect(runs.uri).toBe('s3://models/lvseg/runs/');
    expect(openConfiguredStore({ modelStore: 's3://models/lvseg', shippedModels: '/nonexistent', s3: S3 })).toBeInstanceOf(S3ModelStore);
  });

  it('refuses an invalid bucket name with a config error', () => {
    let err: unknown;
    try {
      openConfiguredRunStore({ modelStore: 's3://UPPER_case/x', shippedModels: '/nonexistent', s3: S3 });
    } catch (e) {
      err = e;
    }
    expect(isLvsegError(err, 'config')).toBe(true);
  });
});
