import { SetMetadata, applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Scope } from '@lvseg/config';
import { ErrorResponseDto } from '../segment/dto/segment-response.dto';

/** Metadata key of a route's access rule (read by AuthGuard). */
export const ROUTE_ACCESS = 'lvseg:route-access';

export type RouteAccess = { scope: Scope } | { public: string };

/** The route needs a credential holding `scope` (401 without a valid credential, 403 without the scope). */
export function RequireScope(scope: Scope): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(ROUTE_ACCESS, { scope } satisfies RouteAccess),
    ApiBearerAuth(),
    ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'no credential, or one that does not verify (AUTH_REQUIRED, AUTH_INVALID, AUTH_TOKEN_EXPIRED, AUTH_TOKEN_INVALID)' }),
    ApiForbiddenResponse({ type: ErrorResponseDto, description: `the credential lacks the scope ${scope} (AUTH_SCOPE_MISSING)` }),
  );
}

/** The route takes no bearer credential; `why` says what protects it instead (or why nothing needs to). */
export function PublicRoute(why: string): MethodDecorator & ClassDecorator {
  return SetMetadata(ROUTE_ACCESS, { public: why } satisfies RouteAccess);
}
