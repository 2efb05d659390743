/**
 * Where a Docker engine answers (`docker info`), builds the CPU image from Dockerfile.gpu and runs /segment in it
 * against a real DICOM; elsewhere the suite is skipped and says why. (The GPU image needs an NVIDIA host as well: it
 * is built and run by hand, docs/DEPLOY.md.)
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeDicom } from '@lvseg/imaging';
import { openModelStore } from '@lvseg/model-store';
import { initBackend } from '@lvseg/model';
import { publishSeededModel } from '../support/models';
import { REPO } from './support/repo-files';

const docker = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8' });
const engine = docker.status === 0 ? docker.stdout.trim() : undefined;
const skipReason = engine ? '' : `no Docker engine (docker info: ${(docker.error?.message ?? docker.stderr ?? '').trim().split('\n').pop()})`;
if (!engine) process.stdout.write(`test/deploy/docker-image.spec.ts skipped: ${skipReason}\n`);

const describeWithDocker = engine ? describe : describe.skip;
const TAG = `lvseg:deploy-test-cpu`;
const run = (args: string[], timeout = 1_800_000) => spawnSync('docker', args, { cwd: REPO, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });

describeWithDocker(`CPU image (Docker ${engine ?? '-'})`, () => {
  let container = '';
  let storeDir = '';
  let url = '';

  beforeAll(async () => {
    const build = run(['build', '-f', 'Dockerfile.gpu', '--build-arg', 'VARIANT=cpu', '-t', TAG, '.']);
    if (build.status !== 0) throw new Error(`docker build failed:\n${build.stderr.slice(-4000)}`);
    // A store with one real (untrained, seeded) model as production, mounted read-only for the non-root user.
    await initBackend();
    storeDir = mkdtempSync(join(tmpdir(), 'lvseg-image-store-'));
    chmodSync(storeDir, 0o755);
    const store = openModelStore(`file://${storeDir}`);
    const card = await publishSeededModel(store, { architecture: 'unet-small' });
    await store.setAlias('production', card.version);
    spawnSync('chmod', ['-R', 'a+rX', storeDir]);
    const started = run(['run', '-d', '--rm', '--read-only', '--tmpfs', '/tmp', '-p', '127.0.0.1::3000', '-v', `${storeDir}:/models:ro`, '-e', 'LVSEG_MODEL_STORE=file:///models', TAG]);
    if (started.status !== 0) throw new Error(`docker run failed: ${started.stderr}`);
    container = started.stdout.trim();
    const port = run(['port', container, '3000/tcp']).stdout.trim().split(':').pop();
    url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 120; i++) {
      const ready = await fetch(`${url}/health/ready`).then((r) => r.status, () => 0);
      if (ready === 200) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error(`the container never became ready:\n${run(['logs', container]).stdout.slice(-4000)}`);
  }, 1_900_000);

  afterAll(() => {
    if (container) run(['rm', '-f', container]);
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  });

  it('segments a real DICOM with /segment', async () => {
    const dicom = readFileSync(join(REPO, 'libs/imaging/test-fixtures/sunnybrook/SCD0000401/100.dcm'));
    const r = await fetch(`${url}/segment`, { method: 'POST', headers: { 'content-type': 'application/dicom' }, body: dicom });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { model: { architecture: string }; image: { rows: number; columns: number }; mask: { png: string }; lvArea: { pixels: number } };
    expect(body.model.architecture).toBe('unet-small');
    const decoded = decodeDicom(dicom).image;
    expect([body.image.rows, body.image.columns]).toEqual([decoded.rows, decoded.columns]);
    expect(Buffer.from(body.mask.png, 'base64').subarray(1, 4).toString()).toBe('PNG');
    expect(body.lvArea.pixels).toBeGreaterThanOrEqual(0);
  });

  it('is healthy by its own HEALTHCHECK and runs as the non-root user', async () => {
    const user = run(['exec', container, 'id', '-u']).stdout.trim();
    expect(user).toBe('10001');
    const live = await fetch(`${url}/health/live`);
    expect(live.status).toBe(200);
  });
});
