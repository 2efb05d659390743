import type { Readable } from 'node:stream';
import type { Client } from 'minio';
import { LvsegError } from '@lvseg/common';
import { CARD_FILE_NAME, type ModelCard } from './model-card';
import { FileModelStore } from './file-model-store';
import { ALIAS_LOG_DIR, ALIASES_FILE_NAME, StoreCore, versionExistsError, type ModelStoreCommonOptions } from './store-core';
import { listS3Keys, openS3Location, readBody, s3Code, S3_NETWORK_CODES, S3_NOT_FOUND_CODES, type S3ConnectionOptions } from './s3-objects';

export type { S3ConnectionOptions } from './s3-objects';

export interface S3ModelStoreOptions extends ModelStoreCommonOptions, S3ConnectionOptions {
  bucket: string;
  /** Key prefix all objects live under, e.g. `lvseg/models`; empty for the bucket root. */
  prefix?: string;
  /** A file store directory whose versions and aliases are uploaded while this store has no aliases yet. */
  seedFrom?: string;
}

const AUTH_CODES = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch']);

/**
 * Model store in an S3 bucket (MinIO, AWS, or anything S3-compatible), same layout as the file store under a prefix:
 * `<prefix>/versions/<version>/{card.json, <files>}`, `<prefix>/aliases/log/<move>.json` and, in stores written by
 * earlier versions or seeded, `<prefix>/aliases.json` (the alias log's starting state).
 *
 * S3 has no multi-object transaction, so a version becomes visible through its card: files are uploaded first and
 * the card last; a version without a card is treated as absent (a crashed upload leaves only invisible objects).
 * Alias moves need no conditional write: each is a new object under a key no other writer produces (see StoreCore),
 * so concurrent moves from any number of processes all land, on any S3 server with read-after-write and
 * list-after-write consistency (AWS S3 since 2020, MinIO, s3rver). The card is still written with `If-None-Match: *`,
 * which only servers that enforce it turn from check-then-write into an atomic no-overwrite.
 */
export class S3ModelStore extends StoreCore {
  readonly uri: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: Client;
  private readonly endpoint: string;
  private readonly region?: string;
  private readonly credentials: S3ConnectionOptions;

  constructor(options: S3ModelStoreOptions) {
    super(options, options.seedFrom !== undefined ? new FileModelStore({ root: options.seedFrom, requireExisting: true }) : undefined);
    const at = openS3Location(options, 'S3 model store');
    ({ client: this.client, bucket: this.bucket, prefix: this.prefix, endpoint: this.endpoint, region: this.region } = at);
    this.uri = `s3://${this.bucket}/${this.prefix}`;
    this.credentials = { endpoint: options.endpoint, accessKey: options.accessKey, secretKey: options.secretKey, ...(this.region ? { region: this.region } : {}) };
  }

  protected async initialize(): Promise<void> {
    if (await this.call('check bucket', () => this.client.bucketExists(this.bucket))) return;
    try {
      await this.client.makeBucket(this.bucket, this.region);
    } catch (e) {
      // Another process may have created it between our check and our create.
      const code = s3Code(e);
      if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw this.mapError(e, 'create bucket');
      if (!(await this.call('check bucket', () => this.client.bucketExists(this.bucket)))) throw this.mapError(e, 'create bucket');
    }
  }

  protected async readCardBytes(version: string): Promise<Buffer | undefined> {
    return this.getIfExists(this.versionKey(version, CARD_FILE_NAME));
  }

  protected async listCardVersions(): Promise<string[]> {
    const base = `${this.prefix}versions/`;
    const names = await this.call('list versions', () => listS3Keys(this.client, this.bucket, base, true));
    // Only `<base><version>/card.json` counts: a version is visible once its card exists.
    return names
      .filter((key) => key.endsWith(`/${CARD_FILE_NAME}`))
      .map((key) => key.slice(base.length, -(CARD_FILE_NAME.length + 1)))
      .filter((version) => version !== '' && !version.includes('/'));
  }

  protected async readModelFile(version: string, name: string): Promise<Buffer | undefined> {
    return this.getIfExists(this.versionKey(version, name));
  }

  protected async writeVersion(card: ModelCard, cardBytes: Buffer, files: Map<string, Buffer>): Promise<void> {
    for (const [name, bytes] of files) {
      await this.call(`upload ${name}`, () =>
        this.client.putObject(this.bucket, this.versionKey(card.version, name), bytes, bytes.length, { 'Content-Type': contentTypeOf(name) }),
      );
    }
    // The card goes last and only if absent: it is what makes the version exist.
    const written = await this.putConditionally(this.versionKey(card.version, CARD_FILE_NAME), cardBytes, { 'If-None-Match': '*' });
    if (!written) throw versionExistsError(card.version);
  }

  protected async deleteCard(version: string): Promise<void> {
    await this.call('delete version card', () => this.client.removeObject(this.bucket, this.versionKey(version, CARD_FILE_NAME)));
  }

