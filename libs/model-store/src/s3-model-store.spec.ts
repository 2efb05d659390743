import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Client } from 'minio';
import { LvsegError, refusalOf } from '@lvseg/common';
import { S3ModelStore, type S3ConnectionOptions } from './s3-model-store';
import { describeModelStoreContract, sampleModelVersion, type StoreFactory } from './testing/model-store.contract';
import { runAliasMoversTogether } from './testing/alias-movers';
import { startS3rver, type RunningS3rver } from './testing/s3rver';

function rawClient(c: S3ConnectionOptions): Client {
  const url = new URL(c.endpoint);
  return new Client({ endPoint: url.hostname, port: Number(url.port), useSSL: url.protocol === 'https:', accessKey: c.accessKey, secretKey: c.secretKey, pathStyle: true });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function listKeys(client: Client, bucket: string, prefix: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const keys: string[] = [];
    const stream = client.listObjectsV2(bucket, prefix, true);
    stream.on('data', (item) => item.name && keys.push(item.name));
    stream.on('error', reject);
    stream.on('end', () => resolve(keys.sort()));
  });
}

const rejection = refusalOf;

const freshBucket = () => `lvseg-${randomBytes(5).toString('hex')}`;

/** Contract harness for any S3 endpoint: a fresh bucket (created by the store itself) per store. */
function s3StoreFactory(connection: () => S3ConnectionOptions): StoreFactory {
  return async ({ now, seedFrom }) => {
    const bucket = freshBucket();
    const prefix = 'lvseg/models';
    const open = (o: { now: () => Date; seedFrom?: string }) => new S3ModelStore({ ...connection(), bucket, prefix, now: o.now, seedFrom: o.seedFrom });
    const client = rawClient(connection());
    const key = (version: string, name: string) => `${prefix}/versions/${version}/${name}`;
    return {
      store: open({ now, seedFrom }),
      reopen: open,
      overwriteFile: async (version, name, bytes) => {
        await client.putObject(bucket, key(version, name), bytes, bytes.length);
      },
      deleteFile: (version, name) => client.removeObject(bucket, key(version, name)),
      async leaveCrashedPublish(version, files) {
        // A crash before the card upload leaves the files and nothing else.
        if (!(await client.bucketExists(bucket))) await client.makeBucket(bucket);
        for (const [name, bytes] of files) await client.putObject(bucket, key(version, name), bytes, bytes.length);
      },
    };
  };
}

