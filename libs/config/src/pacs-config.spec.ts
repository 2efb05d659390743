import { resolve } from 'node:path';
import { isLvsegError, repoRoot } from '@lvseg/common';
import { loadConfig } from './config';

const pacsOf = (env: NodeJS.ProcessEnv) => loadConfig(env).pacs;

const SECRET = 'a-webhook-secret-of-32-characters';

describe('loadConfig: the PACS settings', () => {
  it('is off (undefined) when PACS_URL is not set', () => {
    expect(pacsOf({})).toBeUndefined();
    expect(pacsOf({ PACS_URL: '  ', PACS_WEBHOOK_SECRET: SECRET })).toBeUndefined();
  });

  it('has documented defaults', () => {
    expect(pacsOf({ PACS_URL: 'http://127.0.0.1:8042/', PACS_WEBHOOK_SECRET: SECRET })).toEqual({
      url: 'http://127.0.0.1:8042',
      dicomWebUrl: 'http://127.0.0.1:8042/dicom-web',
      webhookSecret: SECRET,
      concurrency: 2,
      pollSeconds: 10,
      stateDir: resolve(repoRoot(), 'var/pacs'),
    });
  });

  it('reads every setting', () => {
    expect(
      pacsOf({
        PACS_URL: 'https://pacs.example.org/orthanc',
        PACS_DICOMWEB_ROOT: '/dicom-web/',
        PACS_USERNAME: 'lvseg',
        PACS_PASSWORD: 'pw',
        PACS_WEBHOOK_SECRET: SECRET,
        PACS_CONCURRENCY: '4',
        PACS_POLL_SECONDS: '0.5',
        LVSEG_PACS_STATE_DIR: '/srv/lvseg/pacs',
      }),
    ).toEqual({
      url: 'https://pacs.example.org/orthanc',
      dicomWebUrl: 'https://pacs.example.org/orthanc/dicom-web',
      credentials: { username: 'lvseg', password: 'pw' },
      webhookSecret: SECRET,
      concurrency: 4,
      pollSeconds: 0.5,
      stateDir: '/srv/lvseg/pacs',
    });
    expect(pacsOf({ PACS_URL: 'http://a:1', PACS_DICOMWEB_ROOT: 'http://b:2/wado/', PACS_WEBHOOK_SECRET: SECRET })?.dicomWebUrl).toBe('http://b:2/wado');
  });

  it.each([
    [{ PACS_URL: 'ftp://pacs' }, /PACS_URL must be an http/],
    [{ PACS_URL: 'not a url' }, /PACS_URL must be an http/],
    [{ PACS_URL: 'http://user:pw@pacs:8042' }, /must not contain credentials; set PACS_USERNAME/],
    [{ PACS_URL: 'http://pacs:8042?x=1' }, /query or fragment/],
    [{ PACS_DICOMWEB_ROOT: 'dicom-web' }, /PACS_DICOMWEB_ROOT must be a path starting with "\/"/],
    [{ PACS_USERNAME: 'lvseg' }, /PACS_USERNAME and PACS_PASSWORD must be set together/],
    [{ PACS_PASSWORD: 'pw' }, /must be set together/],
    [{ PACS_WEBHOOK_SECRET: '' }, /PACS_WEBHOOK_SECRET is required when PACS_URL is set .* not set/],
    [{ PACS_WEBHOOK_SECRET: 'short' }, /at least 16 characters.*it is 5 characters/],
    [{ PACS_CONCURRENCY: '0' }, /PACS_CONCURRENCY must be an integer in \[1, 64\]/],
    [{ PACS_CONCURRENCY: '1.5' }, /PACS_CONCURRENCY must be an integer/],
    [{ PACS_POLL_SECONDS: 'soon' }, /PACS_POLL_SECONDS must be a number/],
  ])('refuses %j with a clear message', (override, message) => {
    const env = { PACS_URL: 'http://127.0.0.1:8042', PACS_WEBHOOK_SECRET: SECRET, ...override } as NodeJS.ProcessEnv;
    let error: unknown;
    try {
      pacsOf(env);
    } catch (e) {
      error = e;
    }
    expect(isLvsegError(error, 'config')).toBe(true);
    expect((error as Error).message).toMatch(message);
    // The secret never appears in a message.
    expect((error as Error).message).not.toContain(SECRET);
  });
});
