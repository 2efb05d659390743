/**
 * Typed errors shared by every library and service. A library throws `LvsegError` with a machine code and a
 * human message; the HTTP layer (and the CLI) map `kind` to a status or exit code in exactly one place.
 * Messages must never contain patient-identifying DICOM values (name, id, birth date, accession number).
 */
export type ErrorKind =
  | 'invalid-input' // the caller sent something malformed (HTTP 400 / 422)
  | 'unsupported' // well-formed but not something lvseg handles, e.g. a compressed transfer syntax (HTTP 415)
  | 'too-large' // over a configured limit (HTTP 413)
  | 'not-found' // a model version, alias, job or file that does not exist (HTTP 404)
  | 'conflict' // would overwrite something immutable, or a replay (HTTP 409)
  | 'integrity' // stored bytes do not match their recorded sha256 (refused at load)
  | 'unavailable' // a dependency is down or a queue is full (HTTP 503)
  | 'unauthenticated' // no credentials, or credentials that do not verify (HTTP 401)
  | 'forbidden' // valid credentials without the right (scope) the request needs (HTTP 403)
  | 'rate-limited' // a caller over its request rate (HTTP 429 with Retry-After)
  | 'config'; // invalid configuration at start

export class LvsegError extends Error {
  constructor(
    readonly kind: ErrorKind,
    /** Stable machine code, e.g. `DICOM_NO_PIXEL_DATA`. */
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'LvsegError';
  }
}

/** True when `e` is an LvsegError, optionally of one kind. */
export function isLvsegError(e: unknown, kind?: ErrorKind): e is LvsegError {
  return e instanceof LvsegError && (kind === undefined || e.kind === kind);
}

/**
 * The LvsegError `p` rejects with (for tests and callers that expect a refusal): throws when `p` resolves, and
 * rethrows any other error.
 */
export async function refusalOf(p: Promise<unknown>): Promise<LvsegError> {
  try {
    await p;
  } catch (e) {
    if (isLvsegError(e)) return e;
    throw e;
  }
  throw new Error('expected a refusal (an LvsegError), but the call succeeded');
}
