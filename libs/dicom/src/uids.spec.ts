import { deterministicUid, isDicomUid, isUidLike, segUidsFor } from './uids';

describe('deterministic UIDs', () => {
  it('are valid 2.25 UIDs, stable for the same parts and different otherwise', () => {
    const a = deterministicUid('x', 'y');
    expect(isDicomUid(a)).toBe(true);
    expect(a.startsWith('2.25.')).toBe(true);
    expect(a.length).toBeLessThanOrEqual(64);
    expect(deterministicUid('x', 'y')).toBe(a);
    // Length-prefixed parts: moving a character between parts changes the UID.
    expect(deterministicUid('xy', '')).not.toBe(deterministicUid('x', 'y'));
    expect(deterministicUid('x', 'z')).not.toBe(a);
  });

  it('encode a UUID version 8, variant 10xx', () => {
    const hex = BigInt(deterministicUid('a').slice(5)).toString(16).padStart(32, '0');
    expect(hex[12]).toBe('8');
    expect(['8', '9', 'a', 'b']).toContain(hex[16]);
  });

  it('give one SEG series and instance per source series and model version', () => {
    const v1 = segUidsFor('1.2.3', 'v1');
    expect(segUidsFor('1.2.3', 'v1')).toEqual(v1);
    expect(new Set(Object.values(v1)).size).toBe(3);
    expect(segUidsFor('1.2.3', 'v2').seriesInstanceUid).not.toBe(v1.seriesInstanceUid);
    expect(segUidsFor('1.2.4', 'v1').sopInstanceUid).not.toBe(v1.sopInstanceUid);
  });

  it('isDicomUid checks syntax', () => {
    expect(isDicomUid('1.2.840.10008.5.1.4.1.1.66.4')).toBe(true);
    for (const bad of ['', '1..2', '1.02', 'a.1', '1.2.', '1'.repeat(65), 12]) expect(isDicomUid(bad)).toBe(false);
  });

  it('isUidLike also takes the leading zeros real archives have', () => {
    expect(isUidLike('2.16.124.113543.6006.99.06074982333824222391')).toBe(true);
    for (const bad of ['', '1..2', 'a.1', '1.2.', '1'.repeat(65), 12, '1.2;3']) expect(isUidLike(bad)).toBe(false);
  });
});
