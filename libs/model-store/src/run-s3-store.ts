import type { Readable } from 'node:stream';
import { Client } from 'minio';
import { LvsegError } from '@lvseg/common';
import { RUNS_DIR, RunStoreCore, type RunStoreCommonOptions } from './run-store';
import type { S3ConnectionOptions } from './s3-model-store';
import { listS3Keys, readBody, s3Code, S3_NOT_FOUND_CODES } from './s3-objects';

export interface S3RunStoreOptions extends RunStoreCommonOptions, S3ConnectionOptions {
  bucket: string;
  /** The model store's key prefix (e.g. `lvseg/models`); runs live under `<prefix>/runs/`. */
  prefix?: string;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE']);

/**
 * Training runs in an S3 bucket beside the model versions: `<prefix>/runs/<id>/…`. S3 has no append, so the epoch
 * list and the heatmap index are rewritten whole on every change (they are small); a PUT is atomic for readers.
 */
export class S3RunStore extends RunStoreCore {
  readonly uri: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: Client;
  private readonly endpoint: string;
  private readonly region?: string;
  private bucketReady?: Promise<void>;

  constructor(options: S3RunStoreOptions) {
    super(options);
    if (!BUCKET_NAME.test(options.bucket) || options.bucket.includes('..')) {
      throw new LvsegError('config', 'MODEL_STORE_S3_CONFIG', `invalid S3 bucket name ${JSON.stringify(options.bucket)}`);
    }
    const segments = (options.prefix ?? '').split('/').filter((s) => s !== '');
    if (segments.some((s) => !PREFIX_SEGMENT.test(s) || s.includes('..'))) {
      throw new LvsegError('config', 'MODEL_STORE_S3_CONFIG', `invalid S3 key prefix ${JSON.stringify(options.prefix)}`);
    }
    if (!options.accessKey || !options.secretKey) {
      throw new LvsegError('config', 'MODEL_STORE_S3_CONFIG', 'S3 run store needs an access key and a secret key (S3_ACCESS_KEY, S3_SECRET_KEY)');
    }
    let url: URL;
    try {
      url = new URL(options.endpoint);
    } catch {
      throw new LvsegError('config', 'MODEL_STORE_S3_CONFIG', `S3 endpoint ${JSON.stringify(options.endpoint)} is not a URL (expected e.g. http://127.0.0.1:9000)`);
    }
    const useSSL = url.protocol === 'https:';
    this.bucket = options.bucket;
    this.prefix = segments.length === 0 ? '' : `${segments.join('/')}/`;
    this.uri = `s3://${this.bucket}/${this.prefix}${RUNS_DIR}/`;
    this.endpoint = `${url.protocol}//${url.host}`;
    this.region = options.region || undefined;
    this.client = new Client({
      endPoint: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port ? Number(url.port) : useSSL ? 443 : 80,
      useSSL,
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      ...(this.region ? { region: this.region } : {}),
      pathStyle: true,
    });
  }

  protected async readObject(key: string): Promise<Buffer | undefined> {
    let stream: Readable;
    try {
      stream = await this.client.getObject(this.bucket, this.prefix + key);
    } catch (e) {
      const code = s3Code(e);
      // A bucket that does not exist yet holds no runs.
      if (S3_NOT_FOUND_CODES.has(code ?? '') || code === 'NoSuchBucket') return undefined;
      throw this.mapError(e, `read ${key}`);
    }
    try {
      return await readBody(stream);
    } catch (e) {
      throw this.mapError(e, `read ${key}`);
    }
  }

  protected async writeObject(key: string, bytes: Buffer, contentType: string): Promise<void> {
    await this.ensureBucket();
    try {
      await this.client.putObject(this.bucket, this.prefix + key, bytes, bytes.length, { 'Content-Type': contentType });
    } catch (e) {
      throw this.mapError(e, `write ${key}`);
    }
  }

  protected async listRunIds(): Promise<string[]> {
    const base = `${this.prefix}${RUNS_DIR}/`;
    // Non-recursive: one common prefix per run instead of every heatmap object.
    const names = await listS3Keys(this.client, this.bucket, base, false).catch((e: unknown) => {
      if (s3Code(e) === 'NoSuchBucket') return [] as string[];
      throw this.mapError(e, 'list runs');
    });
    return names.map((p) => p.slice(base.length).replace(/\/$/, '')).filter((id) => id !== '' && !id.includes('/'));
  }

  private ensureBucket(): Promise<void> {
    this.bucketReady ??= (async () => {
      if (await this.client.bucketExists(this.bucket)) return;
      try {
        await this.client.makeBucket(this.bucket, this.region);
      } catch (e) {
        const code = s3Code(e);
        if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw e;
      }
    })().catch((e: unknown) => {
      this.bucketReady = undefined;
      throw this.mapError(e, 'create bucket');
    });
    return this.bucketReady;
  }

  /** S3 and network failures as LvsegErrors; never includes credentials. */
  private mapError(e: unknown, what: string): LvsegError {
    if (e instanceof LvsegError) return e;
    const code = s3Code(e) ?? 'unknown';
    if (NETWORK_CODES.has(code)) {
      return new LvsegError('unavailable', 'RUN_STORE_UNAVAILABLE', `S3 endpoint ${this.endpoint} is unreachable (${code}) while trying to ${what}`, { s3Code: code });
    }
    const message = e instanceof Error ? e.message : String(e);
    return new LvsegError('unavailable', 'RUN_STORE_S3_ERROR', `S3 error on ${this.uri} at ${this.endpoint} while trying to ${what}: ${code}: ${message}`, { s3Code: code });
  }
}

