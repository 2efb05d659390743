import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isLvsegError } from '@lvseg/common';
import { FileRunStore, S3RunStore } from '@lvseg/model-store';
import { loadConfig } from './config';
import { openConfiguredRunStore } from './run-store';

describe('openConfiguredRunStore', () => {
  it('keeps runs in runs/ of the configured file store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-config-runs-'));
    try {
      const runs = openConfiguredRunStore(loadConfig({ LVSEG_MODEL_STORE: pathToFileURL(dir).href }));
      expect(runs).toBeInstanceOf(FileRunStore);
      const run = await runs.createRun({ architecture: 'unet-small', hyperParameters: {}, manifestSha256: 'd'.repeat(64), valImageId: null, layers: [] });
      expect(readdirSync(join(dir, 'runs'))).toEqual([run.id]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses the S3 connection for an s3:// store, under the same prefix', () => {
    const runs = openConfiguredRunStore(loadConfig({ LVSEG_MODEL_STORE: 's3://models/lvseg', S3_ENDPOINT: 'http://127.0.0.1:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' }));
    expect(runs).toBeInstanceOf(S3RunStore);
    expect(runs.uri).toBe('s3://models/lvseg/runs/');
  });

  it('refuses an invalid bucket name with a config error', () => {
    let err: unknown;
    try {
      openConfiguredRunStore(loadConfig({ LVSEG_MODEL_STORE: 's3://UPPER_case/x', S3_ENDPOINT: 'http://127.0.0.1:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' }));
    } catch (e) {
      err = e;
    }
    expect(isLvsegError(err, 'config')).toBe(true);
  });
});
