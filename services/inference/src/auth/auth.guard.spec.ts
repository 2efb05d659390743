import 'reflect-metadata';
import { Controller, ExecutionContext, Get } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import { refusalOf } from '@lvseg/common';
import { SCOPES, loadConfig } from '@lvseg/config';
import { HealthController } from '../health/health.controller';
import { MetricsController } from '../metrics/metrics.controller';
import { MetricsService } from '../metrics/metrics.service';
import { ModelsController } from '../models/models.controller';
import { RegistryController } from '../models/registry.controller';
import { PacsJobsController } from '../pacs/jobs/pacs-jobs.controller';
import { PacsWebhookController } from '../pacs/webhook/pacs-webhook.controller';
import { RunsController } from '../runs/runs.controller';
import { SegmentController } from '../segment/segment.controller';
import { SegmentSeriesController } from '../segment/segment-series.controller';
import { AuthGuard } from './auth.guard';
import { Authenticator } from './authenticator';
import { PublicRoute, ROUTE_ACCESS, RequireScope } from './route-access';

const READER = 'reader-secret-0123456789';
const SEGMENTER = 'segmenter-secret-0123456789';

@RequireScope(SCOPES.read)
@Controller('things')
class ThingsController {
  @Get()
  list(): void {}

  @RequireScope(SCOPES.registry)
  @Get('change')
  change(): void {}

  @PublicRoute('a probe')
  @Get('probe')
  probe(): void {}
}

@Controller('forgotten')
class ForgottenController {
  @Get()
  get(): void {}
}

function context(controller: object, handler: string, authorization?: string) {
  const req = { headers: authorization === undefined ? {} : { authorization } } as Record<string, unknown>;
  const res = { locals: {} as Record<string, unknown> };
  const ctx = {
    getType: () => 'http',
    getClass: () => controller,
    getHandler: () => (controller as { prototype: Record<string, unknown> }).prototype[handler],
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }),
  } as unknown as ExecutionContext;
  return { ctx, req, res };
}

const refusal = refusalOf;

