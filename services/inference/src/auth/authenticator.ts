import { timingSafeEqual } from 'node:crypto';
import { LvsegError } from '@lvseg/common';
import { ALL_SCOPES, ApiKey, AuthSettings, secretDigest } from '@lvseg/config';
import type { Principal } from './principal';
import { OidcVerifier } from './oidc-verifier';

const ANONYMOUS: Principal = { kind: 'anonymous', name: 'anonymous', scopes: ALL_SCOPES };
// Three base64url segments: the shape of a compact JWS.
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

function unauthenticated(code: string, message: string, bearerError?: 'invalid_token' | 'invalid_request'): LvsegError {
  return new LvsegError('unauthenticated', code, message, bearerError ? { bearerError } : undefined);
}

/**
 * Turns an `Authorization` header into a Principal: an API key (compared by SHA-256 digest in constant time, every
 * key checked so the timing says nothing about which one nearly matched), else an OIDC token (when configured).
 */
export class Authenticator {
  private readonly keys: readonly ApiKey[];
  private readonly oidc?: OidcVerifier;

  constructor(readonly settings: AuthSettings) {
    this.keys = settings.apiKeys;
    if (settings.oidc) this.oidc = new OidcVerifier(settings.oidc);
  }

  /** True when nothing is configured and every request is let in. */
  get anonymous(): boolean {
    return this.settings.anonymous;
  }

  /** The principal of a request's `Authorization` header; throws `unauthenticated` (401) when it does not verify. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (this.settings.anonymous) return ANONYMOUS;
    if (authorization === undefined || authorization.trim() === '') {
      throw unauthenticated('AUTH_REQUIRED', `this route needs a credential: Authorization: Bearer <${this.accepted()}>`);
    }
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
    if (!match) throw unauthenticated('AUTH_SCHEME', 'the Authorization header must be "Bearer <credential>"', 'invalid_request');
    const token = match[1];
    const key = this.findKey(token);
    if (key) return { kind: 'api-key', name: key.name, scopes: key.scopes };
    if (this.oidc && JWT_SHAPE.test(token)) return this.oidc.verify(token);
    throw unauthenticated('AUTH_INVALID', `the bearer credential is not ${this.oidc ? 'a known API key nor a token from the configured identity provider' : 'a known API key'}`, 'invalid_token');
  }

  private accepted(): string {
    return [this.keys.length > 0 && 'API key', this.oidc && 'OIDC access token'].filter(Boolean).join(' or ');
  }

  private findKey(token: string): ApiKey | undefined {
    if (this.keys.length === 0) return undefined;
    // Digests have one length whatever the token's, so timingSafeEqual never throws and length leaks nothing.
    const digest = secretDigest(token);
    let found: ApiKey | undefined;
    for (const key of this.keys) {
      if (timingSafeEqual(digest, key.secretSha256) && found === undefined) found = key;
    }
    return found;
  }
}
