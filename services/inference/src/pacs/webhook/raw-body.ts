import type { Request } from 'express';
import { LvsegError } from '@lvseg/common';

/** Largest webhook body accepted: an event is a few hundred bytes. */
export const MAX_WEBHOOK_BODY_BYTES = 64 * 1024;

/**
 * The exact bytes of the request body, as signed. The app parses no JSON (bodyParser is off), so the stream is still
 * unread here; a body an upstream raw parser already read (application/octet-stream) is taken as it is.
 */
export async function readRawBody(req: Request, limit = MAX_WEBHOOK_BODY_BYTES): Promise<Buffer> {
  if (Buffer.isBuffer(req.body)) {
    if (req.body.length > limit) throw tooLarge(limit);
    return req.body;
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function tooLarge(limit: number): LvsegError {
  return new LvsegError('too-large', 'WEBHOOK_BODY_TOO_LARGE', `a webhook event is at most ${limit / 1024} KiB`);
}
