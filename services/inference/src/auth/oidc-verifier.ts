import { JWTPayload, createRemoteJWKSet, errors, jwtVerify } from 'jose';
import { LvsegError } from '@lvseg/common';
import { ALL_SCOPES, OidcSettings, Scope } from '@lvseg/config';
import type { Principal } from './principal';

// Asymmetric algorithms only: a provider's JWKS publishes public keys, and an HS* token would need a shared secret.
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const CLOCK_TOLERANCE_SECONDS = 30;

/** The lvseg scopes a token grants: the `scope` claim (space-separated, OAuth 2) or `scp` (a list or a string). */
export function scopesOfClaims(payload: JWTPayload): Scope[] {
  const raw: unknown[] = [];
  for (const claim of [payload.scope, payload.scp]) {
    if (typeof claim === 'string') raw.push(...claim.split(' '));
    else if (Array.isArray(claim)) raw.push(...(claim as unknown[]));
  }
  return ALL_SCOPES.filter((s) => raw.includes(s));
}

/**
 * Verifies bearer JWTs from the hospital's identity provider: signature against its JWKS (fetched and cached by
 * jose, re-fetched when a token names an unknown key id), issuer, audience, expiry and not-before.
 */
export class OidcVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly settings: OidcSettings) {
    this.jwks = createRemoteJWKSet(new URL(settings.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
  }

  async verify(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (e) {
      throw toAuthError(e);
    }
    return { kind: 'oidc', name: 'oidc', subject: String(payload.sub).slice(0, 128), scopes: scopesOfClaims(payload) };
  }
}

/** A jose failure as the API answers it: the token's fault → 401 with the reason; the provider unreachable → 503. */
function toAuthError(e: unknown): LvsegError {
  const invalid = (code: string, message: string) => new LvsegError('unauthenticated', code, message, { bearerError: 'invalid_token' });
  if (e instanceof errors.JWTExpired) return invalid('AUTH_TOKEN_EXPIRED', 'the token has expired');
  if (e instanceof errors.JWTClaimValidationFailed) return invalid('AUTH_TOKEN_INVALID', `the token was refused: ${e.message}`);
  if (e instanceof errors.JWSSignatureVerificationFailed) return invalid('AUTH_TOKEN_INVALID', 'the token’s signature does not verify');
  if (e instanceof errors.JWKSNoMatchingKey) return invalid('AUTH_TOKEN_INVALID', 'the token is signed by a key the identity provider does not publish');
  if (e instanceof errors.JOSEAlgNotAllowed) return invalid('AUTH_TOKEN_INVALID', 'the token’s signing algorithm is not accepted');
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) return invalid('AUTH_TOKEN_INVALID', 'the token is malformed');
  if (e instanceof errors.JWKSMultipleMatchingKeys) return invalid('AUTH_TOKEN_INVALID', 'the token names no key id and the provider publishes several keys');
  // JWKS unreachable, timed out or not a key set: not the caller's fault, and worth retrying.
  return new LvsegError('unavailable', 'AUTH_IDP_UNAVAILABLE', 'the identity provider’s keys (LVSEG_OIDC_JWKS_URL) could not be fetched; try again', { retryAfterSeconds: 5 });
}
