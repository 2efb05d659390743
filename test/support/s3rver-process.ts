/**
 * s3rver in a child process: an S3 endpoint that, like a real one, does not share the service's event loop. (In the
 * same process, a busy inference loop starves the in-process server and the test measures the harness, not the app.)
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3ConnectionOptions } from '@lvseg/model-store';
import { S3RVER_CREDENTIALS } from '../../libs/model-store/src/testing/s3rver';

export interface S3rverProcess {
  connection: S3ConnectionOptions;
  stop(): Promise<void>;
}

const SCRIPT = `
const S3rver = require('s3rver');
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: process.argv[1] });
server.run().then(({ port }) => process.stdout.write('PORT ' + port + '\\n'), (e) => { console.error(e); process.exit(1); });
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
`;

export async function startS3rverProcess(): Promise<S3rverProcess> {
  const directory = await mkdtemp(join(tmpdir(), 'lvseg-s3rver-proc-'));
  const child: ChildProcess = spawn(process.execPath, ['-e', SCRIPT, directory], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`s3rver process exited with ${code} before listening`)));
  });
  return {
    connection: { endpoint: `http://127.0.0.1:${port}`, ...S3RVER_CREDENTIALS },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}
