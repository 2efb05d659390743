import { createHmac } from 'node:crypto';
import { LvsegError } from '@lvseg/common';

/** Shortest site secret accepted: a keyed hash with a guessable key is no pseudonym. */
export const MIN_SITE_SECRET_LENGTH = 16;

/** Throws 'config' unless `secret` is long enough to key the case pseudonyms. */
export function assertSiteSecret(secret: string | undefined): asserts secret is string {
  if (!secret || secret.length < MIN_SITE_SECRET_LENGTH) {
    throw new LvsegError('config', 'IMPORT_SITE_SECRET', `a site secret of at least ${MIN_SITE_SECRET_LENGTH} characters is needed to pseudonymise case ids: pass --site-secret or set LVSEG_SITE_SECRET`);
  }
}

function hmacHex(secret: string, purpose: string, patientId: string): string {
  return createHmac('sha256', secret).update(`${purpose}\u0000${patientId}`).digest('hex');
}

/**
 * The case id of a patient: `p` + 16 hex digits of HMAC-SHA256(site secret, PatientID). The same patient always gets
 * the same id at one site; without the secret the id cannot be turned back into (or checked against) a PatientID.
 */
export function caseIdFor(patientId: string, secret: string): string {
  return `p${hmacHex(secret, 'lvseg/case', patientId).slice(0, 16)}`;
}

/**
 * Splits cases by patient: a case is `val` when its keyed hash falls below `valFraction`, so a patient's split never
 * changes as the site's data grows. With two or more cases and none drawn for val, the case with the smallest hash
 * goes to val, so there is always something to select on.
 */
export function splitCases(caseIds: readonly string[], secret: string, valFraction = 0.2): Map<string, 'train' | 'val'> {
  if (!(valFraction >= 0 && valFraction < 1)) throw new LvsegError('invalid-input', 'IMPORT_VAL_FRACTION', `--val-fraction must be in [0, 1), got ${valFraction}`);
  const draw = new Map(caseIds.map((c) => [c, parseInt(hmacHex(secret, 'lvseg/split', c).slice(0, 12), 16) / 2 ** 48]));
  const out = new Map<string, 'train' | 'val'>(caseIds.map((c) => [c, draw.get(c)! < valFraction ? 'val' : 'train']));
  if (valFraction > 0 && caseIds.length >= 2 && ![...out.values()].includes('val')) {
    const lowest = [...caseIds].sort((a, b) => draw.get(a)! - draw.get(b)! || a.localeCompare(b))[0];
    out.set(lowest, 'val');
  }
  return out;
}
