import { parseJobQuery } from './pacs-jobs.controller';

describe('parseJobQuery (GET /jobs)', () => {
  it('takes a study and/or series UID and a limit', () => {
    expect(parseJobQuery({})).toEqual({ study: undefined, series: undefined, limit: 50 });
    expect(parseJobQuery({ study: '1.2.840.1', series: '1.2.840.1.2', limit: '3' })).toEqual({ study: '1.2.840.1', series: '1.2.840.1.2', limit: 3 });
  });

  it.each([
    [{ study: 'SCD0000101' }, /study must be a DICOM UID/],
    [{ series: ['1.2', '1.3'] }, /series must be a DICOM UID/],
    [{ series: `1.${'2'.repeat(64)}` }, /series must be a DICOM UID/],
    [{ limit: '0' }, /limit must be an integer from 1 to 500/],
    [{ limit: '2.5' }, /limit must be an integer/],
    [{ patient: 'x' }, /unknown query parameter patient/],
  ])('refuses %j with 400 INVALID_JOB_QUERY', (query, message) => {
    expect(() => parseJobQuery(query)).toThrow(expect.objectContaining({ kind: 'invalid-input', code: 'INVALID_JOB_QUERY', message: expect.stringMatching(message) }));
  });
});