  protected async restoreCard(version: string, cardBytes: Buffer): Promise<void> {
    const key = this.versionKey(version, CARD_FILE_NAME);
    await this.call(`write ${key}`, () => this.client.putObject(this.bucket, key, cardBytes, cardBytes.length, { 'Content-Type': 'application/json' }));
  }

  protected async deleteVersionFiles(version: string): Promise<void> {
    const keys = await this.call('list version files', () => listS3Keys(this.client, this.bucket, `${this.prefix}versions/${version}/`, true));
    for (const key of keys) await this.call('delete version file', () => this.client.removeObject(this.bucket, key));
  }

  protected async readAliasDocument(): Promise<Buffer | undefined> {
    return this.getIfExists(this.aliasesKey());
  }

  protected async createAliasDocument(bytes: Buffer): Promise<void> {
    const key = this.aliasesKey();
    // Checked here as well as by the header, for servers that ignore it; seeders race only to write the same seed.
    if ((await this.getIfExists(key)) !== undefined) return;
    await this.putConditionally(key, bytes, { 'If-None-Match': '*' });
  }

  protected async listAliasLog(): Promise<string[]> {
    const base = this.aliasLogPrefix();
    const keys = await this.call('list alias log', () => listS3Keys(this.client, this.bucket, base, true));
    return keys.map((key) => key.slice(base.length)).filter((name) => !name.includes('/'));
  }

  protected async readAliasLogEntry(name: string): Promise<Buffer | undefined> {
    return this.getIfExists(`${this.aliasLogPrefix()}${name}`);
  }

  protected async writeAliasLogEntry(name: string, bytes: Buffer): Promise<void> {
    // A plain PUT: the name is unique to this move, and S3 makes an object visible whole or not at all.
    const key = `${this.aliasLogPrefix()}${name}`;
    await this.call(`write ${key}`, () => this.client.putObject(this.bucket, key, bytes, bytes.length, { 'Content-Type': 'application/json' }));
  }

  /** How this store reaches its server, for a store living beside it (the training runs); never logged. */
  connection(): S3ConnectionOptions {
    return { ...this.credentials };
  }

  private versionKey(version: string, name: string): string {
    return `${this.prefix}versions/${version}/${name}`;
  }

  private aliasesKey(): string {
    return `${this.prefix}${ALIASES_FILE_NAME}`;
  }

  private aliasLogPrefix(): string {
    return `${this.prefix}${ALIAS_LOG_DIR}/`;
  }

  /** PUT guarded by a precondition header; false when the server reports the precondition failed. */
  private async putConditionally(key: string, bytes: Buffer, condition: Record<string, string>): Promise<boolean> {
    const meta = { 'Content-Type': 'application/json', ...condition };
    try {
      await this.client.putObject(this.bucket, key, bytes, bytes.length, meta);
      return true;
    } catch (e) {
      const code = s3Code(e);
      if (code === 'PreconditionFailed' || code === 'ConditionalRequestConflict') return false;
      // A server that rejects conditional PUTs outright: fall back to the unconditional write (checked just before).
      if (code === 'NotImplemented') {
        await this.call(`write ${key}`, () => this.client.putObject(this.bucket, key, bytes, bytes.length, { 'Content-Type': 'application/json' }));
        return true;
      }
      throw this.mapError(e, `write ${key}`);
    }
  }

  private async getIfExists(key: string): Promise<Buffer | undefined> {
    let stream: Readable;
    try {
      stream = await this.client.getObject(this.bucket, key);
    } catch (e) {
      if (S3_NOT_FOUND_CODES.has(s3Code(e) ?? '')) return undefined;
      throw this.mapError(e, `read ${key}`);
    }
    try {
      return await readBody(stream);
    } catch (e) {
      throw this.mapError(e, `read ${key}`);
    }
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw this.mapError(e, what);
    }
  }

  /** S3 and network failures as LvsegErrors; never includes credentials. */
  private mapError(e: unknown, what: string): LvsegError {
    if (e instanceof LvsegError) return e;
    const code = s3Code(e) ?? 'unknown';
    const where = `${this.uri} at ${this.endpoint}`;
    if (AUTH_CODES.has(code)) {
      return new LvsegError('config', 'MODEL_STORE_S3_AUTH', `S3 refused the credentials for ${where} (${code}) while trying to ${what}`, { s3Code: code });
    }
    if (S3_NETWORK_CODES.has(code)) {
      return new LvsegError('unavailable', 'MODEL_STORE_UNAVAILABLE', `S3 endpoint ${this.endpoint} is unreachable (${code}) while trying to ${what}`, { s3Code: code });
    }
    const message = e instanceof Error ? e.message : String(e);
    return new LvsegError('unavailable', 'MODEL_STORE_S3_ERROR', `S3 error on ${where} while trying to ${what}: ${code}: ${message}`, { s3Code: code });
  }
}


function contentTypeOf(name: string): string {
  return name.endsWith('.json') ? 'application/json' : 'application/octet-stream';
}

