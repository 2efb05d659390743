import { createServer } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Logger } from 'pino';
import { LvsegError } from '@lvseg/common';
import { InferenceConfig, isLoopbackHost } from '@lvseg/config';

/** The error for a port another process holds: names PORT, so the operator knows what to change. */
function portInUse(port: number, host: string | undefined): LvsegError {
  return new LvsegError('config', 'PORT_IN_USE', `port ${port} is already in use${host ? ` on ${host}` : ''}; stop what holds it or set PORT to another port`, { port });
}

/**
 * Fails fast, before the model is loaded, when the configured port cannot be bound (another service holds it);
 * otherwise the service would load its model, log that it started, and only then die on listen.
 */
export async function assertPortFree(config: InferenceConfig): Promise<void> {
  const { port, host } = config.inference;
  if (port === 0) return; // an ephemeral port is always free
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' ? portInUse(port, host) : e));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/**
 * Listens where the configuration says: `config.inference.host` (undefined = every interface, which the config allows
 * only with authentication configured or LVSEG_ALLOW_ANONYMOUS=true), and logs where, with which authentication
 * (key names, never secrets). Returns the bound address.
 */
export async function listenAsConfigured(app: NestExpressApplication, config: InferenceConfig, logger: Logger): Promise<{ host: string; port: number }> {
  const { port, host } = config.inference;
  try {
    if (host === undefined) await app.listen(port);
    else await app.listen(port, host);
  } catch (e) {
    // Taken between the early check and now.
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw portInUse(port, host);
    throw e;
  }
  const bound = app.getHttpServer().address() as { address: string; port: number };
  const auth = config.auth;
  const authSummary = { apiKeys: auth.apiKeys.map((k) => k.name), oidc: auth.oidc ? { issuer: auth.oidc.issuer, audience: auth.oidc.audience } : false, anonymous: auth.anonymous };
  logger.info(
    { event: 'listening', port: bound.port, host: host ?? 'all interfaces', modelStore: config.modelStore, auth: authSummary },
    `listening on ${host ?? '*'}:${bound.port}`,
  );
  if (auth.anonymous) {
    logger.warn(
      { event: 'auth.anonymous', host: host ?? 'all interfaces' },
      host !== undefined && isLoopbackHost(host)
        ? 'no authentication configured (LVSEG_API_KEYS, LVSEG_OIDC_*): answering on loopback only'
        : 'no authentication configured and LVSEG_ALLOW_ANONYMOUS=true: anyone who reaches this port can use the API',
    );
  }
  return { host: bound.address, port: bound.port };
}
