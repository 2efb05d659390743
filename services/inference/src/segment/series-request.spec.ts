import multer from 'multer';
import { LvsegError, isLvsegError } from '@lvseg/common';
import { toHttpError } from '../http/http-error.filter';
import { parseSegmentQuery } from './segment-request';
import {
  MULTIPART_FRAMING_ALLOWANCE_BYTES,
  SERIES_QUERY_KEYS,
  SeriesUploadLimits,
  aboutPart,
  assertDeclaredLength,
  assertOneSeries,
  baseName,
  pairLabels,
  shownName,
  uploadErrorToLvseg,
} from './series-request';

/** The LvsegError `fn` throws (fails when it throws nothing or something else). */
function errorOf(fn: () => unknown): LvsegError {
  try {
    fn();
  } catch (e) {
    if (isLvsegError(e)) return e;
    throw e;
  }
  throw new Error('expected an LvsegError');
}

const limits: SeriesUploadLimits = { maxFiles: 400, maxFileBytes: 16 * 1024 * 1024, maxTotalBytes: 128 * 1024 * 1024 };

describe('baseName', () => {
  it.each([
    ['100.dcm', '100'],
    ['100.txt', '100'],
    ['case/100.png', '100'],
    ['C:\\export\\IM-0001-0100.dcm', 'IM-0001-0100'],
    ['IM0001', 'IM0001'],
    ['a.b.dcm', 'a.b'],
    ['.hidden', '.hidden'],
  ])('%s → %s', (name, base) => expect(baseName(name)).toBe(base));
});

describe('pairLabels', () => {
  it('pairs each label with the DICOM of its base name, any extension, in any order', () => {
    expect(pairLabels(['48.dcm', '59.dcm', '68.dcm'], ['68.png', '48.txt'])).toEqual([1, undefined, 0]);
  });

  it('without labels pairs nothing, and DICOMs may then share a name', () => {
    expect(pairLabels(['a/1.dcm', 'b/1.dcm'], [])).toEqual([undefined, undefined]);
  });

  it('refuses a label without a DICOM of its base name, naming it and the rule', () => {
    const e = errorOf(() => pairLabels(['48.dcm'], ['48.txt', 'IM-0001-0059-icontour-manual.txt']));
    expect(e.code).toBe('SERIES_LABEL_WITHOUT_DICOM');
    expect(e.message).toMatch(/1 label has no DICOM of the same base name: "IM-0001-0059-icontour-manual.txt"/);
    expect(e.message).toMatch(/100\.dcm ↔ 100\.txt/);
    expect(toHttpError(e).status).toBe(400);
  });

  it('refuses two labels for one DICOM, and two DICOMs of one base name when labels are sent', () => {
    expect(errorOf(() => pairLabels(['48.dcm'], ['48.txt', '48.png'])).code).toBe('SERIES_DUPLICATE_LABEL');
    expect(errorOf(() => pairLabels(['48.dcm', 'x/48.DCM'], ['48.txt'])).code).toBe('SERIES_DUPLICATE_FILE_NAME');
  });
});

describe('assertOneSeries', () => {
  const uid = (k: number) => `1.2.3.${k}`;

  it('accepts one series, and images without a SeriesInstanceUID when none has one', () => {
    expect(() => assertOneSeries([{ seriesInstanceUid: '1.2', sopInstanceUid: uid(1) }, { seriesInstanceUid: '1.2', sopInstanceUid: uid(2) }], ['a', 'b'])).not.toThrow();
    expect(() => assertOneSeries([{}, {}], ['a', 'b'])).not.toThrow();
  });

  it('refuses mixed series (422), naming files but no UID', () => {
    const metas = [
      { seriesInstanceUid: '1.2.840.1', sopInstanceUid: uid(1) },
      { seriesInstanceUid: '1.2.840.1', sopInstanceUid: uid(2) },
      { seriesInstanceUid: '1.2.840.2', sopInstanceUid: uid(3) },
    ];
    const e = errorOf(() => assertOneSeries(metas, ['a.dcm', 'b.dcm', 'other.dcm']));
    expect(e.code).toBe('DICOM_MIXED_SERIES');
    expect(e.message).toMatch(/2 series.*"other\.dcm" differ from "a\.dcm"/);
    expect(e.message).not.toMatch(/1\.2\.840/);
    expect(toHttpError(e).status).toBe(422);
    // A file without a SeriesInstanceUID among files with one is another series too.
    expect(errorOf(() => assertOneSeries([metas[0], {}], ['a', 'b'])).message).toMatch(/or none/);
  });

  it('refuses the same SOP Instance twice', () => {
    const e = errorOf(() => assertOneSeries([{ sopInstanceUid: uid(1) }, { sopInstanceUid: uid(1) }], ['a.dcm', 'copy.dcm']));
    expect(e.code).toBe('DICOM_DUPLICATE_INSTANCE');
    expect(e.message).toMatch(/"a\.dcm" and "copy\.dcm"/);
  });
});

