import { createHash } from 'node:crypto';
import { LvsegError } from '@lvseg/common';
import { compactUtcStamp, contentSha256, makeVersionId, validateNewModelVersion } from './model-card';
import { sampleModelVersion } from './testing/model-store.contract';

function invalidCode(v: unknown): string {
  try {
    validateNewModelVersion(v);
  } catch (e) {
    expect(e).toBeInstanceOf(LvsegError);
    expect((e as LvsegError).kind).toBe('invalid-input');
    return (e as LvsegError).code;
  }
  throw new Error('expected validation to fail');
}

describe('version ids', () => {
  it('stamps UTC time to the second', () => {
    expect(compactUtcStamp(new Date('2025-01-31T23:59:59.999+02:00'))).toBe('20250131T215959');
  });

  it('hash the files independently of their order', () => {
    const a = { sha256: 'a'.repeat(64), bytes: 1 };
    const b = { sha256: 'b'.repeat(64), bytes: 2 };
    const expected = createHash('sha256').update(`model.json:${a.sha256}\nweights.bin:${b.sha256}\n`).digest('hex');
    expect(contentSha256({ 'weights.bin': b, 'model.json': a })).toBe(expected);
    expect(contentSha256({ 'model.json': a, 'weights.bin': b })).toBe(expected);
    expect(makeVersionId('unet-small', new Date('2025-03-01T10:00:00Z'), expected)).toBe(`unet-small-20250301T100000-${expected.slice(0, 6)}`);
  });
});

describe('validateNewModelVersion', () => {
  it('accepts a complete request and keeps optional fields only when given', () => {
    const { body, files } = validateNewModelVersion({ ...sampleModelVersion(), notes: undefined });
    expect(Object.keys(body)).not.toContain('notes');
    expect(Object.keys(body)).not.toContain('parent');
    expect([...files.keys()]).toEqual(['model.json', 'weights.bin']);
  });

  it('refuses malformed cards with a reason', () => {
    const ok = sampleModelVersion();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ hyperparameters: {} }, /unknown field\(s\) hyperparameters/],
      [{ inputShape: [256, 0, 1] }, /inputShape/],
      [{ classes: [] }, /classes/],
      [{ parameterCount: -1 }, /parameterCount/],
      [{ data: { ...ok.data, manifestSha256: 'abc' } }, /manifestSha256/],
      [{ metrics: { val: { dice: 1.2, pixelAccuracy: 0.9 } } }, /metrics\.val\.dice/],
      [{ metrics: { val: { dice: 0.8 } } }, /metrics\.val\.pixelAccuracy/],
      [{ metrics: { val: { dice: 0.8, pixelAccuracy: 0.9, loss: Number.NaN } } }, /metrics\.val\.loss/],
      [{ backend: '' }, /backend/],
      [{ trainingTimeMs: Number.POSITIVE_INFINITY }, /trainingTimeMs/],
      [{ files: new Map() }, /at least one file/],
      [{ files: { 'w.bin': 'not bytes' } }, /w\.bin must be a Buffer/],
      [{ architecture: 'unet.v2' }, /architecture/],
    ];
    for (const [change, message] of cases) {
      try {
        validateNewModelVersion({ ...ok, ...change });
        throw new Error(`accepted ${JSON.stringify(Object.keys(change))}`);
      } catch (e) {
        expect((e as Error).message).toMatch(message);
        expect(e).toMatchObject({ kind: 'invalid-input' });
      }
    }
    expect(invalidCode(null)).toBe('MODEL_CARD_INVALID');
  });
});
