import { createHash } from 'node:crypto';

/**
 * A DICOM UID under the UUID root 2.25 derived from `parts` (a name-based UUID: the first 16 bytes of their
 * SHA-256, with the RFC 9562 version 8 and variant bits). The same parts always give the same UID, so writing the
 * same result twice yields the same SOP Instance UID (a PACS keeps one copy) and a retry can look it up.
 */
export function deterministicUid(...parts: string[]): string {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(`${p.length}:${p}|`);
  const b = hash.digest().subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x80; // version 8
  b[8] = (b[8] & 0x3f) | 0x80; // variant 10xx
  return `2.25.${BigInt(`0x${b.toString('hex')}`).toString(10)}`;
}

const UID = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

/**
 * True for a UID as PACSs hold them: digits and dots, no empty component, at most 64 characters. Leading zeros are
 * accepted (strictly invalid, but common in real archives: the Sunnybrook data has them); lvseg's own UIDs have none.
 */
export function isUidLike(s: unknown): s is string {
  return typeof s === 'string' && s.length > 0 && s.length <= 64 && /^[0-9]+(\.[0-9]+)*$/.test(s);
}

/** True for a syntactically valid DICOM UID (digits and dots, no leading zeros, at most 64 characters). */
export function isDicomUid(s: unknown): s is string {
  return typeof s === 'string' && s.length > 0 && s.length <= 64 && UID.test(s);
}

/** UIDs of the SEG lvseg writes for one source series and model version (stable across retries and restarts). */
export function segUidsFor(sourceSeriesInstanceUid: string, modelVersion: string): { seriesInstanceUid: string; sopInstanceUid: string; dimensionOrganizationUid: string } {
  return {
    seriesInstanceUid: deterministicUid('lvseg/seg/series', sourceSeriesInstanceUid, modelVersion),
    sopInstanceUid: deterministicUid('lvseg/seg/instance', sourceSeriesInstanceUid, modelVersion),
    dimensionOrganizationUid: deterministicUid('lvseg/seg/dimensions', sourceSeriesInstanceUid, modelVersion),
  };
}

/** UIDs of the LV function SR lvseg writes for one source series and model version (stable across retries and restarts). */
export function lvFunctionSrUidsFor(sourceSeriesInstanceUid: string, modelVersion: string): { seriesInstanceUid: string; sopInstanceUid: string } {
  return {
    seriesInstanceUid: deterministicUid('lvseg/sr/series', sourceSeriesInstanceUid, modelVersion),
    sopInstanceUid: deterministicUid('lvseg/sr/instance', sourceSeriesInstanceUid, modelVersion),
  };
}
