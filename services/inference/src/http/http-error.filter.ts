import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { ErrorKind, isLvsegError } from '@lvseg/common';

/** An error as the HTTP layer answers it. */
export interface HttpErrorAnswer {
  status: number;
  code: string;
  message: string;
  headers: Record<string, string>;
  /** True when nothing mapped the error: it is logged with its stack, and the answer says nothing about it. */
  unexpected: boolean;
  /** Fields the body carries beside `error` (an LvsegError's `details.answer`, e.g. the checks of a 503 from GET /health/ready). */
  extra?: Record<string, unknown>;
}

const STATUS_OF_KIND: Record<ErrorKind, number> = {
  'invalid-input': 400,
  unsupported: 415,
  'too-large': 413,
  'not-found': 404,
  conflict: 409,
  // A stored model whose bytes do not match its card cannot be served; the client did nothing wrong.
  integrity: 503,
  unavailable: 503,
  unauthenticated: 401,
  forbidden: 403,
  'rate-limited': 429,
  config: 500,
};

// invalid-input about the *content* of a well-formed request (a damaged DICOM, a label that does not fit the image,
// a series whose geometry gives no LV function) is 422; invalid-input about the request itself (query, form fields,
// model ref) stays 400.
const UNPROCESSABLE_CODE_PREFIXES = ['DICOM_', 'PNG_', 'CONTOUR_', 'LABEL_', 'LV_'];

const CODE_OF_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST',
  404: 'ROUTE_NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'BODY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/** Maps anything thrown to a status, a stable code and a message; the one place errors become HTTP. */
export function toHttpError(e: unknown): HttpErrorAnswer {
  if (isLvsegError(e)) {
    let status = STATUS_OF_KIND[e.kind] ?? 500;
    if (e.kind === 'invalid-input' && UNPROCESSABLE_CODE_PREFIXES.some((p) => e.code.startsWith(p))) status = 422;
    const headers: Record<string, string> = {};
    const retry = e.details?.retryAfterSeconds;
    if (status === 503 || status === 429) headers['Retry-After'] = String(typeof retry === 'number' && retry > 0 ? Math.ceil(retry) : 1);
    // RFC 6750: say which scheme is expected, and why a credential was refused.
    const bearerError = e.details?.bearerError;
    const scope = e.details?.requiredScope;
    if (status === 401) headers['WWW-Authenticate'] = `Bearer realm="lvseg"${typeof bearerError === 'string' ? `, error="${bearerError}"` : ''}`;
    if (status === 403 && typeof scope === 'string') headers['WWW-Authenticate'] = `Bearer realm="lvseg", error="insufficient_scope", scope="${scope}"`;
    const answer = e.details?.answer;
    const extra = status !== 500 && answer && typeof answer === 'object' && !Array.isArray(answer) ? { extra: answer as Record<string, unknown> } : {};
    return { status, code: e.code, message: status === 500 ? 'internal configuration error' : e.message, headers, unexpected: status === 500, ...extra };
  }
  if (e instanceof HttpException) {
    const status = e.getStatus();
    const body = e.getResponse();
    const raw = typeof body === 'string' ? body : (body as { message?: unknown }).message;
    const message = Array.isArray(raw) ? raw.join('; ') : typeof raw === 'string' ? raw : e.message;
    return { status, code: CODE_OF_STATUS[status] ?? `HTTP_${status}`, message, headers: {}, unexpected: status >= 500 };
  }
  // Errors raised by Express middleware (body-parser, raw-body) carry an HTTP status and a type.
  const httpish = e as { status?: unknown; statusCode?: unknown; expose?: unknown; type?: unknown; message?: unknown } | null;
  const status = typeof httpish?.status === 'number' ? httpish.status : typeof httpish?.statusCode === 'number' ? httpish.statusCode : undefined;
  if (status !== undefined && status >= 400 && status < 500) {
    const type = typeof httpish?.type === 'string' ? httpish.type : '';
    const code = type === 'entity.too.large' ? 'BODY_TOO_LARGE' : type ? `BODY_${type.replace(/[^a-z]+/gi, '_').toUpperCase()}` : CODE_OF_STATUS[status] ?? `HTTP_${status}`;
    const message = type === 'entity.too.large' ? 'the request body is larger than this service accepts' : typeof httpish?.message === 'string' ? httpish.message.slice(0, 200) : 'bad request';
    return { status, code, message, headers: {}, unexpected: false };
  }
  return { status: 500, code: 'INTERNAL', message: 'internal error', headers: {}, unexpected: true };
}

/** Answers every error as `{ error: { code, message } }`; unexpected ones are logged with their stack. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(private readonly log: Logger) {}

  catch(e: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const res = http.getResponse<Response>();
    const req = http.getRequest<Request & { id?: unknown; log?: Logger }>();
    const answer = toHttpError(e);
    if (answer.unexpected) {
      (req.log ?? this.log).error({ err: e, event: 'request.unexpected_error' }, 'unexpected error answered 500');
    }
    res.locals.errorCode = answer.code;
    if (res.headersSent) {
      res.end();
      return;
    }
    const message = answer.unexpected && req.id !== undefined ? `${answer.message} (request ${String(req.id)})` : answer.message;
    res.status(answer.status).set(answer.headers).json({ ...answer.extra, error: { code: answer.code, message } });
  }
}
