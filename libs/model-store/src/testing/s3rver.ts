/**
 * An in-process S3 server (s3rver) on 127.0.0.1, a free port and a temp directory, for specs.
 * Test support only: not exported from the library index.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3ConnectionOptions } from '../s3-model-store';

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: { address: string; port: number; silent: boolean; directory: string }) => S3rverInstance;

export interface RunningS3rver {
  connection: S3ConnectionOptions;
  port: number;
  stop(): Promise<void>;
}

/** s3rver accepts exactly these credentials (its built-in account) and checks request signatures against them. */
export const S3RVER_CREDENTIALS = { accessKey: 'S3RVER', secretKey: 'S3RVER' } as const;

/** Starts s3rver; `stop` closes it and removes its directory. */
export async function startS3rver(): Promise<RunningS3rver> {
  // s3rver ships no type declarations; the constructor surface used here is typed above.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3rver = require('s3rver') as S3rverConstructor;
  const directory = await mkdtemp(join(tmpdir(), 'lvseg-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const { port } = await server.run();
  return {
    port,
    connection: { endpoint: `http://127.0.0.1:${port}`, ...S3RVER_CREDENTIALS },
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