describe('S3ModelStore against s3rver (in-process S3 server)', () => {
  let server: RunningS3rver;
  beforeAll(async () => {
    server = await startS3rver();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('s3rver serves what the store needs from the minio client: bucket create, put, get, list by prefix, stat', async () => {
    const client = rawClient(server.connection);
    const bucket = freshBucket();
    expect(await client.bucketExists(bucket)).toBe(false);
    await client.makeBucket(bucket);
    expect(await client.bucketExists(bucket)).toBe(true);
    const body = randomBytes(3000);
    await client.putObject(bucket, 'p/versions/v1/weights.bin', body, body.length);
    await client.putObject(bucket, 'p/versions/v1/card.json', Buffer.from('{}'), 2, { 'Content-Type': 'application/json' });
    await client.putObject(bucket, 'other/x', Buffer.from('x'), 1);
    expect((await readAll(await client.getObject(bucket, 'p/versions/v1/weights.bin'))).equals(body)).toBe(true);
    expect(await listKeys(client, bucket, 'p/versions/')).toEqual(['p/versions/v1/card.json', 'p/versions/v1/weights.bin']);
    const stat = await client.statObject(bucket, 'p/versions/v1/weights.bin');
    expect(stat.size).toBe(3000);
    expect(stat.etag).toMatch(/^[0-9a-f]{32}$/);
    await expect(client.statObject(bucket, 'p/nope')).rejects.toMatchObject({ code: 'NotFound' });
    await expect(client.getObject(bucket, 'p/nope')).rejects.toMatchObject({ code: 'NoSuchKey' });
  });

  describeModelStoreContract('S3ModelStore on s3rver', s3StoreFactory(() => server.connection));

  describe('S3 specifics', () => {
    const now = () => new Date('2025-03-01T10:00:00.000Z');

    it('creates the bucket and lays objects out under the prefix as documented', async () => {
      const bucket = freshBucket();
      const client = rawClient(server.connection);
      const store = new S3ModelStore({ ...server.connection, bucket, prefix: '/team/lvseg/', now });
      expect(store.uri).toBe(`s3://${bucket}/team/lvseg/`);
      expect(await client.bucketExists(bucket)).toBe(false);
      const card = await store.publish(sampleModelVersion());
      await store.setAlias('production', card.version, { by: 'alice' });
      expect(await client.bucketExists(bucket)).toBe(true);
      const keys = await listKeys(client, bucket, '');
      expect(keys).toEqual([
        expect.stringMatching(/^team\/lvseg\/aliases\/log\/000000000001-20250301T100000\.000Z-[0-9a-f]{32}\.json$/),
        `team/lvseg/versions/${card.version}/card.json`,
        `team/lvseg/versions/${card.version}/model.json`,
        `team/lvseg/versions/${card.version}/weights.bin`,
      ]);
      expect(JSON.parse((await readAll(await client.getObject(bucket, `team/lvseg/versions/${card.version}/card.json`))).toString())).toEqual(card);
      const move = JSON.parse((await readAll(await client.getObject(bucket, keys[0]))).toString());
      expect(move).toEqual({ alias: 'production', action: 'set', version: card.version, at: '2025-03-01T10:00:00.000Z', by: 'alice' });
    });

    it('reads an aliases.json written by an earlier version as the starting state, and leaves it untouched', async () => {
      const bucket = freshBucket();
      const client = rawClient(server.connection);
      const store = new S3ModelStore({ ...server.connection, bucket, prefix: 'm', now });
      const [v1, v2, v3] = [await store.publish(sampleModelVersion()), await store.publish(sampleModelVersion()), await store.publish(sampleModelVersion())].map((c) => c.version);
      const legacy = Buffer.from(JSON.stringify({
        aliases: { production: v2 },
        history: { production: [
          { alias: 'production', action: 'set', version: v1, at: '2025-01-01T00:00:00.000Z' },
          { alias: 'production', action: 'set', version: v2, previous: v1, at: '2025-01-02T00:00:00.000Z' },
        ] },
      }));
      await client.putObject(bucket, 'm/aliases.json', legacy, legacy.length);
      expect(await store.aliases()).toEqual({ production: v2 });
      await store.setAlias('production', v3);
      expect(await store.rollback('production')).toEqual({ alias: 'production', previous: v3, current: v2 });
      expect(await store.rollback('production')).toEqual({ alias: 'production', previous: v2, current: v1 }); // into the old history
      expect((await store.aliasHistory('production')).map((e) => [e.action, e.version])).toEqual([['set', v1], ['set', v2], ['set', v3], ['rollback', v2], ['rollback', v1]]);
      expect((await readAll(await client.getObject(bucket, 'm/aliases.json'))).equals(legacy)).toBe(true);
      expect(await store.delete(v3)).toBeUndefined(); // nothing points at it or would roll back to it any more
      expect((await rejection(store.delete(v1))).message).toBe(`cannot delete ${v1}: alias production points at it`);
    });

    it('puts the card back and refuses when another process points an alias at the version while it is being deleted', async () => {
      const bucket = freshBucket();
      const client = rawClient(server.connection);
      let otherProcess: (() => Promise<unknown>) | undefined;
      /** The real store, paused right after the card is gone to let the other process's move land. */
      class DeleteRacedByPromote extends S3ModelStore {
        protected override async deleteCard(version: string): Promise<void> {
          await super.deleteCard(version);
          await otherProcess?.();
        }
      }
      const store = new DeleteRacedByPromote({ ...server.connection, bucket, prefix: 'm', now });
      const [v0, v1] = [(await store.publish(sampleModelVersion())).version, (await store.publish(sampleModelVersion())).version];
      await store.setAlias('production', v0);
      // It checked v1's card before the delete removed it, and its move lands just after.
      const move = Buffer.from(JSON.stringify({ alias: 'production', action: 'set', version: v1, previous: v0, at: now().toISOString() }));
      otherProcess = () => client.putObject(bucket, `m/aliases/log/000000000002-20250301T100000.000Z-${'f'.repeat(32)}.json`, move, move.length);
      expect(await rejection(store.delete(v1))).toMatchObject({ code: 'MODEL_VERSION_IN_USE', message: `cannot delete ${v1}: alias production points at it` });
      expect((await store.load('production')).card.version).toBe(v1);
    });

    it('s3rver ignores If-Match, which is why alias moves must not depend on conditional writes', async () => {
      // The design before the alias log rewrote aliases.json guarded by If-Match; on a server that ignores the header,
      // two processes that read the same document both "succeed", and the second write drops the first one's move.
      const bucket = freshBucket();
      const client = rawClient(server.connection);
      await client.makeBucket(bucket);
      await client.putObject(bucket, 'aliases.json', Buffer.from('first'), 5);
      await client.putObject(bucket, 'aliases.json', Buffer.from('second'), 6, { 'If-Match': '"00000000000000000000000000000000"' });
      expect((await readAll(await client.getObject(bucket, 'aliases.json'))).toString()).toBe('second');
    });

    it('loses no alias move when separate processes move aliases at the same time', async () => {
      const bucket = freshBucket();
      const prefix = 'shared/models';
      const uri = `s3://${bucket}/${prefix}`;
      const owner = new S3ModelStore({ ...server.connection, bucket, prefix });
      const versions: string[] = [];
      for (let k = 0; k < 4; k++) versions.push((await owner.publish(sampleModelVersion({ weightBytes: 64 }))).version);
      await owner.setAlias('production', versions[0], { by: 'setup', reason: 'setup' });

      const workers = 3;
      const moves = 30;
      const aliases = ['production', 'staging'];
      const outputs = await runAliasMoversTogether(
        Array.from({ length: workers }, (_, i) => ({ uri, s3: server.connection, worker: `w${i}`, index: i, moves, aliases, versions })),
      );

      // What the workers were told, move by move.
      const reported = outputs.flat();
      expect(reported).toHaveLength(workers * moves);
      const landed = reported.filter((r) => r.outcome === 'moved').map((r) => r.reason);
      const notRecorded = reported.filter((r) => r.outcome !== 'moved').map((r) => r.reason);
      expect(landed.length).toBeGreaterThan(0);

      // What the bucket holds, read without the store: one object per recorded move, folded in key order.
      const client = rawClient(server.connection);
      const logKeys = await listKeys(client, bucket, `${prefix}/aliases/log/`);
      const log = await Promise.all(logKeys.map(async (k) => JSON.parse((await readAll(await client.getObject(bucket, k))).toString()) as { alias: string; version: string; reason: string }));
      expect(log.map((e) => e.reason).sort()).toEqual(['setup', ...landed].sort()); // every move recorded, exactly once
      for (const reason of notRecorded) expect(log.some((e) => e.reason === reason)).toBe(false);
      const folded: Record<string, string> = {};
      for (const e of log) folded[e.alias] = e.version;

      // Any process (a fresh instance here) sees the fold, with histories in log order.
      const reader = new S3ModelStore({ ...server.connection, bucket, prefix });
      expect(await reader.aliases()).toEqual(folded);
      expect(await owner.aliases()).toEqual(folded);
      for (const alias of aliases) {
        expect((await reader.aliasHistory(alias)).map((e) => e.reason)).toEqual(log.filter((e) => e.alias === alias).map((e) => e.reason));
      }
      const sequences = logKeys.map((k) => k.slice(`${prefix}/aliases/log/`.length, `${prefix}/aliases/log/`.length + 12));
      // eslint-disable-next-line no-console
      console.info(`cross-process alias moves: ${landed.length} landed of ${reported.length}; ${sequences.length - new Set(sequences).size} made concurrently with another (same sequence number)`);
    });
    it('keeps stores on different prefixes of one bucket apart, and works at the bucket root', async () => {
      const bucket = freshBucket();
      const a = new S3ModelStore({ ...server.connection, bucket, prefix: 'a', now });
      const root = new S3ModelStore({ ...server.connection, bucket, now });
      const va = await a.publish(sampleModelVersion());
      await a.setAlias('production', va.version);
      expect(await root.list()).toEqual([]);
      expect(await root.aliases()).toEqual({});
      const vr = await root.publish(sampleModelVersion({ architecture: 'fcn-paper' }));
      expect((await a.list()).map((c) => c.version)).toEqual([va.version]);
      expect((await root.load(vr.version)).card).toEqual(vr);
      expect(await listKeys(rawClient(server.connection), bucket, 'versions/')).toHaveLength(3);
    });

    it('reports wrong credentials as a config error without leaking the secret', async () => {
      // s3rver checks the access key but does not verify SigV4 signatures (which the minio client uses), so only an
      // unknown access key is refused here; MinIO also refuses a wrong secret.
      const store = new S3ModelStore({ ...server.connection, accessKey: 'NOT-A-KEY', secretKey: 'not-the-secret-xyz', bucket: freshBucket() });
      const err = await store.list().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LvsegError);
      expect(err).toMatchObject({ kind: 'config', code: 'MODEL_STORE_S3_AUTH' });
      expect((err as LvsegError).message).not.toContain('not-the-secret-xyz');
    });

    it('reports an unreachable endpoint as unavailable', async () => {
      const stopped = await startS3rver();
      await stopped.stop(); // a port that was just free and now has no listener
      const store = new S3ModelStore({ ...stopped.connection, bucket: freshBucket() });
      const err = await store.list().catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: 'unavailable', code: 'MODEL_STORE_UNAVAILABLE' });
      expect((err as LvsegError).message).toContain('ECONNREFUSED');
    });

    it('refuses bad connection settings up front', () => {
      const ok = { ...server.connection, bucket: 'models' };
      const cases: [Partial<typeof ok>, RegExp][] = [
        [{ bucket: 'Bad_Bucket' }, /bucket name/],
        [{ bucket: 'a' }, /bucket name/],
        [{ prefix: 'a/../b' } as Partial<typeof ok>, /prefix/],
        [{ endpoint: 'minio:9000' }, /endpoint/],
        [{ endpoint: 'ftp://minio:9000' }, /endpoint/],
        [{ endpoint: 'http://minio:9000/some/path' }, /endpoint/],
        [{ secretKey: '' }, /secret key/],
      ];
      for (const [change, message] of cases) {
        let thrown: unknown;
        try {
          new S3ModelStore({ ...ok, ...change });
        } catch (e) {
          thrown = e;
        }
        expect(thrown).toMatchObject({ kind: 'config' });
        expect((thrown as Error).message).toMatch(message);
      }
    });
  });
});

