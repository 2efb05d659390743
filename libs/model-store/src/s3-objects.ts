import type { Readable } from 'node:stream';
import { Client } from 'minio';
import { LvsegError } from '@lvseg/common';

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

/** How to reach an S3-compatible server; the caller fills it from S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION. */
export interface S3ConnectionOptions {
  /** Base URL, e.g. `http://127.0.0.1:9000`; https turns TLS on. */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  /** Omit to let the client discover the bucket's region. */
  region?: string;
}

/** A checked bucket + key prefix on a server, with its client. */
export interface S3Location {
  client: Client;
  bucket: string;
  /** Normalised key prefix: '' or `a/b/`. */
  prefix: string;
  /** `scheme://host[:port]` of the server, for messages. */
  endpoint: string;
  region?: string;
}

/** S3 error codes of a network failure (the server is unreachable, not refusing). */
export const S3_NETWORK_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE']);

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Validates bucket, prefix, endpoint and keys (typed `config` errors naming `what`, e.g. "S3 model store") and builds
 * a path-style minio client: MinIO and most self-hosted servers are addressed by path, not by bucket subdomain.
 */
export function openS3Location(options: S3ConnectionOptions & { bucket: string; prefix?: string }, what: string): S3Location {
  if (!BUCKET_NAME.test(options.bucket) || options.bucket.includes('..')) {
    throw new LvsegError('config', 'MODEL_STORE_S3_CONFIG', `invalid S3 bucket name ${JSON.stringify(options.bucket)}`);
  }
  const prefix = normalizePrefix(options.prefix ?? '');
  const endpoint = parseEndpoint(options.endpoint);
  if (!options.accessKey || !options.secretKey) {
    throw new LvsegError('config', 'MODEL_STORE_S3_CONFIG', `${what} needs an access key and a secret key (S3_ACCESS_KEY, S3_SECRET_KEY)`);
  }
  const region = options.region || undefined;
  const client = new Client({
    endPoint: endpoint.host,
    port: endpoint.port,
    useSSL: endpoint.useSSL,
    accessKey: options.accessKey,
    secretKey: options.secretKey,
    ...(region ? { region } : {}),
    pathStyle: true,
  });
  return { client, bucket: options.bucket, prefix, endpoint: endpoint.href, ...(region ? { region } : {}) };
}

function normalizePrefix(prefix: string): string {
  const segments = prefix.split('/').filter((s) => s !== '');
  for (const s of segments) {
    if (!PREFIX_SEGMENT.test(s) || s.includes('..')) {
      throw new LvsegError('config', 'MODEL_STORE_S3_CONFIG', `invalid S3 key prefix ${JSON.stringify(prefix)}: segment ${JSON.stringify(s)} is not a plain name`);
    }
  }
  return segments.length === 0 ? '' : `${segments.join('/')}/`;
}

function parseEndpoint(endpoint: string): { host: string; port: number; useSSL: boolean; href: string } {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new LvsegError('config', 'MODEL_STORE_S3_CONFIG', `S3 endpoint ${JSON.stringify(endpoint)} is not a URL (expected e.g. http://127.0.0.1:9000)`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || (url.pathname !== '/' && url.pathname !== '') || url.search || url.username) {
    throw new LvsegError('config', 'MODEL_STORE_S3_CONFIG', `S3 endpoint ${JSON.stringify(endpoint)} must be http(s)://host[:port] without a path`);
  }
  const useSSL = url.protocol === 'https:';
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : useSSL ? 443 : 80,
    useSSL,
    href: `${url.protocol}//${url.host}`,
  };
}
