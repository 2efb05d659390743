import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLvsegError } from '@lvseg/common';
import { ApiKey, DEFAULT_KEY_SCOPES, SCOPES, isLoopbackHost, parseApiKeys, secretDigest } from './auth-config';
import { loadConfig } from './config';

/** The authentication part of the configuration, and the interface the service listens on. */
function authAndHostOf(env: NodeJS.ProcessEnv) {
  const c = loadConfig(env);
  return { auth: c.auth, ...(c.inference.host !== undefined ? { host: c.inference.host } : {}) };
}

const SECRET_A = 'a'.repeat(12) + 'Secret-1';
const SECRET_B = 'b'.repeat(12) + 'Secret+2';

function configError(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    expect(isLvsegError(e, 'config')).toBe(true);
    return e as Error;
  }
  throw new Error('expected a config error');
}

describe('parseApiKeys', () => {
  it('reads name:secret (default scopes) and name:secret:scopes, keeping only the secret’s digest', () => {
    const keys = parseApiKeys(` viewer:${SECRET_A} , admin:${SECRET_B}:lvseg:registry+lvseg:read`, 'LVSEG_API_KEYS');
    expect(keys.map((k) => [k.name, k.scopes])).toEqual([
      ['viewer', DEFAULT_KEY_SCOPES],
      ['admin', [SCOPES.registry, SCOPES.read]],
    ]);
    expect(keys[0].secretSha256.equals(secretDigest(SECRET_A))).toBe(true);
    expect(JSON.stringify(keys)).not.toContain(SECRET_A);
  });

  it('defaults to segment and read, never registry', () => {
    expect(DEFAULT_KEY_SCOPES).toEqual(['lvseg:segment', 'lvseg:read']);
  });

  it.each([
    ['no colon', 'justonestring1234567', /entry 1 is not name:secret/],
    ['a bad name', `bad name:${SECRET_A}`, /entry 1 is not name:secret/],
    ['a reserved name', `oidc:${SECRET_A}`, /reserved/],
    ['a short secret', 'ci:short', /at least 16/],
    ['a secret with a space', 'ci:0123456789 abcdefgh', /at least 16 printable characters/],
    ['an unknown scope', `ci:${SECRET_A}:lvseg:write`, /unknown scope "lvseg:write"/],
    ['a duplicate name', `ci:${SECRET_A},ci:${SECRET_B}`, /"ci" appears twice/],
    ['a duplicate secret', `ci:${SECRET_A},cd:${SECRET_A}`, /same secret/],
  ])('refuses %s without echoing the secret', (_what, text, message) => {
    const e = configError(() => parseApiKeys(text, 'LVSEG_API_KEYS'));
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain(SECRET_A);
    expect(e.message).not.toContain('0123456789 abcdefgh');
    expect(e.message).not.toContain('justonestring');
  });
});

