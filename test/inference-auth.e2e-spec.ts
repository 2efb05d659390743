/**
 * Authentication and authorisation end to end: the real app with API keys and an OIDC provider (a real JWKS server on
 * loopback, tokens signed with jose), every documented route refused without a credential, each scope's routes
 * (segment, read, registry) answering 401 / 403 / 200, and no secret or token in the log or the metrics. Then the real
 * app listening as main.ts makes it: without authentication on loopback only (checked by connecting to this machine's
 * other address), and main.ts itself (a child process) refusing to start on another interface unless told
 * LVSEG_ALLOW_ANONYMOUS=true.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { repoRoot } from '@lvseg/common';
import { initBackend } from '@lvseg/model';
import { ModelCard, ModelStore, openModelStore } from '@lvseg/model-store';
import { loadConfig } from '@lvseg/config';
import { TestIdentityProvider, startTestIdentityProvider } from '../services/inference/src/auth/testing/identity-provider';
import { createInferenceApp } from '../services/inference/src/create-app';
import { freePort } from '../services/inference/bench/support/free-port';
import { listenAsConfigured } from '../services/inference/src/listen';
import { captureLogs } from './support/log-capture';
import { startInferenceApp, RunningInferenceApp } from './support/inference-app';
import { publishSeededModel } from './support/models';
import { describeWithSunnybrook, readDicom, scd401frame100 } from './support/sunnybrook';

const KEYS = {
  segmenter: 'seg-0f3c9a1b7d2e4c5a8b6f',
  reader: 'read-7a1e2b3c4d5e6f708192',
  admin: 'admin-9c8b7a6f5e4d3c2b1a00',
  // Written without scopes: the default (segment + read), never registry.
  plain: 'plain-1b2c3d4e5f60718293a4',
};
const LVSEG_API_KEYS = `segmenter:${KEYS.segmenter}:lvseg:segment,reader:${KEYS.reader}:lvseg:read,admin:${KEYS.admin}:lvseg:registry+lvseg:read,plain:${KEYS.plain}`;
const bearer = (secret: string) => ({ Authorization: `Bearer ${secret}` });

describeWithSunnybrook('inference API with API keys and OIDC (real app, real JWKS server)', () => {
  let idp: TestIdentityProvider;
  let store: ModelStore;
  let v1: ModelCard;
  let v2: ModelCard;
  let app: RunningInferenceApp;
  const tokens: string[] = [];
  const token = async (claims: Record<string, unknown>, opts?: Parameters<TestIdentityProvider['sign']>[1]) => {
    const t = await idp.sign(claims, opts);
    tokens.push(t);
    return t;
  };
  const dicom = () => readDicom(scd401frame100());
  const segment = (headers: Record<string, string>) => request(app.url).post('/segment').set('Content-Type', 'application/dicom').set(headers).send(dicom());

  beforeAll(async () => {
    await initBackend();
    idp = await startTestIdentityProvider();
    store = openModelStore(`file://${mkdtempSync(join(tmpdir(), 'lvseg-auth-'))}`);
    v1 = await publishSeededModel(store, { seed: 1 });
    v2 = await publishSeededModel(store, { seed: 2 });
    await store.setAlias('production', v1.version);
    app = await startInferenceApp(store, {
      LVSEG_ENGINE: 'tfjs',
      LVSEG_API_KEYS,
      LVSEG_OIDC_ISSUER: idp.issuer,
      LVSEG_OIDC_AUDIENCE: 'lvseg',
      LVSEG_OIDC_JWKS_URL: idp.jwksUrl,
    });
    expect(app.config.auth.anonymous).toBe(false);
  });

  afterAll(async () => {
    await app?.close();
    await idp?.close();
  });

  it('answers the probes, /docs and /docs-json without a credential; /docs describes the bearer scheme', async () => {
    await request(app.url).get('/health/live').expect(200, { status: 'live' });
    await request(app.url).get('/health/ready').expect(200);
    await request(app.url).get('/docs/').expect(200);
    const doc = (await request(app.url).get('/docs-json').expect(200)).body;
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/segment'].post.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/health/live'].get.security).toBeUndefined();
  });

  it('refuses every documented route but the probes with 401 in the error shape when no credential (or a wrong one) is sent', async () => {
    const doc = (await request(app.url).get('/docs-json').expect(200)).body as { paths: Record<string, Record<string, unknown>> };
    const checked: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (path.startsWith('/health/')) continue;
      const url = path.replace(/\{[^}]+\}/g, 'x1');
      for (const method of Object.keys(ops) as Array<'get' | 'post'>) {
        for (const headers of [{}, bearer('not-a-key-at-all-0000'), { Authorization: `Basic ${Buffer.from(`admin:${KEYS.admin}`).toString('base64')}` }]) {
          const res = await request(app.url)[method](url).set(headers);
          expect([`${method} ${url}`, res.status]).toEqual([`${method} ${url}`, 401]);
          expect(res.body.error.code).toMatch(/^AUTH_(REQUIRED|INVALID|SCHEME)$/);
          expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="lvseg"/);
        }
        checked.push(`${method.toUpperCase()} ${path}`);
      }
    }
    expect(checked).toEqual(expect.arrayContaining(['POST /segment', 'POST /segment/series', 'GET /models', 'GET /runs', 'GET /metrics', 'POST /models/aliases/{alias}/promote']));
  });

  it('segment scope: POST /segment needs lvseg:segment (key or token)', async () => {
    const none = await segment({}).expect(401);
    expect(none.body).toEqual({ error: { code: 'AUTH_REQUIRED', message: expect.stringMatching(/Authorization: Bearer <API key or OIDC access token>/) } });
    const reader = await segment(bearer(KEYS.reader)).expect(403);
    expect(reader.body.error).toEqual({ code: 'AUTH_SCOPE_MISSING', message: 'this route needs the scope lvseg:segment; the key "reader" has lvseg:read' });
    expect(reader.headers['www-authenticate']).toBe('Bearer realm="lvseg", error="insufficient_scope", scope="lvseg:segment"');
    expect((await segment(bearer(KEYS.segmenter)).expect(200)).body.model.version).toBe(v1.version);
    await segment(bearer(KEYS.plain)).expect(200);
    await segment(bearer(await token({ sub: 'dr-a', scope: 'openid lvseg:segment' }))).expect(200);
    const readOnly = await segment(bearer(await token({ sub: 'dr-b', scope: 'lvseg:read' }))).expect(403);
    expect(readOnly.body.error.message).toBe('this route needs the scope lvseg:segment; the token has lvseg:read');
  });

  it('read scope: models, runs and metrics need lvseg:read', async () => {
    for (const path of ['/models', `/models/${v1.version}`, '/runs', '/metrics']) {
      await request(app.url).get(path).expect(401);
      expect((await request(app.url).get(path).set(bearer(KEYS.segmenter)).expect(403)).body.error.code).toBe('AUTH_SCOPE_MISSING');
      await request(app.url).get(path).set(bearer(KEYS.reader)).expect(200);
      await request(app.url).get(path).set(bearer(await token({ sub: 'dr-a', scp: ['lvseg:read'] }))).expect(200);
    }
  });

  it('registry scope: promote and rollback need lvseg:registry, and record who', async () => {
    const promote = `/models/aliases/production/promote?version=${v2.version}&force=true&reason=e2e`;
    await request(app.url).post(promote).expect(401);
    for (const weaker of [KEYS.reader, KEYS.plain, KEYS.segmenter]) {
      expect((await request(app.url).post(promote).set(bearer(weaker)).expect(403)).body.error.message).toMatch(/needs the scope lvseg:registry/);
    }
    await request(app.url).post('/models/aliases/production/rollback').set(bearer(await token({ sub: 'dr-a', scope: 'lvseg:read lvseg:segment' }))).expect(403);
    expect(await store.resolve('production')).toBe(v1.version);

    const promoted = await request(app.url).post(promote).set(bearer(KEYS.admin)).expect(200);
    expect(promoted.body).toMatchObject({ alias: 'production', previous: v1.version, current: v2.version });
    expect((await request(app.url).get('/health/ready').expect(200)).body.version).toBe(v2.version);

    const rolledBack = await request(app.url).post('/models/aliases/production/rollback').set(bearer(await token({ sub: 'dr-admin', scope: 'lvseg:registry' }))).expect(200);
    expect(rolledBack.body).toMatchObject({ alias: 'production', previous: v2.version, current: v1.version });
    const history = await store.aliasHistory('production');
    expect(history.slice(-2).map((h) => [h.action, h.by])).toEqual([
      ['set', 'admin'],
      ['rollback', 'oidc:dr-admin'],
    ]);
  });

  it('refuses tokens with a wrong audience or issuer, expired, or signed with another key (401, never 5xx)', async () => {
    const cases: Array<[string, string, string]> = [
      ['audience', await token({ sub: 'x', scope: 'lvseg:read' }, { audience: 'other-app' }), 'AUTH_TOKEN_INVALID'],
      ['issuer', await token({ sub: 'x', scope: 'lvseg:read' }, { issuer: 'https://idp.invalid/realms/x' }), 'AUTH_TOKEN_INVALID'],
      ['expired', await token({ sub: 'x', scope: 'lvseg:read' }, { expiresAt: Math.floor(Date.now() / 1000) - 600 }), 'AUTH_TOKEN_EXPIRED'],
      ['signature', await token({ sub: 'x', scope: 'lvseg:read' }, { unpublishedKey: true }), 'AUTH_TOKEN_INVALID'],
    ];
    for (const [what, t, code] of cases) {
      const res = await request(app.url).get('/models').set(bearer(t));
      expect([what, res.status, res.body.error?.code]).toEqual([what, 401, code]);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="lvseg", error="invalid_token"');
    }
    expect(idp.jwksFetches()).toBeGreaterThanOrEqual(1);
  });

  it('logs and counts the key’s name, never a secret or a token', async () => {
    const lines = app.logLines().filter((l) => l.event === 'request');
    const principals = new Set(lines.map((l) => l.principal).filter(Boolean));
    expect([...principals].sort()).toEqual(['admin', 'oidc', 'plain', 'reader', 'segmenter']);
    expect(lines.find((l) => l.principal === 'oidc' && l.route === '/segment' && l.status === 200)).toMatchObject({ subject: 'dr-a' });
    const metrics = (await request(app.url).get('/metrics').set(bearer(KEYS.reader)).expect(200)).text;
    expect(metrics).toMatch(/lvseg_auth_requests_total\{principal="segmenter",outcome="allowed"\} [1-9]/);
    expect(metrics).toMatch(/lvseg_auth_requests_total\{principal="reader",outcome="forbidden"\} [1-9]/);
    expect(metrics).toMatch(/lvseg_auth_requests_total\{principal="none",outcome="unauthenticated"\} [1-9]/);
    const log = app.logText();
    expect(tokens.length).toBeGreaterThan(5);
    for (const secret of [...Object.values(KEYS), ...tokens.map((t) => t.split('.')[2])]) {
      expect(log.includes(secret)).toBe(false);
      expect(metrics.includes(secret)).toBe(false);
    }
  });
});

/** This machine's first non-loopback IPv4 address, if it has one. */
function externalAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}

