import { randomBytes } from 'node:crypto';
import { Client } from 'minio';
import { S3ModelStore } from './s3-model-store';
import { S3RunStore } from './run-s3-store';
import { openRunStore } from './run-open-store';
import { describeRunStoreContract, sampleRun } from './testing/run-store.contract';
import { sampleModelVersion } from './testing/model-store.contract';
import { startS3rver, type RunningS3rver } from './testing/s3rver';

function listKeys(client: Client, bucket: string, prefix: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const keys: string[] = [];
    const stream = client.listObjectsV2(bucket, prefix, true);
    stream.on('data', (item) => item.name && keys.push(item.name));
    stream.on('error', reject);
    stream.on('end', () => resolve(keys.sort()));
  });
}

describe('S3RunStore against s3rver (in-process S3 server)', () => {
  let server: RunningS3rver;
  let client: Client;
  beforeAll(async () => {
    server = await startS3rver();
    const url = new URL(server.connection.endpoint);
    client = new Client({ endPoint: url.hostname, port: Number(url.port), useSSL: false, accessKey: server.connection.accessKey, secretKey: server.connection.secretKey, pathStyle: true });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const prefix = 'lvseg/models';
  describeRunStoreContract('S3RunStore', async (now) => {
    const bucket = `lvseg-${randomBytes(5).toString('hex')}`;
    const open = (n: () => Date) => new S3RunStore({ ...server.connection, bucket, prefix, now: n });
    return {
      store: open(now),
      reopen: open,
      keys: async () => ((await client.bucketExists(bucket)) ? (await listKeys(client, bucket, `${prefix}/`)).map((k) => k.slice(prefix.length + 1)) : []),
    };
  });

  it('shares a bucket and prefix with the model store, each seeing only its own objects', async () => {
    const bucket = `lvseg-${randomBytes(5).toString('hex')}`;
    const models = new S3ModelStore({ ...server.connection, bucket, prefix });
    const card = await models.publish(sampleModelVersion());
    const runs = openRunStore(models.uri, { s3: server.connection });
    expect(runs.uri).toBe(`s3://${bucket}/${prefix}/runs/`);
    const run = await runs.createRun(sampleRun());
    expect((await models.list()).map((c) => c.version)).toEqual([card.version]);
    expect((await runs.listRuns()).map((r) => r.id)).toEqual([run.id]);
    expect(await listKeys(client, bucket, `${prefix}/runs/`)).toEqual([`${prefix}/runs/${run.id}/epochs.json`, `${prefix}/runs/${run.id}/run.json`]);
  });

  it('answers an unreachable endpoint with an unavailable error that names no secret', async () => {
    const runs = new S3RunStore({ endpoint: 'http://127.0.0.1:9', accessKey: 'AK', secretKey: 'SECRET-do-not-log', bucket: 'lvseg-x1', prefix });
    const err = await runs.listRuns().then(() => undefined, (e: Error & { kind?: string }) => e);
    expect(err?.kind).toBe('unavailable');
    expect(err?.message).not.toContain('SECRET-do-not-log');
  });
});
