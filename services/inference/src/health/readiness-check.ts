/**
 * Something besides the model that the service needs to do its work (e.g. the PACS of the PACS bridge): a module
 * provides it under READINESS_CHECK and GET /health/ready answers 503 with its reason while it fails.
 */
export interface ReadinessCheck {
  /** What is checked, e.g. "pacs" (the key of the ready answer's detail). */
  readonly name: string;
  /** ok, or the failure as an error code and a message that names no secret and no patient. */
  check(): Promise<ReadinessResult>;
}

export type ReadinessResult = { ok: true; checkedAt: string } | { ok: false; checkedAt: string; code: string; message: string };

export const READINESS_CHECK = Symbol('READINESS_CHECK');
