import { refusalOf } from '@lvseg/common';
import { loadConfig } from '@lvseg/config';
import { Authenticator } from './authenticator';
import { TestIdentityProvider, startTestIdentityProvider } from './testing/identity-provider';

const VIEWER = 'viewer-secret-0123456789';
const ADMIN = 'admin-secret-0123456789ab';

const refusal = refusalOf;

describe('Authenticator with API keys', () => {
  const auth = new Authenticator(loadConfig({ LVSEG_API_KEYS: `viewer:${VIEWER}:lvseg:read,admin:${ADMIN}:lvseg:read+lvseg:segment+lvseg:registry` }).auth);

  it('names the key the bearer secret belongs to, with its scopes', async () => {
    await expect(auth.authenticate(`Bearer ${VIEWER}`)).resolves.toEqual({ kind: 'api-key', name: 'viewer', scopes: ['lvseg:read'] });
    await expect(auth.authenticate(`bearer  ${ADMIN} `)).resolves.toMatchObject({ name: 'admin', scopes: ['lvseg:read', 'lvseg:segment', 'lvseg:registry'] });
  });

  it.each([
    ['no header', 'AUTH_REQUIRED', undefined],
    ['an empty header', 'AUTH_REQUIRED', ''],
    ['another scheme', 'AUTH_SCHEME', `Basic ${Buffer.from(`viewer:${VIEWER}`).toString('base64')}`],
    ['a bare secret', 'AUTH_SCHEME', VIEWER],
    ['an unknown secret', 'AUTH_INVALID', 'Bearer not-a-key-0123456789'],
    ['a prefix of a secret', 'AUTH_INVALID', `Bearer ${VIEWER.slice(0, -1)}`],
    ['a secret with more after it', 'AUTH_INVALID', `Bearer ${VIEWER}x`],
  ])('refuses %s with 401 %s, never echoing the secret', async (_what, code, header) => {
    const e = await refusal(auth.authenticate(header));
    expect(e).toMatchObject({ kind: 'unauthenticated', code });
    expect(e.message).not.toContain(VIEWER.slice(0, 10));
  });

  it('lets everyone in, with every scope, when nothing is configured', async () => {
    const open = new Authenticator(loadConfig({}).auth);
    await expect(open.authenticate(undefined)).resolves.toEqual({ kind: 'anonymous', name: 'anonymous', scopes: ['lvseg:segment', 'lvseg:read', 'lvseg:registry'] });
  });
});

describe('Authenticator with OIDC (a real JWKS server on loopback)', () => {
  let idp: TestIdentityProvider;
  let auth: Authenticator;

  beforeAll(async () => {
    idp = await startTestIdentityProvider();
    auth = new Authenticator(
      loadConfig({ LVSEG_OIDC_ISSUER: idp.issuer, LVSEG_OIDC_AUDIENCE: 'lvseg', LVSEG_OIDC_JWKS_URL: idp.jwksUrl, LVSEG_API_KEYS: `ci:${ADMIN}` }).auth,
    );
  });
  afterAll(() => idp?.close());

  it('accepts a valid token, with the lvseg scopes of its scope and scp claims', async () => {
    const token = await idp.sign({ sub: 'dr-a', scope: 'openid lvseg:read profile' });
    await expect(auth.authenticate(`Bearer ${token}`)).resolves.toEqual({ kind: 'oidc', name: 'oidc', subject: 'dr-a', scopes: ['lvseg:read'] });
    const scp = await idp.sign({ sub: 'svc', scp: ['lvseg:segment', 'lvseg:registry', 'other'] });
    await expect(auth.authenticate(`Bearer ${scp}`)).resolves.toMatchObject({ scopes: ['lvseg:segment', 'lvseg:registry'] });
    // API keys still work beside OIDC.
    await expect(auth.authenticate(`Bearer ${ADMIN}`)).resolves.toMatchObject({ kind: 'api-key', name: 'ci' });
  });

  it.each<[string, () => Promise<string>, string, RegExp]>([
    ['a wrong audience', () => idp.sign({ sub: 'x' }, { audience: 'another-app' }), 'AUTH_TOKEN_INVALID', /"aud"/],
    ['a wrong issuer', () => idp.sign({ sub: 'x' }, { issuer: 'https://evil.example' }), 'AUTH_TOKEN_INVALID', /"iss"/],
    ['an expired token', () => idp.sign({ sub: 'x' }, { expiresAt: Math.floor(Date.now() / 1000) - 3600 }), 'AUTH_TOKEN_EXPIRED', /expired/],
    ['a key the provider does not publish', () => idp.sign({ sub: 'x' }, { unpublishedKey: true }), 'AUTH_TOKEN_INVALID', /signature/],
    ['no subject', () => idp.sign({}), 'AUTH_TOKEN_INVALID', /"sub"/],
  ])('refuses %s with 401', async (_what, token, code, message) => {
    const e = await refusal(auth.authenticate(`Bearer ${await token()}`));
    expect(e).toMatchObject({ kind: 'unauthenticated', code, details: { bearerError: 'invalid_token' } });
    expect(e.message).toMatch(message);
  });

  it('refuses a tampered payload (signature no longer matches)', async () => {
    const [h, p, s] = (await idp.sign({ sub: 'x', scope: 'lvseg:read' })).split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), scope: 'lvseg:registry' })).toString('base64url');
    expect(await refusal(auth.authenticate(`Bearer ${h}.${forged}.${s}`))).toMatchObject({ code: 'AUTH_TOKEN_INVALID' });
  });

  it('answers 503 (not 401) when the provider’s keys cannot be fetched', async () => {
    const down = new Authenticator(loadConfig({ LVSEG_OIDC_ISSUER: idp.issuer, LVSEG_OIDC_AUDIENCE: 'lvseg', LVSEG_OIDC_JWKS_URL: 'http://127.0.0.1:1/jwks' }).auth);
    const e = await refusal(down.authenticate(`Bearer ${await idp.sign({ sub: 'x' })}`));
    expect(e).toMatchObject({ kind: 'unavailable', code: 'AUTH_IDP_UNAVAILABLE' });
  });
});
