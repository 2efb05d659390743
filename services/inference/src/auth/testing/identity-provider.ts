/**
 * A stand-in OIDC identity provider for tests: a real HTTP server on loopback serving a freshly generated key's
 * JWKS, and a signer for tokens with that key (or, for refusal tests, with a key it does not publish).
 */
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { JWTPayload, KeyLike, SignJWT, exportJWK, generateKeyPair } from 'jose';

export interface TestIdentityProvider {
  issuer: string;
  jwksUrl: string;
  /** Times the JWKS was fetched. */
  jwksFetches(): number;
  /** A token signed with the published key (or one it does not publish); `expiresAt`: a unix time or jose's '5m' (default). */
  sign(claims: JWTPayload, opts?: { audience?: string; issuer?: string; expiresAt?: number | string; unpublishedKey?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export async function startTestIdentityProvider(): Promise<TestIdentityProvider> {
  const published = await generateKeyPair('RS256');
  const unpublished = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(published.publicKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
  let fetches = 0;
  const server: Server = createServer((req, res) => {
    if (req.url === '/jwks') {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = `${base}/realms/test`;
  return {
    issuer,
    jwksUrl: `${base}/jwks`,
    jwksFetches: () => fetches,
    async sign(claims, opts = {}) {
      const key: KeyLike = opts.unpublishedKey ? unpublished.privateKey : published.privateKey;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'test-key-1' })
        .setIssuer(opts.issuer ?? issuer)
        .setAudience(opts.audience ?? 'lvseg')
        .setIssuedAt()
        .setExpirationTime(opts.expiresAt ?? '5m')
        .sign(key);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
