import { randomBytes } from 'node:crypto';
import { LvsegError } from '@lvseg/common';

/** One body part of a multipart/related message. */
export interface MultipartPart {
  headers: Record<string, string>;
  body: Buffer;
}

/** The `boundary` parameter of a multipart Content-Type, or undefined. */
export function boundaryOf(contentType: string | null | undefined): string | undefined {
  if (!contentType || !/^multipart\//i.test(contentType.trim())) return undefined;
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

/**
 * Splits a multipart body (RFC 2046) into its parts: what WADO-RS answers (multipart/related; type="application/dicom").
 * Throws an 'unavailable' LvsegError (a PACS answered something broken: worth a retry) when the framing is wrong.
 */
export function parseMultipart(body: Buffer, boundary: string): MultipartPart[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: MultipartPart[] = [];
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new LvsegError('unavailable', 'PACS_BAD_MULTIPART', 'the multipart answer has no boundary line');
  for (;;) {
    pos += delimiter.length;
    // "--" after the delimiter closes the message.
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts;
    // Skip transport padding and the CRLF ending the delimiter line.
    const lineEnd = body.indexOf('\r\n', pos);
    if (lineEnd < 0) throw new LvsegError('unavailable', 'PACS_BAD_MULTIPART', 'a multipart delimiter line is not terminated');
    const headerEnd = body.indexOf('\r\n\r\n', lineEnd);
    if (headerEnd < 0) throw new LvsegError('unavailable', 'PACS_BAD_MULTIPART', 'a multipart part has no header end');
    const headers: Record<string, string> = {};
    for (const line of body.subarray(lineEnd + 2, headerEnd).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const start = headerEnd + 4;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), start);
    if (next < 0) throw new LvsegError('unavailable', 'PACS_BAD_MULTIPART', 'the multipart answer is truncated (no closing boundary)');
    parts.push({ headers, body: body.subarray(start, next) });
    pos = next + 2;
  }
}

/** Builds a multipart/related body of DICOM parts (what STOW-RS takes); returns it with its Content-Type. */
export function buildMultipartRelated(parts: Buffer[], type = 'application/dicom'): { body: Buffer; contentType: string } {
  const boundary = `lvseg-${randomBytes(16).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: ${type}\r\nContent-Length: ${p.length}\r\n\r\n`), p, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="${type}"; boundary=${boundary}` };
}
