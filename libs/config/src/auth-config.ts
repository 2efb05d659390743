import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { LvsegError } from '@lvseg/common';

/**
 * The rights a caller can hold. The same names are used for API keys (LVSEG_API_KEYS) and for the `scope`/`scp`
 * claim of OIDC tokens, so an identity provider can grant them as ordinary OAuth scopes.
 */
export const SCOPES = {
  /** POST /segment, POST /segment/series. */
  segment: 'lvseg:segment',
  /** GET /models…, /runs…, /jobs/:id, /metrics. */
  read: 'lvseg:read',
  /** Changing the model registry (pointing an alias at a version, rolling it back). */
  registry: 'lvseg:registry',
} as const;
export type Scope = (typeof SCOPES)[keyof typeof SCOPES];
export const ALL_SCOPES: readonly Scope[] = [SCOPES.segment, SCOPES.read, SCOPES.registry];
/** What a key written without scopes (`name:secret`) may do: segment and read, never change the registry. */
export const DEFAULT_KEY_SCOPES: readonly Scope[] = [SCOPES.segment, SCOPES.read];

/** One API key. Only the SHA-256 of its secret is kept, so the secret itself cannot end up in a log or a dump. */
export interface ApiKey {
  /** Shown in the request log and as the `principal` metrics label. */
  name: string;
  secretSha256: Buffer;
  scopes: readonly Scope[];
}

export interface OidcSettings {
  /** Expected `iss` (`LVSEG_OIDC_ISSUER`). */
  issuer: string;
  /** Accepted `aud` values (`LVSEG_OIDC_AUDIENCE`, comma-separated). */
  audience: string[];
  /** The provider's JSON Web Key Set (`LVSEG_OIDC_JWKS_URL`; https, or http to a loopback address). */
  jwksUrl: string;
}

export interface AuthSettings {
  /** From `LVSEG_API_KEYS`; empty when not set. */
  apiKeys: ApiKey[];
  /** Set when `LVSEG_OIDC_ISSUER`, `LVSEG_OIDC_AUDIENCE` and `LVSEG_OIDC_JWKS_URL` are. */
  oidc?: OidcSettings;
  /** True when neither is configured: every request is let in (and the service listens on loopback only, unless LVSEG_ALLOW_ANONYMOUS=true). */
  anonymous: boolean;
  /** Requests per minute allowed to each API key and each OIDC subject (`LVSEG_RATE_LIMIT_PER_MINUTE`, default 600; 0 = no limit). */
  rateLimitPerMinute: number;
}

/** Names that stand for something other than a key in logs and metrics. */
const RESERVED_NAMES = new Set(['anonymous', 'oidc', 'none']);
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
// Printable ASCII without whitespace, ':' and ',' (the separators of LVSEG_API_KEYS).
const KEY_SECRET = /^[\x21-\x2b\x2d-\x39\x3b-\x7e]+$/;
const MIN_SECRET_LENGTH = 16;
const MAX_KEYS = 100;

function configError(message: string, setting?: string): LvsegError {
  return new LvsegError('config', 'CONFIG_AUTH', message, setting ? { setting } : undefined);
}

/** SHA-256 of a bearer token or secret (what keys are compared by, in constant time). */
export function secretDigest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/**
 * Parses API keys: entries `name:secret` or `name:secret:scope+scope`, separated by commas or new lines; blank lines
 * and lines starting with `#` are ignored. Messages name the entry by position or name, never by its secret.
 */
export function parseApiKeys(text: string, source: string): ApiKey[] {
  const entries = text
    .split(/[\n,]/)
    .map((e) => e.trim())
    .filter((e) => e !== '' && !e.startsWith('#'));
  if (entries.length > MAX_KEYS) throw configError(`${source} holds ${entries.length} keys; at most ${MAX_KEYS} (each is a metrics label)`);
  const keys: ApiKey[] = [];
  const names = new Set<string>();
  const digests = new Set<string>();
  entries.forEach((entry, i) => {
    const first = entry.indexOf(':');
    const second = first < 0 ? -1 : entry.indexOf(':', first + 1);
    const name = first < 0 ? '' : entry.slice(0, first);
    if (first < 0 || !KEY_NAME.test(name)) {
      throw configError(`${source}: entry ${i + 1} is not name:secret[:scopes] with a name of letters, digits, '.', '_' or '-' (at most 64)`);
    }
    if (RESERVED_NAMES.has(name.toLowerCase())) throw configError(`${source}: key name "${name}" is reserved; pick another`);
    if (names.has(name)) throw configError(`${source}: key name "${name}" appears twice`);
    const secret = second < 0 ? entry.slice(first + 1) : entry.slice(first + 1, second);
    if (secret.length < MIN_SECRET_LENGTH || !KEY_SECRET.test(secret)) {
      throw configError(
        `${source}: the secret of key "${name}" must be at least ${MIN_SECRET_LENGTH} printable characters without spaces, ':' or ',' (e.g. \`openssl rand -hex 32\`)`,
      );
    }
    const scopes = second < 0 ? [...DEFAULT_KEY_SCOPES] : entry.slice(second + 1).split('+').map((s) => s.trim());
    for (const s of scopes) {
      if (!(ALL_SCOPES as readonly string[]).includes(s)) {
        throw configError(`${source}: key "${name}" has unknown scope ${JSON.stringify(s)}; scopes are ${ALL_SCOPES.join(', ')}, joined with '+'`);
      }
    }
    const digest = secretDigest(secret);
    if (digests.has(digest.toString('hex'))) throw configError(`${source}: key "${name}" has the same secret as another key`);
    names.add(name);
    digests.add(digest.toString('hex'));
    keys.push({ name, secretSha256: digest, scopes: [...new Set(scopes)] as Scope[] });
  });
  return keys;
}