describe('AuthGuard', () => {
  const metrics = new MetricsService();
  const guard = new AuthGuard(
    new Reflector(),
    new Authenticator(loadConfig({ LVSEG_API_KEYS: `reader:${READER}:lvseg:read,segmenter:${SEGMENTER}:lvseg:segment` }).auth),
    metrics,
  );
  const count = async (principal: string, outcome: string) =>
    (await metrics.authRequests.get()).values.find((v) => v.labels.principal === principal && v.labels.outcome === outcome)?.value ?? 0;

  it('lets a key with the route’s scope through and names it for the request log', async () => {
    const { ctx, req, res } = context(ThingsController, 'list', `Bearer ${READER}`);
    await expect(guard.canActivate(ctx)).resolves.toBe(true);
    expect(res.locals.principal).toBe('reader');
    expect(req.principal).toMatchObject({ kind: 'api-key', name: 'reader' });
    expect(await count('reader', 'allowed')).toBe(1);
  });

  it('refuses a key without the scope with 403 naming the scope (a handler’s rule overrides its controller’s)', async () => {
    const e = await refusal(guard.canActivate(context(ThingsController, 'change', `Bearer ${READER}`).ctx));
    expect(e).toMatchObject({ kind: 'forbidden', code: 'AUTH_SCOPE_MISSING', details: { requiredScope: 'lvseg:registry' } });
    expect(e.message).toBe('this route needs the scope lvseg:registry; the key "reader" has lvseg:read');
    expect(await refusal(guard.canActivate(context(ThingsController, 'list', `Bearer ${SEGMENTER}`).ctx))).toMatchObject({ code: 'AUTH_SCOPE_MISSING' });
    expect(await count('segmenter', 'forbidden')).toBe(1);
  });

  it('refuses a request without a valid credential with 401 and counts it under principal "none"', async () => {
    const before = await count('none', 'unauthenticated');
    expect(await refusal(guard.canActivate(context(ThingsController, 'list').ctx))).toMatchObject({ kind: 'unauthenticated', code: 'AUTH_REQUIRED' });
    expect(await refusal(guard.canActivate(context(ThingsController, 'list', 'Bearer wrong-secret-0123456789').ctx))).toMatchObject({ code: 'AUTH_INVALID' });
    expect(await count('none', 'unauthenticated')).toBe(before + 2);
  });

  it('lets anyone call a public route', async () => {
    await expect(guard.canActivate(context(ThingsController, 'probe').ctx)).resolves.toBe(true);
  });

  it('holds each key to its request rate: 429 with the wait, other keys unaffected', async () => {
    const limited = new AuthGuard(
      new Reflector(),
      new Authenticator(loadConfig({ LVSEG_API_KEYS: `reader:${READER}:lvseg:read,segmenter:${SEGMENTER}:lvseg:segment`, LVSEG_RATE_LIMIT_PER_MINUTE: '2' }).auth),
      metrics,
    );
    await expect(limited.canActivate(context(ThingsController, 'list', `Bearer ${READER}`).ctx)).resolves.toBe(true);
    await expect(limited.canActivate(context(ThingsController, 'list', `Bearer ${READER}`).ctx)).resolves.toBe(true);
    const e = await refusal(limited.canActivate(context(ThingsController, 'list', `Bearer ${READER}`).ctx));
    expect(e).toMatchObject({ kind: 'rate-limited', code: 'RATE_LIMITED', message: 'over 2 requests a minute for this key; retry later' });
    expect(e.details?.retryAfterSeconds).toBeGreaterThan(29);
    expect(e.details?.retryAfterSeconds).toBeLessThanOrEqual(30);
    // Also for routes the key may not call; and the other key has its own bucket.
    expect(await refusal(limited.canActivate(context(ThingsController, 'change', `Bearer ${READER}`).ctx))).toMatchObject({ code: 'RATE_LIMITED' });
    expect(await refusal(limited.canActivate(context(ThingsController, 'list', `Bearer ${SEGMENTER}`).ctx))).toMatchObject({ code: 'AUTH_SCOPE_MISSING' });
    expect(await count('reader', 'rate-limited')).toBe(2);
  });

  it('refuses a route that declares no rule, even to a valid key', async () => {
    expect(await refusal(guard.canActivate(context(ForgottenController, 'get', `Bearer ${READER}`).ctx))).toMatchObject({ kind: 'forbidden', code: 'AUTH_ROUTE_UNDECLARED' });
  });

  it('gives every route of the service an access rule: segment, read or registry, public only for probes and the signed webhook', () => {
    const rules: Record<string, string> = {};
    for (const controller of [SegmentController, SegmentSeriesController, ModelsController, RegistryController, RunsController, PacsJobsController, MetricsController, HealthController, PacsWebhookController]) {
      const base = Reflect.getMetadata(PATH_METADATA, controller) as string;
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = (controller.prototype as unknown as Record<string, unknown>)[name];
        if (name === 'constructor' || typeof handler !== 'function' || Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
        const method = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'][Reflect.getMetadata(METHOD_METADATA, handler) as number];
        const rule = Reflect.getMetadata(ROUTE_ACCESS, handler) ?? Reflect.getMetadata(ROUTE_ACCESS, controller);
        rules[`${method} /${[base, Reflect.getMetadata(PATH_METADATA, handler) as string].filter((p) => p && p !== '/').join('/')}`] = rule?.scope ?? (rule ? 'public' : 'NONE');
      }
    }
    expect(rules).toEqual({
      'POST /segment': 'lvseg:segment',
      'POST /segment/series': 'lvseg:segment',
      'GET /models': 'lvseg:read',
      'GET /models/:ref': 'lvseg:read',
      'GET /models/:ref/files/:name': 'lvseg:read',
      'POST /models/aliases/:alias/promote': 'lvseg:registry',
      'POST /models/aliases/:alias/rollback': 'lvseg:registry',
      'GET /runs': 'lvseg:read',
      'GET /runs/:id': 'lvseg:read',
      'GET /runs/:id/heatmaps/:epoch/:layer.png': 'lvseg:read',
      'GET /runs/:id/events': 'lvseg:read',
      'GET /jobs': 'lvseg:read',
      'GET /jobs/:id': 'lvseg:read',
      'GET /metrics': 'lvseg:read',
      'GET /health/live': 'public',
      'GET /health/ready': 'public',
      'POST /webhooks/pacs': 'public',
    });
  });
});
