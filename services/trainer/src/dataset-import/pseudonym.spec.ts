import { createHmac } from 'node:crypto';
import { isLvsegError } from '@lvseg/common';
import { assertSiteSecret, caseIdFor, splitCases } from './pseudonym';

const SECRET = 'a-site-secret-of-32-characters!!';

describe('case pseudonyms', () => {
  it('are the keyed hash of the PatientID (HMAC-SHA256, checked against node:crypto), stable, and differ by secret', () => {
    const expected = `p${createHmac('sha256', SECRET).update('lvseg/case\u0000SCD0000101').digest('hex').slice(0, 16)}`;
    expect(caseIdFor('SCD0000101', SECRET)).toBe(expected);
    expect(caseIdFor('SCD0000101', SECRET)).toBe(caseIdFor('SCD0000101', SECRET));
    expect(caseIdFor('SCD0000101', `${SECRET}x`)).not.toBe(expected);
    expect(caseIdFor('SCD0000102', SECRET)).not.toBe(expected);
    expect(expected).toMatch(/^p[0-9a-f]{16}$/);
    expect(expected).not.toContain('SCD');
  });

  it('refuse a missing or short site secret with a config error', () => {
    for (const s of [undefined, '', 'short']) {
      let err: unknown;
      try {
        assertSiteSecret(s);
      } catch (e) {
        err = e;
      }
      expect(isLvsegError(err, 'config') && err.code).toBe('IMPORT_SITE_SECRET');
    }
    expect(() => assertSiteSecret(SECRET)).not.toThrow();
  });
});

describe('split by patient', () => {
  const ids = Array.from({ length: 400 }, (_, i) => caseIdFor(`patient-${i}`, SECRET));

  it('is deterministic and does not move a patient when others are added', () => {
    const all = splitCases(ids, SECRET, 0.2);
    const part = splitCases(ids.slice(0, 150), SECRET, 0.2);
    for (const id of ids.slice(0, 150)) expect(part.get(id)).toBe(all.get(id));
    expect(splitCases([...ids].reverse(), SECRET, 0.2)).toEqual(all);
  });

  it('puts about the asked share of patients in val', () => {
    const val = [...splitCases(ids, SECRET, 0.2).values()].filter((s) => s === 'val').length;
    expect(val / ids.length).toBeGreaterThan(0.14);
    expect(val / ids.length).toBeLessThan(0.26);
  });

  it('always has a val patient when there are two or more, none with one', () => {
    for (let n = 2; n <= 6; n++) expect([...splitCases(ids.slice(0, n), SECRET, 0.01).values()]).toContain('val');
    expect([...splitCases(ids.slice(0, 1), SECRET, 0.2).values()]).toEqual(['train']);
    expect([...splitCases(ids.slice(0, 5), SECRET, 0).values()].every((s) => s === 'train')).toBe(true);
  });
});
