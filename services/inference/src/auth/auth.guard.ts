import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { LvsegError, isLvsegError } from '@lvseg/common';
import { MetricsService } from '../metrics/metrics.service';
import { AUTHENTICATOR } from '../tokens';
import { Authenticator } from './authenticator';
import type { Principal } from './principal';
import { RateLimiter } from './rate-limiter';
import { ROUTE_ACCESS, RouteAccess } from './route-access';

/**
 * Checks every routed request against its route's access rule (`@RequireScope` or `@PublicRoute`, on the handler or
 * its controller). A route that declares neither is refused: forgetting the rule must not open a route.
 * Records the principal's name for the request log (`res.locals.principal`), holds each key (and OIDC subject) to
 * its request rate (429 with Retry-After), and counts the outcome by principal.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly limiter: RateLimiter;

  constructor(
    private readonly reflector: Reflector,
    @Inject(AUTHENTICATOR) private readonly authenticator: Authenticator,
    private readonly metrics: MetricsService,
  ) {
    this.limiter = new RateLimiter(authenticator.settings.rateLimitPerMinute);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const access = this.reflector.getAllAndOverride<RouteAccess | undefined>(ROUTE_ACCESS, [context.getHandler(), context.getClass()]);
    if (access && 'public' in access) return true;
    const http = context.switchToHttp();
    const req = http.getRequest<Request & { principal?: Principal }>();
    const res = http.getResponse<Response>();
    let principal: Principal;
    try {
      principal = await this.authenticator.authenticate(req.headers.authorization);
    } catch (e) {
      if (isLvsegError(e, 'unauthenticated')) this.metrics.authRequests.inc({ principal: 'none', outcome: 'unauthenticated' });
      throw e;
    }
    req.principal = principal;
    // Without authentication configured there is nobody to name: the request log keeps its shape.
    if (principal.kind !== 'anonymous') res.locals.principal = principal.name;
    if (principal.subject !== undefined) res.locals.subject = principal.subject;
    // Per key (or OIDC subject), before the scope check: a caller hammering a route it may not call is slowed too.
    if (principal.kind !== 'anonymous') {
      const limit = this.limiter.take(principal.subject !== undefined ? `oidc:${principal.subject}` : principal.name);
      if (!limit.allowed) {
        this.metrics.authRequests.inc({ principal: principal.name, outcome: 'rate-limited' });
        throw new LvsegError('rate-limited', 'RATE_LIMITED', `over ${this.authenticator.settings.rateLimitPerMinute} requests a minute for this ${principal.kind === 'oidc' ? 'token’s subject' : 'key'}; retry later`, {
          retryAfterSeconds: limit.retryAfterSeconds,
        });
      }
    }
    if (!access) {
      this.metrics.authRequests.inc({ principal: principal.name, outcome: 'forbidden' });
      throw new LvsegError('forbidden', 'AUTH_ROUTE_UNDECLARED', 'this route declares no access rule, so nobody may call it');
    }
    if (!principal.scopes.includes(access.scope)) {
      this.metrics.authRequests.inc({ principal: principal.name, outcome: 'forbidden' });
      const held = principal.scopes.length > 0 ? principal.scopes.join(' ') : 'no lvseg scope';
      throw new LvsegError('forbidden', 'AUTH_SCOPE_MISSING', `this route needs the scope ${access.scope}; the ${principal.kind === 'oidc' ? 'token' : `key "${principal.name}"`} has ${held}`, {
        requiredScope: access.scope,
      });
    }
    this.metrics.authRequests.inc({ principal: principal.name, outcome: 'allowed' });
    return true;
  }
}
