import type { Readable } from 'node:stream';
import type { Client } from 'minio';
import { LvsegError } from '@lvseg/common';
import { RUNS_DIR, RunStoreCore, type RunStoreCommonOptions } from './run-store';
import { listS3Keys, openS3Location, readBody, s3Code, S3_NETWORK_CODES, S3_NOT_FOUND_CODES, type S3ConnectionOptions } from './s3-objects';

export interface S3RunStoreOptions extends RunStoreCommonOptions, S3ConnectionOptions {
  bucket: string;
  /** The model store's key prefix (e.g. `lvseg/models`); runs live under `<prefix>/runs/`. */
  prefix?: string;
}


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
    ({ client: this.client, bucket: this.bucket, prefix: this.prefix, endpoint: this.endpoint, region: this.region } = openS3Location(options, 'S3 run store'));
    this.uri = `s3://${this.bucket}/${this.prefix}${RUNS_DIR}/`;
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
    if (S3_NETWORK_CODES.has(code)) {
      return new LvsegError('unavailable', 'RUN_STORE_UNAVAILABLE', `S3 endpoint ${this.endpoint} is unreachable (${code}) while trying to ${what}`, { s3Code: code });
    }
    const message = e instanceof Error ? e.message : String(e);
    return new LvsegError('unavailable', 'RUN_STORE_S3_ERROR', `S3 error on ${this.uri} at ${this.endpoint} while trying to ${what}: ${code}: ${message}`, { s3Code: code });
  }
}