/**
 * Reads `LVSEG_API_KEYS`: either the keys themselves or, when it starts with `/`, `./` or `../`, the path of a file
 * holding them (a key name cannot start with `/` or `.`, so the two never mix up).
 */
export function readApiKeys(value: string): ApiKey[] {
  const raw = value.trim();
  if (/^(\/|\.\.?\/)/.test(raw)) {
    const path = isAbsolute(raw) ? raw : resolve(raw);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw configError(`LVSEG_API_KEYS names the file ${path}, which cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const keys = parseApiKeys(text, `LVSEG_API_KEYS file ${path}`);
    if (keys.length === 0) throw configError(`the LVSEG_API_KEYS file ${path} holds no keys`);
    return keys;
  }
  return parseApiKeys(raw, 'LVSEG_API_KEYS');
}

const LOOPBACK_HOSTS = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$/i;

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.test(host);
}

/** The variables the authentication settings are made of, each already checked on its own (see schema.ts). */
export interface AuthVariables {
  LVSEG_API_KEYS?: ApiKey[];
  LVSEG_OIDC_ISSUER?: string;
  LVSEG_OIDC_AUDIENCE: string[];
  LVSEG_OIDC_JWKS_URL?: string;
  LVSEG_ALLOW_ANONYMOUS: boolean;
  LVSEG_HOST?: string;
  LVSEG_RATE_LIMIT_PER_MINUTE: number;
}

function oidcSettings(e: AuthVariables): OidcSettings | undefined {
  const issuer = e.LVSEG_OIDC_ISSUER ?? '';
  const audience = e.LVSEG_OIDC_AUDIENCE;
  const jwksUrl = e.LVSEG_OIDC_JWKS_URL ?? '';
  if (!issuer && audience.length === 0 && !jwksUrl) return undefined;
  const missing = [!issuer && 'LVSEG_OIDC_ISSUER', audience.length === 0 && 'LVSEG_OIDC_AUDIENCE', !jwksUrl && 'LVSEG_OIDC_JWKS_URL'].filter(Boolean);
  if (missing.length > 0) throw configError(`OIDC needs LVSEG_OIDC_ISSUER, LVSEG_OIDC_AUDIENCE and LVSEG_OIDC_JWKS_URL together; ${missing.join(' and ')} not set`, missing[0] as string);
  return { issuer, audience, jwksUrl };
}

/** The authentication settings and the interface to listen on (`host`, undefined = every interface). */
export function authSettings(e: AuthVariables): { auth: AuthSettings; host?: string } {
  const apiKeys = e.LVSEG_API_KEYS ?? [];
  const oidc = oidcSettings(e);
  const anonymous = apiKeys.length === 0 && !oidc;
  const allowAnonymous = e.LVSEG_ALLOW_ANONYMOUS;
  const host = e.LVSEG_HOST;
  if (!anonymous && allowAnonymous) {
    throw configError('LVSEG_ALLOW_ANONYMOUS=true contradicts LVSEG_API_KEYS / LVSEG_OIDC_*: with authentication configured every request needs a credential; unset one of them', 'LVSEG_ALLOW_ANONYMOUS');
  }
  if (anonymous && !allowAnonymous && host !== undefined && !isLoopbackHost(host)) {
    throw configError(
      `LVSEG_HOST=${host} would let anyone who reaches it use the API without credentials: configure LVSEG_API_KEYS or LVSEG_OIDC_*, or set LVSEG_ALLOW_ANONYMOUS=true to mean it`,
      'LVSEG_HOST',
    );
  }
  const auth: AuthSettings = { apiKeys, ...(oidc ? { oidc } : {}), anonymous, rateLimitPerMinute: e.LVSEG_RATE_LIMIT_PER_MINUTE };
  // Without authentication the service answers on loopback only, unless told otherwise explicitly.
  if (anonymous && !allowAnonymous) return { auth, host: host ?? '127.0.0.1' };
  return { auth, ...(host !== undefined ? { host } : {}) };
}