describe('uploadErrorToLvseg', () => {
  it.each([
    ['LIMIT_FILE_SIZE', 'FILE_TOO_LARGE', 413],
    ['LIMIT_FILE_COUNT', 'SERIES_TOO_MANY_FILES', 413],
    ['LIMIT_PART_COUNT', 'SERIES_TOO_MANY_FILES', 413],
    ['LIMIT_FIELD_COUNT', 'UNEXPECTED_FIELD', 400],
    ['LIMIT_UNEXPECTED_FILE', 'UNEXPECTED_FIELD', 400],
    ['MISSING_FIELD_NAME', 'MULTIPART_MALFORMED', 400],
  ] as const)('multer %s → %s (%i)', (multerCode, code, status) => {
    const e = uploadErrorToLvseg(new multer.MulterError(multerCode, 'files'), limits);
    expect(e).toMatchObject({ code });
    expect(toHttpError(e).status).toBe(status);
  });

  it('names the limits in the messages', () => {
    expect((uploadErrorToLvseg(new multer.MulterError('LIMIT_FILE_SIZE', 'labels'), limits) as Error).message).toMatch(/a "labels" part is over 16 MiB.*LVSEG_MAX_BODY_MB/);
    expect((uploadErrorToLvseg(new multer.MulterError('LIMIT_FILE_COUNT'), limits) as Error).message).toMatch(/more than 400 "files" parts.*LVSEG_SERIES_MAX_FILES/);
  });

  it('makes busboy parse errors a 400 and lets LvsegErrors pass', () => {
    const e = uploadErrorToLvseg(new Error('Unexpected end of form'), limits);
    expect(e).toMatchObject({ code: 'MULTIPART_MALFORMED', message: 'malformed multipart body: Unexpected end of form' });
    expect(toHttpError(e).status).toBe(400);
    const own = new LvsegError('too-large', 'SERIES_TOO_LARGE', 'x');
    expect(uploadErrorToLvseg(own, limits)).toBe(own);
  });
});

describe('assertDeclaredLength', () => {
  it('refuses a body declaring more than the total plus the framing allowance, before reading it', () => {
    expect(() => assertDeclaredLength(undefined, limits)).not.toThrow();
    expect(() => assertDeclaredLength(String(limits.maxTotalBytes + MULTIPART_FRAMING_ALLOWANCE_BYTES), limits)).not.toThrow();
    const e = errorOf(() => assertDeclaredLength(String(limits.maxTotalBytes + MULTIPART_FRAMING_ALLOWANCE_BYTES + 1), limits));
    expect(e.code).toBe('SERIES_TOO_LARGE');
    expect(e.message).toMatch(/over 128 MiB.*LVSEG_SERIES_MAX_MB/);
    expect(toHttpError(e).status).toBe(413);
  });
});

describe('aboutPart and shownName', () => {
  it('puts the part in front of the message, keeping kind and code', () => {
    const e = errorOf(() =>
      aboutPart('files', 'notes.txt', () => {
        throw new LvsegError('invalid-input', 'DICOM_NOT_PART10', "not a DICOM Part 10 file: no 'DICM' prefix");
      }),
    );
    expect(e).toMatchObject({ kind: 'invalid-input', code: 'DICOM_NOT_PART10', message: `files part "notes.txt": not a DICOM Part 10 file: no 'DICM' prefix` });
    expect(aboutPart('files', 'x', () => 7)).toBe(7);
  });

  it('shows client names quoted, without control characters, at most 80 characters', () => {
    expect(shownName('a\nb\u0000.dcm')).toBe('"ab.dcm"');
    expect(shownName('x'.repeat(200))).toHaveLength(82);
  });
});

describe('the series query', () => {
  it('takes model only', () => {
    expect(parseSegmentQuery({ model: ' production ' }, SERIES_QUERY_KEYS)).toEqual({ model: 'production' });
    const e = errorOf(() => parseSegmentQuery({ heatmaps: 'all' }, SERIES_QUERY_KEYS));
    expect(e).toMatchObject({ code: 'UNKNOWN_QUERY_PARAMETER', message: 'unknown query parameter "heatmaps"; known: model' });
  });
});
