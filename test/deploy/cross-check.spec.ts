/**
 * Every environment variable, port and path that k8s/, docker-compose.yml, Dockerfile.gpu and retrain.sh hand to
 * lvseg is one the code really uses: variables are found in the sources (support/code-env.ts) and their values go
 * through lvseg's own config validation; HTTP paths are asked of the real inference app; ports and file paths are
 * compared across the files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import { loadConfig } from '@lvseg/config';
import type { NestExpressApplication } from '@nestjs/platform-express';
import pino from 'pino';
import { openModelStore } from '@lvseg/model-store';
import { createInferenceApp } from '../../services/inference/src/create-app';
import { workerSettings } from '../../services/inference/src/pacs/queue/series-worker';
import { startInferenceApp, RunningInferenceApp } from '../support/inference-app';
import { envVarsReadByCode } from './support/code-env';
import { loadCompose, parseEnvFile, serviceEnvironment } from './support/compose';
import { envNotReadByCode, envWithSecretFiles, LvsegContainer, lvsegContainers, SECRET_FILES, SECRET_PLACEHOLDER, shellVariables } from './support/cross-check';
import { K8sObject, kubectlVersion, renderKustomization } from './support/kustomize';
import { podTemplates } from './support/manifest-rules';
import { K8S_DIR, OVERLAYS, readRepoFile } from './support/repo-files';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

const kubectl = kubectlVersion();
const readByCode = envVarsReadByCode();
const dockerfile = DockerfileParser.parse(readRepoFile('Dockerfile.gpu'));
const finalStage = dockerfile.getFROMs().at(-1)!;
const finalInstructions = () => dockerfile.getInstructions().filter((i) => i.getRange().start.line >= finalStage.getRange().start.line);
const composeEnv = parseEnvFile(readRepoFile('.env.example'));
const compose = loadCompose([readRepoFile('docker-compose.yml')], composeEnv);
const composeLvseg = Object.entries<Json>(compose.services).filter(([, s]) => s.build?.dockerfile === 'Dockerfile.gpu');

let rendered: Record<string, K8sObject[]> = {};
beforeAll(() => {
  if (!kubectl.ok) throw new Error(kubectl.reason);
  rendered = Object.fromEntries(OVERLAYS.map((o) => [o, renderKustomization(join(K8S_DIR, 'overlays', o))]));
});
/** Status of one request, on a fresh connection (no keep-alive socket outlives the test). */
function httpStatus(url: string, method = 'GET', body?: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const bodyHeaders = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
    const req = request(url, { method, agent: false, headers: { ...bodyHeaders, ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const SCRAPE_SECRET = 'scrape-secret-0123456789abcdef';
const containers = (overlay: string): LvsegContainer[] => lvsegContainers(rendered[overlay]);
const byName = (overlay: string, name: string) => containers(overlay).filter((c) => c.container.name === name);

describe('deployment files vs the code', () => {
  it('finds the variables the code reads (the configuration schema, and any other reader)', () => {
    for (const name of ['PORT', 'LVSEG_MODEL_STORE', 'S3_ENDPOINT', 'S3_ACCESS_KEY', 'S3_SECRET_KEY', 'LVSEG_DATA_DIR', 'LVSEG_MIN_PROMOTE_DICE', 'LVSEG_BACKEND', 'LVSEG_GIT_COMMIT']) {
      expect([name, readByCode.has(name)]).toEqual([name, true]);
    }
    expect(readByCode.get('PORT')).toContain('libs/config/src/schema.ts');
  });

  describe.each(OVERLAYS)('k8s overlay %s', (overlay) => {
    it('sets only variables the code reads', () => {
      const sets = containers(overlay).map((c) => ({ id: c.id, names: Object.keys(c.env) }));
      expect(sets.map((x) => x.id).sort()).toEqual([
        'CronJob/lvseg-retrain container trainer',
        'Deployment/lvseg-inference container inference',
        'Deployment/lvseg-worker container worker',
        'Job/lvseg-train container trainer',
        'StatefulSet/lvseg-pacs container pacs-bridge',
      ]);
      expect(envNotReadByCode(sets, readByCode)).toEqual([]);
    });

    it('gives the series workers and the bridge a queue configuration its validation accepts, and the workers a PACS one', () => {
      const [worker] = byName(overlay, 'worker');
      const [bridge] = byName(overlay, 'pacs-bridge');
      for (const c of [worker, bridge]) expect([c.id, loadConfig(envWithSecretFiles(c, SECRET_FILES)).queue?.redisUrl]).toEqual([c.id, 'redis://lvseg-redis:6379/0']);
      expect(loadConfig(envWithSecretFiles(byName(overlay, 'inference')[0], SECRET_FILES)).queue).toBeUndefined();
      // What `lvseg worker` itself requires (Redis and the PACS), and a whole configuration that loads.
      expect(workerSettings(loadConfig(worker.env)).pacs.credentials).toEqual({ username: SECRET_PLACEHOLDER, password: SECRET_PLACEHOLDER });
      expect(loadConfig(worker.env).pacs?.url).toBe(loadConfig(envWithSecretFiles(bridge, SECRET_FILES)).pacs!.url);
    });

    it('gives the inference service a configuration its own validation accepts, on the port the probes use', () => {
      for (const c of byName(overlay, 'inference')) {
        const config = loadConfig(envWithSecretFiles(c, SECRET_FILES));
        expect(config.modelStore).toMatch(/^s3:\/\//);
        expect(config.s3).toEqual({ endpoint: c.env.S3_ENDPOINT, accessKey: SECRET_PLACEHOLDER, secretKey: SECRET_PLACEHOLDER });
        expect(c.container.ports.map((p: Json) => p.containerPort)).toEqual([config.inference.port]);
        const annotations = rendered[overlay].find((o) => o.kind === 'Deployment')!;
        expect((annotations as Json).spec.template.metadata.annotations['prometheus.io/port']).toBe(String(config.inference.port));
      }
    });

    it('gives the PACS bridge a PACS configuration its validation accepts, and the inference pods none', () => {
      // The whole configuration is validated at once, the API keys file the pods mount included.
      expect(loadConfig(envWithSecretFiles(byName(overlay, 'inference')[0], SECRET_FILES)).pacs).toBeUndefined();
      const [bridge] = byName(overlay, 'pacs-bridge');
      const pacs = loadConfig(envWithSecretFiles(bridge, SECRET_FILES)).pacs!;
      expect(pacs.credentials).toEqual({ username: SECRET_PLACEHOLDER, password: SECRET_PLACEHOLDER });
      expect(pacs.dicomWebUrl).toBe(`${pacs.url}/dicom-web`);
      expect(bridge.container.volumeMounts).toContainEqual({ name: 'pacs-state', mountPath: pacs.stateDir });
      // The PACS the bridge calls lives where the NetworkPolicy lets the webhook come from.
      const namespace = /^http:\/\/[a-z0-9-]+\.([a-z0-9-]+)\.svc\.cluster\.local:\d+$/.exec(pacs.url)![1];
      const policy = rendered[overlay].find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'lvseg-pacs-ingress') as Json;
      expect(policy.spec.ingress[0].from[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name']).toBe(namespace);
    });

    it('gives every pod serving the API its keys from a Secret: authentication on, every interface, never anonymous', () => {
      const serving = [...byName(overlay, 'inference'), ...byName(overlay, 'pacs-bridge')];
      expect(serving).toHaveLength(2);
      for (const c of serving) {
        expect([c.id, c.env.LVSEG_ALLOW_ANONYMOUS, c.env.LVSEG_HOST]).toEqual([c.id, undefined, undefined]);
        const config = loadConfig(envWithSecretFiles(c, SECRET_FILES));
        expect([c.id, config.auth.anonymous, config.auth.apiKeys.map((k) => k.name), config.inference.host]).toEqual([c.id, false, ['deploy-check'], undefined]);
      }
      // Without the Secret file the configuration does not load: the pod would not start rather than run open.
      expect(() => loadConfig(serving[0].env)).toThrow(/LVSEG_API_KEYS names the file \/etc\/lvseg\/api-keys\/keys, which cannot be read/);
      for (const c of containers(overlay)) expect([c.id, c.env.LVSEG_ALLOW_ANONYMOUS]).toEqual([c.id, undefined]);
    });

    it('gives the trainer a configuration its validation accepts, with the data volume where LVSEG_DATA_DIR says', () => {
      const trainers = byName(overlay, 'trainer');
      expect(trainers).toHaveLength(2); // Job and CronJob
      for (const c of trainers) {
        const config = loadConfig(c.env);
        expect(config.dataDir).toBe('/data');
        const data = c.container.volumeMounts.find((m: Json) => m.mountPath === c.env.LVSEG_DATA_DIR);
        expect(c.podSpec.volumes.find((v: Json) => v.name === data.name).persistentVolumeClaim.claimName).toBe('lvseg-data');
        expect(config.minPromoteDice).toBe(0.85);
      }
    });

    it('runs as the user the image creates, with the GPU cache in its home', () => {
      const user = finalInstructions().filter((i) => i.getKeyword() === 'USER').at(-1)!.getArgumentsContent()!;
      const home = /--home-dir (\S+)/.exec(readRepoFile('Dockerfile.gpu'))![1];
      // (Redis runs its own image as that image's user.)
      for (const t of podTemplates(rendered[overlay]).filter((x) => x.labels['app.kubernetes.io/component'] !== 'queue')) {
        expect(`${t.spec.securityContext.runAsUser}:${t.spec.securityContext.runAsGroup}`).toBe(user);
        for (const m of t.spec.containers[0].volumeMounts) if (m.name === 'cuda-cache') expect(m.mountPath.startsWith(`${home}/`)).toBe(true);
      }
    });
  });

  it('reports a variable the code does not read (checked on a changed copy of the rendered Deployment)', () => {
    const objects = structuredClone(rendered.cpu);
    const deployment = objects.find((o) => o.kind === 'Deployment') as Json;
    deployment.spec.template.spec.containers[0].env.push({ name: 'LVSEG_MODEL_BUCKET', value: 'models' });
    const sets = lvsegContainers(objects).map((c) => ({ id: c.id, names: Object.keys(c.env) }));
    expect(envNotReadByCode(sets, readByCode)).toEqual(['Deployment/lvseg-inference container inference: LVSEG_MODEL_BUCKET']);
  });

  it('docker-compose.yml sets only variables the code reads, with values its validation accepts', () => {
    expect(composeLvseg.map(([name]) => name).sort()).toEqual(['inference', 'trainer', 'worker']);
    const sets = composeLvseg.map(([name, s]) => ({ id: `compose ${name}`, names: Object.keys(serviceEnvironment(s)) }));
    expect(envNotReadByCode(sets, readByCode)).toEqual([]);
    const inference = loadConfig(serviceEnvironment(compose.services.inference));
    // API keys from .env (compose refuses to start without them), so the service listens beyond its loopback.
    expect([inference.auth.anonymous, inference.auth.apiKeys.map((k) => k.name), inference.inference.host]).toEqual([false, ['viewer', 'admin'], undefined]);
    expect(serviceEnvironment(compose.services.inference).LVSEG_ALLOW_ANONYMOUS).toBeUndefined();
    expect(compose.services.inference.ports).toEqual([`${composeEnv.LVSEG_HTTP_PORT}:${inference.inference.port}`]);
    const pacs = loadConfig(serviceEnvironment(compose.services.inference)).pacs!;
    expect(pacs.url).toBe('http://orthanc:8042');
    expect(compose.services.inference.volumes).toEqual([`lvseg-pacs:${pacs.stateDir}`]);
    expect(loadConfig(serviceEnvironment(compose.services.inference)).queue?.redisUrl).toBe('redis://redis:6379/0');
    expect(workerSettings(loadConfig(serviceEnvironment(compose.services.worker))).pacs.url).toBe(pacs.url);
    const trainer = loadConfig(serviceEnvironment(compose.services.trainer));
    expect(compose.services.trainer.volumes).toContain(`${composeEnv.LVSEG_DATA_HOST_DIR}:${trainer.dataDir}:ro`);
  });

  it('Dockerfile.gpu sets only variables the code reads, and exposes the port the service listens on by default', () => {
    const envNames = finalInstructions()
      .filter((i) => i.getKeyword() === 'ENV')
      .map((i) => i.getArgumentsContent()!.split('=')[0]);
    expect(envNames).toEqual(['LVSEG_GIT_COMMIT']);
    expect(envNotReadByCode([{ id: 'Dockerfile.gpu', names: envNames }], readByCode)).toEqual([]);
    const exposed = finalInstructions().filter((i) => i.getKeyword() === 'EXPOSE').map((i) => Number(i.getArgumentsContent()));
    expect(exposed).toEqual([loadConfig({}).inference.port]);
  });

  it('retrain.sh reads only variables the code reads too', () => {
    const names = shellVariables(readRepoFile('k8s/base/retrain.sh'));
    expect(names).toEqual(['LVSEG_MIN_PROMOTE_DICE']);
    expect(envNotReadByCode([{ id: 'retrain.sh', names }], readByCode)).toEqual([]);
  });

  it('runs the entry points package.json names', () => {
    const pkg = JSON.parse(readRepoFile('package.json'));
    const cmd = finalInstructions().find((i) => i.getKeyword() === 'CMD')!.getArgumentsContent()!;
    expect(JSON.parse(cmd)).toEqual(pkg.scripts.start.split(' '));
    // `lvseg worker` segments as the service does: the CLI's shebang gives node the same flags as `npm start`.
    const startFlags = pkg.scripts.start.split(' ').slice(1, -1);
    expect(startFlags.length).toBeGreaterThan(0);
    expect(readRepoFile('services/trainer/src/main.ts').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${startFlags.join(' ')}`);
    expect(readRepoFile('Dockerfile.gpu')).toContain(`ln -s /app/${pkg.bin.lvseg} /usr/local/bin/lvseg`);
  });

  describe('HTTP paths, asked of the real inference app', () => {
    let app: RunningInferenceApp;
    let pacsApp: NestExpressApplication;
    let pacsUrl: string;
    let dir: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'lvseg-deploy-paths-'));
      // An empty store: the app runs, serves its routes, and is (correctly) not ready. With an API key, as deployed.
      app = await startInferenceApp(openModelStore(`file://${join(dir, 'store')}`), {
        LOG_LEVEL: 'silent',
        LVSEG_ALIAS_POLL_SECONDS: '60',
        LVSEG_ENGINE: 'tfjs',
        LVSEG_API_KEYS: `prometheus:${SCRAPE_SECRET}:lvseg:read`,
      });
      // The same app with the PACS integration on, as main.ts builds it when PACS_URL is set (no PACS answers there).
      const env = { LOG_LEVEL: 'silent', LVSEG_ALIAS_POLL_SECONDS: '60', PACS_URL: 'http://127.0.0.1:9', PACS_WEBHOOK_SECRET: 'a'.repeat(32), PACS_POLL_SECONDS: '3600', LVSEG_PACS_STATE_DIR: join(dir, 'pacs') };
      pacsApp = await createInferenceApp({
        config: loadConfig({ ...env, LVSEG_ENGINE: 'tfjs' }),
        store: openModelStore(`file://${join(dir, 'store')}`),
        logger: pino({ level: 'silent' }),
        pacs: { config: loadConfig(env).pacs! },
      });
      await pacsApp.listen(0, '127.0.0.1');
      pacsUrl = `http://127.0.0.1:${(pacsApp.getHttpServer().address() as { port: number }).port}`;
    });
    afterAll(async () => {
      await app?.close();
      await pacsApp?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const usedPaths = (): Map<string, string[]> => {
      const paths = new Map<string, string[]>();
      const add = (path: string, where: string) => paths.set(path, [...(paths.get(path) ?? []), where]);
      for (const overlay of OVERLAYS) {
        for (const c of containers(overlay)) {
          for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
            if (c.container[probe]?.httpGet) add(c.container[probe].httpGet.path, `${overlay} ${c.id} ${probe}`);
          }
        }
        const d = rendered[overlay].find((o) => o.kind === 'Deployment') as Json;
        add(d.spec.template.metadata.annotations['prometheus.io/path'], `${overlay} prometheus.io/path`);
      }
      const healthcheck = dockerfile.getHEALTHCHECKs()[0].getArgumentsContent()!;
      add(/path: '([^']+)'/.exec(healthcheck)![1], 'Dockerfile.gpu HEALTHCHECK');
      return paths;
    };

    it('answers every path the probes, the scrape annotation and the HEALTHCHECK use (probes without a credential, /metrics with a read key)', async () => {
      const paths = usedPaths();
      expect([...paths.keys()].sort()).toEqual(['/health/live', '/health/ready', '/metrics']);
      const status: Record<string, number> = {};
      for (const path of paths.keys()) status[path] = await httpStatus(app.url + path);
      // No model in the store: ready is 503 (as a readiness probe should see it), live 200; /metrics needs a key.
      expect(status).toEqual({ '/health/live': 200, '/health/ready': 503, '/metrics': 401 });
      expect(await httpStatus(app.url + '/metrics', 'GET', undefined, { authorization: `Bearer ${SCRAPE_SECRET}` })).toBe(200);
    });

    it('would catch a path the app does not serve', async () => {
      expect(await httpStatus(app.url + '/healthz')).toBe(404);
    });

    it('serves the webhook URL Orthanc is given (compose, docs) only with PACS_URL set, on the port the bridge exposes', async () => {
      const orthancJson = JSON.parse(serviceEnvironment(compose.services.orthanc).ORTHANC_JSON);
      const composeHook = new URL(orthancJson.Lvseg.WebhookUrl);
      expect(composeHook.host).toBe(`inference:${loadConfig(serviceEnvironment(compose.services.inference)).inference.port}`);
      const docsHook = new URL(/http:\/\/lvseg-pacs\.lvseg\.svc\.cluster\.local:\d+\/\S+?(?=[`\s)])/.exec(readRepoFile('docs/DEPLOY.md'))![0]);
      const service = rendered.cpu.find((o) => o.kind === 'Service' && o.metadata.name === 'lvseg-pacs') as Json;
      expect(Number(docsHook.port)).toBe(service.spec.ports[0].port);
      expect(Number(docsHook.port)).toBe(loadConfig(envWithSecretFiles(byName('cpu', 'pacs-bridge')[0], SECRET_FILES)).inference.port);
      expect(docsHook.pathname).toBe(composeHook.pathname);
      // Unsigned: refused by the webhook (401), which exists only where the PACS integration is on.
      const post = (base: string) => httpStatus(base + composeHook.pathname, 'POST', '{}');
      expect(await post(pacsUrl)).toBe(401);
      expect(await post(app.url)).toBe(404);
    });
  });
});
