import { isLvsegError } from '@lvseg/common';
import { loadInferenceConfig } from './inference-config';

describe('loadInferenceConfig', () => {
  it('has documented defaults', () => {
    expect(loadInferenceConfig({}).inference).toEqual({
      port: 3000,
      // No authentication configured: loopback only.
      host: '127.0.0.1',
      maxBodyBytes: 16 * 1024 * 1024,
      maxImageSide: 1024,
      queueSize: 32,
      batchWindowMs: 2,
      maxBatchSize: 8,
      aliasPollSeconds: 10,
      defaultModelRef: 'production',
      extraModels: 2,
      seriesMaxFiles: 400,
      seriesMaxBytes: 128 * 1024 * 1024,
      logLevel: 'info',
    });
  });

  it('reads every setting from the environment', () => {
    const c = loadInferenceConfig({
      PORT: '8080',
      LVSEG_MAX_BODY_MB: '0.5',
      LVSEG_MAX_IMAGE_SIDE: '512',
      LVSEG_QUEUE_SIZE: '4',
      LVSEG_BATCH_WINDOW_MS: '0',
      LVSEG_MAX_BATCH: '2',
      LVSEG_ALIAS_POLL_SECONDS: '0.5',
      LVSEG_SERVE_MODEL: 'staging',
      LVSEG_EXTRA_MODELS: '0',
      LVSEG_SERIES_MAX_FILES: '40',
      LVSEG_SERIES_MAX_MB: '2',
      LOG_LEVEL: 'warn',
      LVSEG_HOST: '127.0.0.2',
    }).inference;
    expect(c).toEqual({
      port: 8080,
      host: '127.0.0.2',
      maxBodyBytes: 524288,
      maxImageSide: 512,
      queueSize: 4,
      batchWindowMs: 0,
      maxBatchSize: 2,
      aliasPollSeconds: 0.5,
      defaultModelRef: 'staging',
      extraModels: 0,
      seriesMaxFiles: 40,
      seriesMaxBytes: 2 * 1024 * 1024,
      logLevel: 'warn',
    });
  });

  it.each([
    ['PORT', 'http', /PORT must be an integer in \[0, 65535\], got "http"/],
    ['PORT', '70000', /PORT must be an integer/],
    ['LVSEG_QUEUE_SIZE', '0', /LVSEG_QUEUE_SIZE must be an integer in \[1, /],
    ['LVSEG_MAX_BATCH', '2.5', /LVSEG_MAX_BATCH must be an integer/],
    ['LVSEG_ALIAS_POLL_SECONDS', '-1', /LVSEG_ALIAS_POLL_SECONDS must be a number/],
    ['LVSEG_MAX_BODY_MB', 'lots', /LVSEG_MAX_BODY_MB must be a number/],
    ['LVSEG_SERIES_MAX_FILES', '1', /LVSEG_SERIES_MAX_FILES must be an integer in \[2, 10000\]/],
    ['LVSEG_SERIES_MAX_FILES', '12.5', /LVSEG_SERIES_MAX_FILES must be an integer/],
    ['LVSEG_SERIES_MAX_MB', '0', /LVSEG_SERIES_MAX_MB must be a number in \[0.001, 4096\]/],
    ['LVSEG_SERVE_MODEL', '../x', /LVSEG_SERVE_MODEL must be an alias or version id/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/],
  ])('refuses %s=%s with a config error naming it', (name, value, message) => {
    let err: unknown;
    try {
      loadInferenceConfig({ [name]: value });
    } catch (e) {
      err = e;
    }
    expect(isLvsegError(err, 'config')).toBe(true);
    expect((err as Error).message).toMatch(message);
  });
});
