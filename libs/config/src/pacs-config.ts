import { LvsegError } from '@lvseg/common';

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

function fail(setting: string, code: string, message: string): never {
  throw new LvsegError('config', code, message, { setting });
}

/** The variables the PACS settings are made of, each already checked on its own (see schema.ts). */
export interface PacsVariables {
  PACS_URL?: string;
  PACS_DICOMWEB_ROOT: string;
  PACS_USERNAME?: string;
  PACS_PASSWORD?: string;
  PACS_WEBHOOK_SECRET?: string;
  PACS_CONCURRENCY: number;
  PACS_POLL_SECONDS: number;
  LVSEG_PACS_STATE_DIR: string;
}

/** HTTP Basic credentials for the PACS (`PACS_USERNAME`, `PACS_PASSWORD`: both or neither). */
export function pacsCredentials(e: Pick<PacsVariables, 'PACS_USERNAME' | 'PACS_PASSWORD'>): { username: string; password: string } | undefined {
  const username = e.PACS_USERNAME ?? '';
  const password = e.PACS_PASSWORD ?? '';
  if ((username === '') !== (password === '')) fail(username ? 'PACS_PASSWORD' : 'PACS_USERNAME', 'CONFIG_PACS_CREDENTIALS', 'PACS_USERNAME and PACS_PASSWORD must be set together');
  if (username.includes(':')) fail('PACS_USERNAME', 'CONFIG_PACS_CREDENTIALS', 'PACS_USERNAME must not contain ":" (HTTP Basic authentication)');
  return username ? { username, password } : undefined;
}

/**
 * The PACS settings; undefined when `PACS_URL` is not set (the PACS integration is off). Secrets are never echoed in
 * error messages.
 */
export function pacsSettings(e: PacsVariables): PacsConfig | undefined {
  const url = e.PACS_URL;
  if (!url) return undefined;
  const dicomWebUrl = e.PACS_DICOMWEB_ROOT.startsWith('/') ? url + e.PACS_DICOMWEB_ROOT : e.PACS_DICOMWEB_ROOT;
  const credentials = pacsCredentials(e);
  const webhookSecret = e.PACS_WEBHOOK_SECRET ?? '';
  if (webhookSecret.length < MIN_SECRET_LENGTH) {
    fail(
      'PACS_WEBHOOK_SECRET',
      'CONFIG_PACS_SETTING',
      `PACS_WEBHOOK_SECRET is required when PACS_URL is set and must be at least ${MIN_SECRET_LENGTH} characters (e.g. \`openssl rand -hex 32\`); it is ${webhookSecret.length === 0 ? 'not set' : `${webhookSecret.length} characters`}`,
    );
  }
  return {
    url,
    dicomWebUrl,
    ...(credentials ? { credentials } : {}),
    webhookSecret,
    concurrency: e.PACS_CONCURRENCY,
    pollSeconds: e.PACS_POLL_SECONDS,
    stateDir: e.LVSEG_PACS_STATE_DIR,
  };
}
