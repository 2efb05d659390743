/**
 * docker-compose.yml (and the CPU override) read as Compose would, with .env.example as the .env: services, images,
 * ports, secrets, the GPU reservation, start order and the one-shot jobs. Without a Docker engine nothing is started;
 * what these files do at run time is checked by hand on a Docker host (docs/DEPLOY.md).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { composeVariables, loadCompose, parseEnvFile, serviceEnvironment } from './support/compose';
import { imagePinProblem } from './support/manifest-rules';
import { REPO, readRepoFile } from './support/repo-files';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

const composeText = readRepoFile('docker-compose.yml');
const cpuText = readRepoFile('docker-compose.cpu.yml');
const envExample = parseEnvFile(readRepoFile('.env.example'));
const gpu = loadCompose([composeText], envExample);
const cpu = loadCompose([composeText, cpuText], envExample);
const GPU_RESERVATION = { resources: { reservations: { devices: [{ driver: 'nvidia', count: 1, capabilities: ['gpu'] }] } } };

describe('docker-compose.yml', () => {
  it('has MinIO, its one-shot setup, the inference service, the trainer, Orthanc, Redis and a series worker', () => {
    expect(Object.keys(gpu.services).sort()).toEqual(['inference', 'minio', 'minio-setup', 'orthanc', 'redis', 'trainer', 'worker']);
    expect(Object.keys(cpu.services).sort()).toEqual(Object.keys(gpu.services).sort());
  });

  it('pins every image to a tag that is not latest', () => {
    for (const model of [gpu, cpu]) {
      for (const [name, s] of Object.entries<Json>(model.services)) expect([name, imagePinProblem(s.image)]).toEqual([name, undefined]);
    }
    expect(gpu.services.inference.image).toBe(`lvseg:${envExample.LVSEG_VERSION}-gpu`);
    expect(cpu.services.inference.image).toBe(`lvseg:${envExample.LVSEG_VERSION}-cpu`);
  });

  it('uses exactly the variables .env.example documents, and keeps secrets out of the repository', () => {
    const used = new Set([...composeVariables(composeText), ...composeVariables(cpuText)]);
    expect([...used].sort()).toEqual(Object.keys(envExample).sort());
    for (const [k, v] of Object.entries(envExample)) if (/PASSWORD|SECRET/.test(k)) expect([k, v.startsWith('change-me')]).toEqual([k, true]);
    // Every example API key secret is a placeholder too.
    const keySecrets = envExample.LVSEG_API_KEYS.split(',').map((entry) => entry.split(':')[1]);
    expect(keySecrets.length).toBeGreaterThan(0);
    for (const secret of keySecrets) expect(secret.startsWith('change-me')).toBe(true);
    expect(readRepoFile('.gitignore').split('\n')).toContain('.env');
    expect(readRepoFile('.dockerignore').split('\n')).toContain('.env');
  });

  it('refuses to start without the secrets', () => {
    for (const secret of ['S3_SECRET_KEY', 'MINIO_ROOT_PASSWORD', 'ORTHANC_PASSWORD', 'PACS_WEBHOOK_SECRET']) {
      const env = { ...envExample };
      delete env[secret];
      expect(() => loadCompose([composeText], env)).toThrow(new RegExp(`required variable ${secret} is missing`));
    }
  });

  it('builds the lvseg services from Dockerfile.gpu: GPU variant with a GPU reserved, CPU variant without', () => {
    for (const name of ['inference', 'trainer', 'worker']) {
      expect(gpu.services[name].build).toEqual({ context: '.', dockerfile: 'Dockerfile.gpu', args: { VARIANT: 'gpu' } });
      expect(gpu.services[name].deploy).toEqual(GPU_RESERVATION);
      expect(cpu.services[name].build).toEqual({ context: '.', dockerfile: 'Dockerfile.gpu', args: { VARIANT: 'cpu' } });
      expect(cpu.services[name].deploy).toBeUndefined();
    }
  });

  it('points lvseg at the bucket minio-setup creates, on the port MinIO listens on', () => {
    const minio = gpu.services.minio;
    const address = minio.command[minio.command.indexOf('--address') + 1];
    expect(address).toBe(':9000');
    const setup = gpu.services['minio-setup'];
    const bucket = serviceEnvironment(setup).LVSEG_BUCKET;
    expect(bucket).toBe(envExample.LVSEG_BUCKET);
    expect(setup.command[0]).toContain('mc mb --ignore-existing "local/$LVSEG_BUCKET"');
    expect(setup.command[0]).toContain('mc alias set local http://minio:9000 ');
    for (const name of ['inference', 'trainer']) {
      const env = serviceEnvironment(gpu.services[name]);
      expect(env.S3_ENDPOINT).toBe(`http://minio${address}`);
      expect(env.LVSEG_MODEL_STORE).toBe(`s3://${bucket}/models`);
      expect(env.S3_ACCESS_KEY).toBe(envExample.S3_ACCESS_KEY);
      // lvseg's own account, which minio-setup creates; never the root one.
      expect(setup.command[0]).toContain('mc admin user add local "$S3_ACCESS_KEY" "$S3_SECRET_KEY"');
      expect(env.S3_ACCESS_KEY).not.toBe(envExample.MINIO_ROOT_USER);
    }
  });

  it('starts in order: MinIO healthy → bucket created → lvseg', () => {
    expect(gpu.services.minio.healthcheck.test).toEqual(['CMD', 'mc', 'ready', 'local']);
    expect(gpu.services['minio-setup'].depends_on).toEqual({ minio: { condition: 'service_healthy' } });
    expect(gpu.services['minio-setup'].restart).toBe('no');
    expect(gpu.services.trainer.depends_on).toEqual({ 'minio-setup': { condition: 'service_completed_successfully' } });
    for (const name of ['inference', 'worker']) expect(gpu.services[name].depends_on).toEqual({ 'minio-setup': { condition: 'service_completed_successfully' }, redis: { condition: 'service_healthy' } });
  });

  it('runs the trainer as a one-shot job: retrain.sh (Dice gate before promotion), data read-only', () => {
    const t = gpu.services.trainer;
    expect(t.profiles).toEqual(['train']);
    expect(t.restart).toBe('no');
    expect(t.entrypoint).toEqual(['tini', '--', 'sh', '/opt/lvseg/retrain.sh']);
    expect(t.volumes).toContain('./k8s/base/retrain.sh:/opt/lvseg/retrain.sh:ro');
    expect(existsSync(join(REPO, 'k8s/base/retrain.sh'))).toBe(true);
    expect(t.healthcheck).toEqual({ disable: true });
  });

  it('runs lvseg read-only, without capabilities, writing only to /tmp', () => {
    for (const name of ['inference', 'trainer', 'worker']) {
      const s = gpu.services[name];
      expect([name, s.read_only, s.tmpfs, s.cap_drop, s.security_opt]).toEqual([name, true, ['/tmp'], ['ALL'], ['no-new-privileges:true']]);
    }
    expect(gpu.services.inference.ports).toEqual([`${envExample.LVSEG_HTTP_PORT}:3000`]);
  });

  it('runs Orthanc with the DICOMweb plugin, authentication, and the PACS issue\'s Lua webhook pointed at lvseg', () => {
    const orthanc = gpu.services.orthanc;
    const env = serviceEnvironment(orthanc);
    expect(orthanc.image).toMatch(/^orthancteam\/orthanc:\d+\.\d+\.\d+$/);
    expect(env.DICOM_WEB_PLUGIN_ENABLED).toBe('true');
    const config = JSON.parse(env.ORTHANC_JSON);
    expect(config.AuthenticationEnabled).toBe(true);
    expect(config.RegisteredUsers).toEqual({ [envExample.ORTHANC_USERNAME]: envExample.ORTHANC_PASSWORD });
    // The Lua script from deploy/orthanc/, mounted where LuaScripts says, reads the Lvseg section given here.
    const [script] = config.LuaScripts;
    expect(orthanc.volumes).toContain(`./deploy/orthanc/lvseg-webhook.lua:${script}:ro`);
    const lua = readRepoFile('deploy/orthanc/lvseg-webhook.lua');
    expect(lua).toMatch(/config\['Lvseg'\]/);
    expect(lua).toMatch(/section\['WebhookUrl'\], section\['WebhookSecret'\]/);
    // Both ends share the webhook secret and the Orthanc account.
    const inference = serviceEnvironment(gpu.services.inference);
    expect(config.Lvseg.WebhookSecret).toBe(inference.PACS_WEBHOOK_SECRET);
    expect(config.Lvseg.WebhookUrl).toBe('http://inference:3000/webhooks/pacs');
    expect(config.RegisteredUsers[inference.PACS_USERNAME]).toBe(inference.PACS_PASSWORD);
    expect(inference.PACS_URL).toBe('http://orthanc:8042');
    expect(orthanc.ports).toContain('127.0.0.1:8042:8042');
  });

  it('gives the inference service API keys from .env (required), never anonymous access', () => {
    for (const model of [gpu, cpu]) {
      const env = serviceEnvironment(model.services.inference);
      expect(env.LVSEG_API_KEYS).toBe(envExample.LVSEG_API_KEYS);
      expect(env.LVSEG_ALLOW_ANONYMOUS).toBeUndefined();
      expect(env.LVSEG_HOST).toBeUndefined();
    }
    // Compose refuses to start without the keys (`:?`), rather than start without authentication.
    expect(composeText).toMatch(/LVSEG_API_KEYS: \$\{LVSEG_API_KEYS:\?/);
    expect(() => loadCompose([composeText], { ...envExample, LVSEG_API_KEYS: '' })).toThrow(/LVSEG_API_KEYS/);
  });

  it('keeps the PACS state of lvseg in a named volume', () => {
    expect(gpu.services.inference.volumes).toEqual(['lvseg-pacs:/var/lib/lvseg/pacs']);
    expect(Object.keys(gpu.volumes)).toContain('lvseg-pacs');
    // A fresh named volume takes the owner of the image's directory: the Dockerfile creates it for user 10001.
    expect(readRepoFile('Dockerfile.gpu')).toContain('chown 10001:10001 /app/var /var/lib/lvseg/pacs');
  });

  it('queues PACS series in Redis (append-only, never evicting) for the worker, which reaches the same Orthanc', () => {
    const redis = gpu.services.redis;
    expect(redis.image).toMatch(/^redis:7\.\d+\.\d+-alpine$/);
    expect(redis.command).toEqual(expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']));
    expect(redis.volumes).toEqual(['redis-data:/data']);
    expect(redis.ports).toBeUndefined();
    const inference = serviceEnvironment(gpu.services.inference);
    const worker = serviceEnvironment(gpu.services.worker);
    expect(inference.LVSEG_REDIS_URL).toBe('redis://redis:6379/0');
    expect(worker.LVSEG_REDIS_URL).toBe(inference.LVSEG_REDIS_URL);
    for (const k of ['PACS_URL', 'PACS_USERNAME', 'PACS_PASSWORD', 'LVSEG_MODEL_STORE', 'S3_ENDPOINT']) expect([k, worker[k]]).toEqual([k, inference[k]]);
    expect(gpu.services.worker.command).toEqual(['lvseg', 'worker']);
    // Health = can take jobs: the file touched only while Redis answers (worker-heartbeat.ts).
    expect(gpu.services.worker.healthcheck.test.join(' ')).toContain('/tmp/lvseg-worker.ready');
  });
});
