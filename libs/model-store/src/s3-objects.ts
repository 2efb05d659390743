import type { Readable } from 'node:stream';
import type { Client } from 'minio';

/**
 * Keys under `prefix`, collected from the minio client's listing stream: every object name when `recursive`, else the
 * common prefixes one level down (one per "folder", e.g. one per run instead of each of its heat maps).
 */
export function listS3Keys(client: Client, bucket: string, prefix: string, recursive: boolean): Promise<string[]> {
  return new Promise<string[]>((resolve, reject) => {
    const found: string[] = [];
    const stream = client.listObjectsV2(bucket, prefix, recursive);
    stream.on('data', (item) => {
      const key = recursive ? item.name : item.prefix;
      if (key) found.push(key);
    });
    stream.on('error', reject);
    stream.on('end', () => resolve(found));
  });
}

/** S3 error codes that mean "no such object". */
export const S3_NOT_FOUND_CODES: ReadonlySet<string> = new Set(['NoSuchKey', 'NotFound']);

/** The S3 error code of a minio client error (`NoSuchKey`, `AccessDenied`, `ECONNREFUSED`…), if any. */
export function s3Code(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** All bytes of an object's body stream. */
export async function readBody(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}