/**
 * The same contract against a real MinIO in Docker, when a Docker engine and @testcontainers/minio are available.
 * Neither is a dependency of lvseg; without them this block is skipped with the reason printed.
 */
const MINIO_IMAGE = process.env.LVSEG_TEST_MINIO_IMAGE ?? 'minio/minio:RELEASE.2024-01-16T16-07-38Z';
const minioSkipReason = (() => {
  const docker = spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 15_000 });
  if (docker.status !== 0) return 'no Docker engine (`docker info` failed)';
  try {
    require.resolve('@testcontainers/minio');
  } catch {
    return '@testcontainers/minio is not installed';
  }
  return undefined;
})();

if (minioSkipReason) {
  // eslint-disable-next-line no-console
  console.info(`S3ModelStore on MinIO (testcontainers) skipped: ${minioSkipReason}`);
  describe.skip(`S3ModelStore against MinIO in Docker — skipped: ${minioSkipReason}`, () => {
    describeModelStoreContract('S3ModelStore on MinIO', s3StoreFactory(() => {
      throw new Error(`skipped: ${minioSkipReason}`);
    }));
  });
} else {
  describe(`S3ModelStore against MinIO in Docker (${MINIO_IMAGE})`, () => {
    let container: { getHost(): string; getPort(): number; stop(): Promise<unknown> } | undefined;
    let connection: S3ConnectionOptions;
    beforeAll(async () => {
      // Loaded only here so the spec runs where the package is absent.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { MinioContainer } = require('@testcontainers/minio') as {
        MinioContainer: new (image: string) => {
          withUsername(u: string): unknown;
          withPassword(p: string): unknown;
          start(): Promise<{ getHost(): string; getPort(): number; stop(): Promise<unknown> }>;
        };
      };
      const minio = new MinioContainer(MINIO_IMAGE);
      minio.withUsername('lvsegtest');
      minio.withPassword('lvsegtest-secret');
      container = await minio.start();
      connection = { endpoint: `http://${container.getHost()}:${container.getPort()}`, accessKey: 'lvsegtest', secretKey: 'lvsegtest-secret', region: 'us-east-1' };
    }, 180_000);
    afterAll(async () => {
      await container?.stop();
    });
    describeModelStoreContract('S3ModelStore on MinIO', s3StoreFactory(() => connection));
  });
}
