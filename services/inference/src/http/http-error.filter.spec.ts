import { BadRequestException, NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { ErrorKind, LvsegError } from '@lvseg/common';
import { toHttpError } from './http-error.filter';

describe('toHttpError', () => {
  it.each<[ErrorKind, string, number]>([
    ['invalid-input', 'UNKNOWN_LAYER', 400],
    ['invalid-input', 'MODEL_REF_INVALID', 400],
    ['invalid-input', 'DICOM_TRUNCATED', 422],
    ['invalid-input', 'LABEL_SIZE_MISMATCH', 422],
    ['invalid-input', 'CONTOUR_MALFORMED_LINE', 422],
    ['invalid-input', 'PNG_DECODE_FAILED', 422],
    ['invalid-input', 'LV_SINGLE_PHASE', 422],
    ['invalid-input', 'DICOM_MIXED_SERIES', 422],
    ['invalid-input', 'SERIES_LABEL_WITHOUT_DICOM', 400],
    ['too-large', 'SERIES_TOO_MANY_FILES', 413],
    ['unsupported', 'DICOM_UNSUPPORTED_TRANSFER_SYNTAX', 415],
    ['too-large', 'IMAGE_TOO_LARGE', 413],
    ['not-found', 'MODEL_NOT_FOUND', 404],
    ['conflict', 'MODEL_VERSION_EXISTS', 409],
    ['integrity', 'MODEL_INTEGRITY', 503],
    ['unavailable', 'QUEUE_FULL', 503],
    ['unauthenticated', 'AUTH_REQUIRED', 401],
    ['forbidden', 'AUTH_SCOPE_MISSING', 403],
    ['rate-limited', 'RATE_LIMITED', 429],
  ])('%s %s → %i with the code and message', (kind, code, status) => {
    const a = toHttpError(new LvsegError(kind, code, `the ${code} message`));
    expect(a).toMatchObject({ status, code, message: `the ${code} message`, unexpected: false });
  });

  it('sets Retry-After on 503 and 429, from details when given', () => {
    expect(toHttpError(new LvsegError('unavailable', 'QUEUE_FULL', 'full', { retryAfterSeconds: 2.2 })).headers).toEqual({ 'Retry-After': '3' });
    expect(toHttpError(new LvsegError('integrity', 'MODEL_REFUSED', 'refused')).headers).toEqual({ 'Retry-After': '1' });
    expect(toHttpError(new LvsegError('rate-limited', 'RATE_LIMITED', 'slow down', { retryAfterSeconds: 0.3 })).headers).toEqual({ 'Retry-After': '1' });
    expect(toHttpError(new LvsegError('rate-limited', 'RATE_LIMITED', 'slow down', { retryAfterSeconds: 4.5 })).headers).toEqual({ 'Retry-After': '5' });
    expect(toHttpError(new LvsegError('not-found', 'X', 'x')).headers).toEqual({});
  });

  it('says the expected scheme on 401 and the missing scope on 403 (RFC 6750)', () => {
    expect(toHttpError(new LvsegError('unauthenticated', 'AUTH_REQUIRED', 'x')).headers).toEqual({ 'WWW-Authenticate': 'Bearer realm="lvseg"' });
    expect(toHttpError(new LvsegError('unauthenticated', 'AUTH_INVALID', 'x', { bearerError: 'invalid_token' })).headers).toEqual({
      'WWW-Authenticate': 'Bearer realm="lvseg", error="invalid_token"',
    });
    expect(toHttpError(new LvsegError('forbidden', 'AUTH_SCOPE_MISSING', 'x', { requiredScope: 'lvseg:registry' })).headers).toEqual({
      'WWW-Authenticate': 'Bearer realm="lvseg", error="insufficient_scope", scope="lvseg:registry"',
    });
  });

  it('hides configuration errors behind a 500 that is flagged unexpected', () => {
    expect(toHttpError(new LvsegError('config', 'CONFIG_X', 'secret path /etc/x'))).toMatchObject({ status: 500, message: 'internal configuration error', unexpected: true });
  });

  it('keeps the status of Nest HTTP exceptions (multer, unknown routes) with a stable code', () => {
    expect(toHttpError(new PayloadTooLargeException('File too large'))).toMatchObject({ status: 413, code: 'BODY_TOO_LARGE', message: 'File too large' });
    expect(toHttpError(new BadRequestException('Unexpected field'))).toMatchObject({ status: 400, code: 'BAD_REQUEST', message: 'Unexpected field' });
    expect(toHttpError(new NotFoundException('Cannot GET /nope'))).toMatchObject({ status: 404, code: 'ROUTE_NOT_FOUND' });
  });

  it('maps body-parser errors by their status and type', () => {
    const tooLarge = Object.assign(new Error('request entity too large'), { status: 413, expose: true, type: 'entity.too.large' });
    expect(toHttpError(tooLarge)).toMatchObject({ status: 413, code: 'BODY_TOO_LARGE', unexpected: false });
    const encoding = Object.assign(new Error('unsupported content encoding "br"'), { status: 415, type: 'encoding.unsupported' });
    expect(toHttpError(encoding)).toMatchObject({ status: 415, code: 'BODY_ENCODING_UNSUPPORTED' });
  });

  it('answers anything else 500 without its message', () => {
    expect(toHttpError(new TypeError('x is undefined at /srv/app.js'))).toEqual({ status: 500, code: 'INTERNAL', message: 'internal error', headers: {}, unexpected: true });
    expect(toHttpError('a string')).toMatchObject({ status: 500, unexpected: true });
    expect(toHttpError(Object.assign(new Error('stream'), { status: 500 }))).toMatchObject({ status: 500, unexpected: true });
  });
});