describe('loadConfig: authentication', () => {
  it('with nothing configured is anonymous and listens on loopback only', () => {
    expect(authAndHostOf({})).toEqual({ auth: { apiKeys: [], anonymous: true, rateLimitPerMinute: 600 }, host: '127.0.0.1' });
  });

  it('lets anonymous access out of loopback only with LVSEG_ALLOW_ANONYMOUS=true', () => {
    expect(authAndHostOf({ LVSEG_ALLOW_ANONYMOUS: 'true' }).host).toBeUndefined();
    expect(authAndHostOf({ LVSEG_ALLOW_ANONYMOUS: 'true', LVSEG_HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(authAndHostOf({ LVSEG_HOST: '127.0.0.5' }).host).toBe('127.0.0.5');
    expect(configError(() => authAndHostOf({ LVSEG_HOST: '0.0.0.0' })).message).toMatch(/LVSEG_HOST=0.0.0.0 would let anyone .* LVSEG_ALLOW_ANONYMOUS=true/);
    expect(configError(() => authAndHostOf({ LVSEG_ALLOW_ANONYMOUS: 'yes' })).message).toMatch(/LVSEG_ALLOW_ANONYMOUS must be true or false/);
  });

  it('with keys listens everywhere (or on LVSEG_HOST) and refuses LVSEG_ALLOW_ANONYMOUS=true beside them', () => {
    const c = authAndHostOf({ LVSEG_API_KEYS: `ci:${SECRET_A}` });
    expect(c.auth.anonymous).toBe(false);
    expect(c.host).toBeUndefined();
    expect(authAndHostOf({ LVSEG_API_KEYS: `ci:${SECRET_A}`, LVSEG_HOST: '10.0.0.1' }).host).toBe('10.0.0.1');
    expect(configError(() => authAndHostOf({ LVSEG_API_KEYS: `ci:${SECRET_A}`, LVSEG_ALLOW_ANONYMOUS: 'true' })).message).toMatch(/contradicts/);
  });

  it('reads keys from a file when LVSEG_API_KEYS is a path (comments and blank lines ignored)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-keys-'));
    const file = join(dir, 'keys');
    writeFileSync(file, `# lvseg keys\n\nviewer:${SECRET_A}:lvseg:read\n  ci:${SECRET_B}\n`);
    const keys = authAndHostOf({ LVSEG_API_KEYS: file }).auth.apiKeys;
    expect(keys.map((k: ApiKey) => [k.name, k.scopes])).toEqual([
      ['viewer', ['lvseg:read']],
      ['ci', DEFAULT_KEY_SCOPES],
    ]);
    expect(configError(() => authAndHostOf({ LVSEG_API_KEYS: join(dir, 'missing') })).message).toMatch(/cannot be read \(ENOENT\)/);
    writeFileSync(file, '# nothing\n');
    expect(configError(() => authAndHostOf({ LVSEG_API_KEYS: file })).message).toMatch(/holds no keys/);
  });

  it('needs the three OIDC settings together, and the JWKS over https (http only to loopback)', () => {
    const oidc = { LVSEG_OIDC_ISSUER: 'https://idp.example/realms/h', LVSEG_OIDC_AUDIENCE: 'lvseg, lvseg-api', LVSEG_OIDC_JWKS_URL: 'https://idp.example/certs' };
    expect(authAndHostOf(oidc).auth).toEqual({
      apiKeys: [],
      anonymous: false,
      rateLimitPerMinute: 600,
      oidc: { issuer: 'https://idp.example/realms/h', audience: ['lvseg', 'lvseg-api'], jwksUrl: 'https://idp.example/certs' },
    });
    expect(authAndHostOf({ ...oidc, LVSEG_OIDC_JWKS_URL: 'http://127.0.0.1:9999/jwks' }).auth.oidc?.jwksUrl).toBe('http://127.0.0.1:9999/jwks');
    expect(configError(() => authAndHostOf({ ...oidc, LVSEG_OIDC_JWKS_URL: 'http://idp.example/certs' })).message).toMatch(/must be https/);
    expect(configError(() => authAndHostOf({ LVSEG_OIDC_ISSUER: 'https://idp.example' })).message).toMatch(/LVSEG_OIDC_AUDIENCE and LVSEG_OIDC_JWKS_URL not set/);
  });

  it('reads the per-key rate limit (0 = none)', () => {
    expect(authAndHostOf({ LVSEG_RATE_LIMIT_PER_MINUTE: '0' }).auth.rateLimitPerMinute).toBe(0);
    expect(authAndHostOf({ LVSEG_RATE_LIMIT_PER_MINUTE: '120' }).auth.rateLimitPerMinute).toBe(120);
    expect(configError(() => authAndHostOf({ LVSEG_RATE_LIMIT_PER_MINUTE: '1.5' })).message).toMatch(/LVSEG_RATE_LIMIT_PER_MINUTE must be an integer/);
  });

  it('knows loopback hosts', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost', '[::1]'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '10.0.0.1', '::', 'example.com'].some(isLoopbackHost)).toBe(false);
  });
});
