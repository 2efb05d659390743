import { isAbsolute, resolve } from 'node:path';
import { LvsegError, repoRoot } from '@lvseg/common';

/** How the inference service reaches the PACS (Orthanc: REST + DICOMweb) and checks its webhooks. */
export interface PacsConfig {
  /** Base URL of the PACS REST API (`PACS_URL`, e.g. `http://127.0.0.1:8042`), without a trailing slash. */
  url: string;
  /** Base URL of its DICOMweb API: `PACS_DICOMWEB_ROOT` (default `/dicom-web`) resolved against `url`. */
  dicomWebUrl: string;
  /** HTTP Basic credentials (`PACS_USERNAME`, `PACS_PASSWORD`), when the PACS asks for them. */
  credentials?: { username: string; password: string };
  /** Shared secret of the webhook's HMAC-SHA256 signature (`PACS_WEBHOOK_SECRET`, at least 16 characters). */
  webhookSecret: string;
  /** Series processed at once (`PACS_CONCURRENCY`, default 2). */
  concurrency: number;
  /** How often the PACS change feed is read (`PACS_POLL_SECONDS`, default 10). */
  pollSeconds: number;
  /** Where the change-feed cursor, pending and processed series are kept (`LVSEG_PACS_STATE_DIR`, default `var/pacs`). */
  stateDir: string;
}

const MIN_SECRET_LENGTH = 16;

function fail(setting: string, message: string): never {
  throw new LvsegError('config', 'CONFIG_PACS_SETTING', message, { setting });
}

function numberSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, check: { min: number; max: number; integer?: boolean }): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < check.min || v > check.max || (check.integer && !Number.isInteger(v))) {
    fail(name, `${name} must be ${check.integer ? 'an integer' : 'a number'} in [${check.min}, ${check.max}], got ${JSON.stringify(raw)}`);
  }
  return v;
}

function httpUrl(name: string, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    fail(name, `${name} must be an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(name, `${name} must be an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  // Credentials in a URL end up in logs and error messages; they have their own variables.
  if (url.username || url.password) fail(name, `${name} must not contain credentials; set PACS_USERNAME and PACS_PASSWORD instead`);
  if (url.search || url.hash) fail(name, `${name} must not have a query or fragment`);
  return url;
}

const withoutTrailingSlash = (s: string): string => s.replace(/\/+$/, '');

/**
 * Reads and validates the PACS settings; undefined when `PACS_URL` is not set (the PACS integration is off).
 * Secrets are never echoed in error messages.
 */
export function loadPacsConfig(env: NodeJS.ProcessEnv = process.env): PacsConfig | undefined {
  const rawUrl = env.PACS_URL?.trim();
  if (!rawUrl) return undefined;
  const url = withoutTrailingSlash(httpUrl('PACS_URL', rawUrl).toString());

  const rootRaw = env.PACS_DICOMWEB_ROOT?.trim() || '/dicom-web';
  let dicomWebUrl: string;
  if (/^https?:\/\//i.test(rootRaw)) dicomWebUrl = withoutTrailingSlash(httpUrl('PACS_DICOMWEB_ROOT', rootRaw).toString());
  else if (rootRaw.startsWith('/') && !/[?#\s]/.test(rootRaw)) dicomWebUrl = url + withoutTrailingSlash(rootRaw);
  else fail('PACS_DICOMWEB_ROOT', `PACS_DICOMWEB_ROOT must be a path starting with "/" (relative to PACS_URL) or an http(s) URL, got ${JSON.stringify(rootRaw)}`);

  const username = env.PACS_USERNAME ?? '';
  const password = env.PACS_PASSWORD ?? '';
  if ((username === '') !== (password === '')) fail(username ? 'PACS_PASSWORD' : 'PACS_USERNAME', 'PACS_USERNAME and PACS_PASSWORD must be set together');
  if (username.includes(':')) fail('PACS_USERNAME', 'PACS_USERNAME must not contain ":" (HTTP Basic authentication)');

  const webhookSecret = env.PACS_WEBHOOK_SECRET ?? '';
  if (webhookSecret.length < MIN_SECRET_LENGTH) {
    fail(
      'PACS_WEBHOOK_SECRET',
      `PACS_WEBHOOK_SECRET is required when PACS_URL is set and must be at least ${MIN_SECRET_LENGTH} characters (e.g. \`openssl rand -hex 32\`); it is ${webhookSecret.length === 0 ? 'not set' : `${webhookSecret.length} characters`}`,
    );
  }

  const stateRaw = env.LVSEG_PACS_STATE_DIR?.trim() || 'var/pacs';
  return {
    url,
    dicomWebUrl,
    ...(username ? { credentials: { username, password } } : {}),
    webhookSecret,
    concurrency: numberSetting(env, 'PACS_CONCURRENCY', 2, { min: 1, max: 64, integer: true }),
    pollSeconds: numberSetting(env, 'PACS_POLL_SECONDS', 10, { min: 0.05, max: 3600 }),
    stateDir: isAbsolute(stateRaw) ? stateRaw : resolve(repoRoot(), stateRaw),
  };
}
