import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';

/** Marks when a request reached the service, before its body is read (for `timings.receiveMs`). */
export function receivedAtMiddleware(req: Request, res: Response, next: NextFunction): void {
  res.locals.receivedAt = performance.now();
  next();
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The URL as logged: the path and the names of the query parameters, never their values (GET /jobs?study=… names a
 * study; a promote's reason is free text).
 */
export function loggedUrl(originalUrl: string): string {
  const q = originalUrl.indexOf('?');
  if (q < 0) return originalUrl.slice(0, 300);
  const names = [...new Set(new URLSearchParams(originalUrl.slice(q + 1)).keys())];
  return `${originalUrl.slice(0, q)}${names.length ? `?${names.map((n) => `${n}=…`).join('&')}` : ''}`.slice(0, 300);
}

/**
 * One pino JSON line per request: request id (the caller's `x-request-id` when it is a plain token, else a UUID;
 * echoed back), method, url (query values left out), route template, status, duration in ms, the caller's principal (API key name, or `oidc`
 * and the token's subject; never a credential), and for /segment the model version, the image's SOP Instance UID and
 * the error code (for /segment/series: the model version, the number of images and the error code). Headers and
 * bodies are never logged, so no patient data and no credential gets in.
 * (Written here rather than with pino-http 11, which needs pino 10 while the project uses pino 9.)
 */
export function requestLogging(log: Logger) {
  return (req: Request & { id?: string; log?: Logger }, res: Response, next: NextFunction): void => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    req.id = id;
    res.setHeader('x-request-id', id);
    const reqLog = log.child({ requestId: id });
    req.log = reqLog;
    const started = process.hrtime.bigint();
    let logged = false;
    const done = (): void => {
      if (logged) return;
      logged = true;
      const status = res.statusCode;
      const aborted = !res.writableFinished;
      const locals = res.locals;
      const line = {
        event: 'request',
        method: req.method,
        url: loggedUrl(req.originalUrl),
        route: (req.route?.path as string | undefined) ?? null,
        status,
        ms: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100,
        ...(aborted ? { aborted: true } : {}),
        // Who: the API key's name (never its secret), `oidc` with the token's subject, or `anonymous`.
        ...(locals.principal ? { principal: locals.principal } : {}),
        ...(locals.subject ? { subject: locals.subject } : {}),
        ...(locals.modelVersion ? { modelVersion: locals.modelVersion } : {}),
        ...(locals.sopInstanceUid ? { sopInstanceUid: locals.sopInstanceUid } : {}),
        ...(typeof locals.images === 'number' ? { images: locals.images } : {}),
        ...(locals.errorCode ? { errorCode: locals.errorCode } : {}),
      };
      const msg = `${req.method} ${req.path} ${status}`;
      if (status >= 500 && status !== 503) reqLog.error(line, msg);
      else if (status === 503 || aborted) reqLog.warn(line, msg);
      else reqLog.info(line, msg);
    };
    res.on('finish', done);
    res.on('close', done);
    next();
  };
}