interface MainProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** `services/inference/src/main.ts` as production runs it (through tsx), on an empty model store. */
function startMain(env: Record<string, string>): MainProcess {
  const root = mkdtempSync(join(tmpdir(), 'lvseg-auth-main-'));
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot(), 'services/inference/src/main.ts')], {
    cwd: repoRoot(),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? root, LVSEG_MODEL_STORE: `file://${root}/models`, LVSEG_SHIPPED_MODELS: join(root, 'none'), LVSEG_ENGINE: 'tfjs', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** The real app listening as main.ts makes it (listenAsConfigured), with the configuration `env` gives. */
async function startListening(env: Record<string, string>) {
  const root = mkdtempSync(join(tmpdir(), 'lvseg-auth-listen-'));
  const config = loadConfig({ LVSEG_MODEL_STORE: `file://${root}/models`, LVSEG_SHIPPED_MODELS: join(root, 'none'), PORT: String(await freePort()), LVSEG_ENGINE: 'tfjs', ...env });
  const { logger, logLines, logText } = captureLogs('info');
  const app = await createInferenceApp({ config, logger });
  const bound = await listenAsConfigured(app, config, logger);
  return { app, port: bound.port, logLines, logText };
}

describe('per-key rate limit', () => {
  it('answers 429 with Retry-After once a key is over LVSEG_RATE_LIMIT_PER_MINUTE; other keys and the probes go on', async () => {
    const { app, port } = await startListening({ LVSEG_API_KEYS, LVSEG_RATE_LIMIT_PER_MINUTE: '3', LVSEG_HOST: '127.0.0.1' });
    const url = `http://127.0.0.1:${port}`;
    try {
      for (let i = 0; i < 3; i++) await request(url).get('/models').set(bearer(KEYS.reader)).expect(200);
      const limited = await request(url).get('/models').set(bearer(KEYS.reader)).expect(429);
      expect(limited.body.error).toEqual({ code: 'RATE_LIMITED', message: 'over 3 requests a minute for this key; retry later' });
      // 3 a minute: one more in 20 s.
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(19);
      expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(20);
      await request(url).get('/models').set(bearer(KEYS.admin)).expect(200);
      await request(url).get('/health/live').expect(200);
      const metrics = (await request(url).get('/metrics').set(bearer(KEYS.admin)).expect(200)).text;
      expect(metrics).toMatch(/lvseg_auth_requests_total\{principal="reader",outcome="rate-limited"\} 1/);
    } finally {
      await app.close();
    }
  });
});

describe('where main.ts listens', () => {
  const external = externalAddress();
  if (!external) {
    // eslint-disable-next-line no-console
    console.warn('this machine has no non-loopback IPv4 address: the "not reachable from outside" checks cannot run');
    if (process.env.CI === 'true') it('needs a non-loopback address under CI', () => expect(external).toBeDefined());
  }
  const withExternal = external ? it : it.skip;

  withExternal('with no authentication configured: loopback only, and it says so', async () => {
    const { app, port, logLines } = await startListening({});
    try {
      expect(logLines().find((l) => l.event === 'listening')).toMatchObject({ host: '127.0.0.1', auth: { apiKeys: [], oidc: false, anonymous: true } });
      expect(logLines().find((l) => l.event === 'auth.anonymous')?.msg).toBe('no authentication configured (LVSEG_API_KEYS, LVSEG_OIDC_*): answering on loopback only');
      await request(`http://127.0.0.1:${port}`).get('/health/live').expect(200);
      await request(`http://127.0.0.1:${port}`).get('/models').expect(200);
      await expect(request(`http://${external}:${port}`).get('/health/live')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      await app.close();
    }
  });

  it('refuses to start on another interface without authentication unless LVSEG_ALLOW_ANONYMOUS=true', async () => {
    const main = startMain({ PORT: String(await freePort()), LVSEG_HOST: '0.0.0.0' });
    expect(await main.exited).toBe(1);
    expect(main.output()).toContain('lvseg-inference: CONFIG_AUTH: LVSEG_HOST=0.0.0.0 would let anyone who reaches it use the API without credentials');
  });

  it('stops at once with PORT_IN_USE, naming PORT, when the port is taken (before loading any model)', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const main = startMain({ PORT: String(port), LVSEG_HOST: '127.0.0.1' });
      expect(await main.exited).toBe(1);
      expect(main.output()).toContain(`lvseg-inference: PORT_IN_USE: port ${port} is already in use on 127.0.0.1; stop what holds it or set PORT to another port`);
      expect(main.output()).not.toContain('model.loaded');
    } finally {
      holder.close();
    }
  });

  withExternal('with API keys: every interface, the probes open, the API closed, and no secret in the start-up log', async () => {
    const { app, port, logLines, logText } = await startListening({ LVSEG_API_KEYS });
    try {
      expect(logLines().find((l) => l.event === 'listening')).toMatchObject({ host: 'all interfaces', auth: { apiKeys: ['segmenter', 'reader', 'admin', 'plain'], anonymous: false } });
      await request(`http://${external}:${port}`).get('/health/live').expect(200);
      await request(`http://${external}:${port}`).get('/models').expect(401);
      await request(`http://${external}:${port}`).get('/models').set(bearer(KEYS.reader)).expect(200);
      for (const secret of Object.values(KEYS)) expect(logText()).not.toContain(secret);
    } finally {
      await app.close();
    }
  });
});
