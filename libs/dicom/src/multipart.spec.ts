import { isLvsegError } from '@lvseg/common';
import { boundaryOf, buildMultipartRelated, parseMultipart } from './multipart';

describe('multipart/related', () => {
  it('round-trips binary parts (CRLFs and boundary-like bytes inside a part included)', () => {
    const parts = [Buffer.from([0, 1, 2, 13, 10, 45, 45]), Buffer.from('--lvseg-not-the-boundary\r\n\r\nDICM'), Buffer.alloc(0)];
    const { body, contentType } = buildMultipartRelated(parts);
    expect(contentType).toMatch(/^multipart\/related; type="application\/dicom"; boundary=lvseg-[0-9a-f]{32}$/);
    const back = parseMultipart(body, boundaryOf(contentType)!);
    expect(back.map((p) => p.body)).toEqual(parts);
    expect(back[0].headers['content-type']).toBe('application/dicom');
  });

  it('reads the framing Orthanc answers WADO-RS with (quoted boundary, preamble, extra headers)', () => {
    const ct = 'multipart/related; type="application/dicom"; boundary="3b37bee4-a604"';
    const body = Buffer.from('preamble\r\n--3b37bee4-a604\r\nContent-Type: application/dicom\r\nContent-Length: 4\r\nMIME-Version: 1.0\r\n\r\nDICM\r\n--3b37bee4-a604--\r\n');
    expect(boundaryOf(ct)).toBe('3b37bee4-a604');
    const [p] = parseMultipart(body, '3b37bee4-a604');
    expect(p.body.toString()).toBe('DICM');
    expect(p.headers['mime-version']).toBe('1.0');
  });

  it('has no boundary for other content types', () => {
    expect(boundaryOf('application/dicom')).toBeUndefined();
    expect(boundaryOf(undefined)).toBeUndefined();
    expect(boundaryOf('multipart/related; type="application/dicom"')).toBeUndefined();
  });

  it('refuses truncated or unframed answers with a retryable error', () => {
    for (const body of ['no boundary here', '--b\r\nContent-Type: x\r\n\r\npartial data']) {
      let error: unknown;
      try {
        parseMultipart(Buffer.from(body), 'b');
      } catch (e) {
        error = e;
      }
      expect(isLvsegError(error, 'unavailable')).toBe(true);
      expect((error as { code: string }).code).toBe('PACS_BAD_MULTIPART');
    }
  });
});
