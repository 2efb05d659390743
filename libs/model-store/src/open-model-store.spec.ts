import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LvsegError } from '@lvseg/common';
import { FileModelStore } from './file-model-store';
import { DEFAULT_MODEL_STORE_URI, openModelStore, s3ConnectionFromEnv } from './open-model-store';
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

describe('s3ConnectionFromEnv', () => {
  it('reads S3_* variables, and is undefined without S3_ENDPOINT', () => {
    expect(s3ConnectionFromEnv({})).toBeUndefined();
    expect(s3ConnectionFromEnv({ S3_ENDPOINT: 'http://minio:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b', S3_REGION: 'eu-west-1' })).toEqual({
      endpoint: 'http://minio:9000',
      accessKey: 'a',
      secretKey: 'b',
      region: 'eu-west-1',
    });
    expect(s3ConnectionFromEnv({ S3_ENDPOINT: 'http://minio:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' })).toEqual({ endpoint: 'http://minio:9000', accessKey: 'a', secretKey: 'b' });
  });

  it('refuses an endpoint without credentials', () => {
    const err = thrownBy(() => s3ConnectionFromEnv({ S3_ENDPOINT: 'http://minio:9000', S3_ACCESS_KEY: 'a' }));
    expect(err.kind).toBe('config');
    expect(err.message).toContain('S3_SECRET_KEY');
  });
});
