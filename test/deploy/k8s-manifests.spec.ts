/**
 * k8s/ rendered offline with `kubectl kustomize` for each overlay; every object validated against the Kubernetes
 * schema (kubernetes-models), checked for unknown fields (kubernetes-models' TypeScript types) and against lvseg's
 * rules (support/manifest-rules.ts). No cluster is involved: this proves the manifests are well-formed and consistent,
 * not that a cluster accepts and runs them (docs/DEPLOY.md says what was and was not run).
 */
import { join } from 'node:path';
import { parse } from 'yaml';
import { K8sObject, kubectlVersion, renderKustomization } from './support/kustomize';
import { containersOf, podTemplates, validateManifests } from './support/manifest-rules';
import { unknownFieldViolations } from './support/strict-fields';
import { loadConfig } from '@lvseg/config';
import { DEFAULT_PACS_TIMING } from '../../services/inference/src/pacs/jobs/pacs-jobs.service';
import { WORKER_HEARTBEAT_MS, WORKER_PING_TIMEOUT_MS } from '../../services/inference/src/pacs/queue/worker-heartbeat';
import { K8S_DIR, OVERLAYS, Overlay, documentedSecrets, readRepoFile } from './support/repo-files';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

const kubectl = kubectlVersion();

const find = (objects: K8sObject[], kind: string, name: string): Json => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind}/${name} is not rendered`);
  return o;
};
const inferenceContainer = (objects: K8sObject[]) => find(objects, 'Deployment', 'lvseg-inference').spec.template.spec.containers.find((c: Json) => c.name === 'inference');

describe('k8s manifests (kubectl kustomize, offline)', () => {
  it('has a kubectl to render with', () => {
    if (!kubectl.ok) throw new Error(kubectl.reason);
    process.stdout.write(`rendering with ${kubectl.version}\n`);
  });

  it('docs/DEPLOY.md documents the secrets the manifests reference', () => {
    expect(documentedSecrets()).toEqual({
      'lvseg-minio': ['S3_ACCESS_KEY', 'S3_SECRET_KEY'],
      'lvseg-pacs': ['PACS_WEBHOOK_SECRET', 'PACS_USERNAME', 'PACS_PASSWORD'],
      'lvseg-api-keys': ['keys'],
    });
  });

  it('the data-loader pod docs/DEPLOY.md gives is valid and meets the same rules', () => {
    const blocks = [...readRepoFile('docs/DEPLOY.md').matchAll(/^( *)```yaml\n([\s\S]*?)^ *```/gm)].map((m) =>
      m[2].split('\n').map((l) => l.slice(m[1].length)).join('\n'),
    );
    const pods = blocks.map((b) => parse(b) as K8sObject).filter((o) => o?.kind === 'Pod');
    expect(pods.map((p) => p.metadata.name)).toEqual(['lvseg-data-loader']);
    const objects = [...renderKustomization(join(K8S_DIR, 'overlays', 'cpu')), ...pods];
    expect(validateManifests(objects, { externalSecrets: documentedSecrets() })).toEqual([]);
    expect(unknownFieldViolations(pods)).toEqual([]);
  });

  describe.each(OVERLAYS)('overlay %s', (overlay: Overlay) => {
    let objects: K8sObject[];
    beforeAll(() => {
      if (!kubectl.ok) throw new Error(kubectl.reason);
      objects = renderKustomization(join(K8S_DIR, 'overlays', overlay));
    });

    it('renders the objects lvseg needs', () => {
      const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
      expect(ids).toEqual(
        [
          'ConfigMap/lvseg-config',
          'ConfigMap/lvseg-pacs-config',
          'ConfigMap/lvseg-queue-config',
          'ConfigMap/lvseg-retrain-script',
          'CronJob/lvseg-retrain',
          'Deployment/lvseg-inference',
          'Deployment/lvseg-worker',
          'HorizontalPodAutoscaler/lvseg-inference',
          'HorizontalPodAutoscaler/lvseg-worker',
          'Job/lvseg-train',
          'Namespace/lvseg',
          'NetworkPolicy/lvseg-inference-ingress',
          'NetworkPolicy/lvseg-pacs-ingress',
          'NetworkPolicy/lvseg-redis-ingress',
          'NetworkPolicy/lvseg-trainer-deny-ingress',
          'NetworkPolicy/lvseg-worker-deny-ingress',
          'PersistentVolumeClaim/lvseg-data',
          'PodDisruptionBudget/lvseg-inference',
          'Service/lvseg-inference',
          'Service/lvseg-pacs',
          'Service/lvseg-redis',
          'StatefulSet/lvseg-pacs',
          'StatefulSet/lvseg-redis',
        ].sort(),
      );
      for (const o of objects.filter((x) => x.kind !== 'Namespace')) expect(o.metadata.namespace).toBe('lvseg');
    });

    it('passes the Kubernetes schema and lvseg rules', () => {
      expect(validateManifests(objects, { externalSecrets: documentedSecrets() })).toEqual([]);
    });

    it('has no field the Kubernetes API does not know', () => {
      expect(unknownFieldViolations(objects)).toEqual([]);
    });

    it('probes the inference service where it answers: readiness /health/ready, liveness /health/live, on its http port', () => {
      const c = inferenceContainer(objects);
      expect(c.ports).toEqual([{ name: 'http', containerPort: 3000, protocol: 'TCP' }]);
      expect(c.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
      expect(c.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      expect(c.startupProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      // The drain sleep ends well inside the grace period.
      const pod = find(objects, 'Deployment', 'lvseg-inference').spec.template.spec;
      expect(c.lifecycle.preStop.exec.command).toEqual(['sleep', '10']);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(10);
    });

    it(`runs the ${overlay} image, with a GPU per pod only in the gpu overlay`, () => {
      // Every lvseg pod (Redis, the queue, runs its own image: see the queue test below).
      for (const t of podTemplates(objects).filter((x) => x.labels['app.kubernetes.io/component'] !== 'queue')) {
        for (const c of containersOf(t.spec)) {
          expect(c.image).toBe(`lvseg:0.1.0-${overlay}`);
          expect(c.resources.limits['nvidia.com/gpu']).toBe(overlay === 'gpu' ? 1 : undefined);
          const backend = (c.env ?? []).find((e: Json) => e.name === 'LVSEG_BACKEND');
          expect(backend?.value).toBe(overlay === 'gpu' ? 'tensorflow' : undefined);
          if (overlay === 'gpu') {
            expect(t.spec.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
            expect(c.volumeMounts).toContainEqual({ name: 'cuda-cache', mountPath: '/home/lvseg/.nv' });
          }
        }
      }
      const strategy = find(objects, 'Deployment', 'lvseg-inference').spec.strategy.rollingUpdate;
      expect(strategy).toEqual(overlay === 'gpu' ? { maxSurge: 0, maxUnavailable: 1 } : { maxSurge: 1, maxUnavailable: 0 });
      expect(find(objects, 'HorizontalPodAutoscaler', 'lvseg-inference').spec.maxReplicas).toBe(overlay === 'gpu' ? 4 : 6);
    });

    it('trains in a Job and a CronJob that run retrain.sh: lvseg eval --min-dice gates lvseg models promote', () => {
      const script = find(objects, 'ConfigMap', 'lvseg-retrain-script').data['retrain.sh'];
      expect(script).toBe(readRepoFile('k8s/base/retrain.sh'));
      const lines = script.split('\n').map((l: string) => l.trim());
      const gate = lines.findIndex((l: string) => /^lvseg eval .*--model "\$version".*--min-dice "\$bar"/.test(l));
      const promote = lines.findIndex((l: string) => /^lvseg models promote "\$version"/.test(l));
      expect(gate).toBeGreaterThan(0);
      expect(promote).toBeGreaterThan(gate);
      expect(lines[0]).toBe('#!/bin/sh');
      expect(lines).toContain('set -eu'); // a failed gate stops the script before the promotion

      const job = find(objects, 'Job', 'lvseg-train').spec;
      const cron = find(objects, 'CronJob', 'lvseg-retrain').spec;
      expect(cron.concurrencyPolicy).toBe('Forbid');
      for (const spec of [job.template.spec, cron.jobTemplate.spec.template.spec]) {
        expect(spec.restartPolicy).toBe('Never');
        const c = spec.containers[0];
        expect(c.command).toEqual(['sh', '/opt/lvseg/retrain.sh']);
        const mount = c.volumeMounts.find((m: Json) => m.mountPath === '/opt/lvseg');
        const volume = spec.volumes.find((v: Json) => v.name === mount.name);
        expect(volume.configMap.name).toBe('lvseg-retrain-script');
      }
      // One template for both: the CronJob's pod is the Job's pod.
      expect(cron.jobTemplate.spec.template).toEqual(job.template);
    });

    it('lets only the PACS reach the PACS bridge, only labelled API-client namespaces reach inference, nothing reach the trainer', () => {
      const pacsOnly = [
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'pacs' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'orthanc' } } },
      ];
      const policy = (name: string) => find(objects, 'NetworkPolicy', name).spec;
      for (const name of ['lvseg-inference-ingress', 'lvseg-pacs-ingress', 'lvseg-trainer-deny-ingress']) expect(policy(name).policyTypes).toEqual(['Ingress']);
      // A rule without `from` admits every source: each rule names its sources.
      expect(policy('lvseg-pacs-ingress').ingress).toEqual([{ from: pacsOnly, ports: [{ port: 'http', protocol: 'TCP' }] }]);
      expect(policy('lvseg-inference-ingress').ingress).toEqual([
        { from: [{ namespaceSelector: { matchLabels: { 'lvseg.io/api-client': 'true' } } }], ports: [{ port: 'http', protocol: 'TCP' }] },
      ]);
      expect(policy('lvseg-trainer-deny-ingress').ingress ?? []).toEqual([]);
      // Each policy selects exactly its component's pods.
      const components = (name: string) =>
        podTemplates(objects)
          .filter((t) => Object.entries(policy(name).podSelector.matchLabels as Record<string, string>).every(([k, v]) => t.labels[k] === v))
          .map((t) => `${t.owner.kind}/${t.owner.metadata.name}`);
      expect(components('lvseg-inference-ingress')).toEqual(['Deployment/lvseg-inference']);
      expect(components('lvseg-pacs-ingress')).toEqual(['StatefulSet/lvseg-pacs']);
      expect(components('lvseg-trainer-deny-ingress').sort()).toEqual(['CronJob/lvseg-retrain', 'Job/lvseg-train']);
    });

    it('mounts the API keys from the lvseg-api-keys Secret where LVSEG_API_KEYS points, in both pods that serve the API', () => {
      const served = [find(objects, 'Deployment', 'lvseg-inference'), find(objects, 'StatefulSet', 'lvseg-pacs')];
      for (const owner of served) {
        const pod = owner.spec.template.spec;
        const c = pod.containers[0];
        const keys = c.env.find((e: Json) => e.name === 'LVSEG_API_KEYS');
        expect([owner.kind, keys]).toEqual([owner.kind, { name: 'LVSEG_API_KEYS', value: '/etc/lvseg/api-keys/keys' }]);
        const mount = c.volumeMounts.find((m: Json) => keys.value.startsWith(`${m.mountPath}/`));
        expect(mount).toEqual({ name: 'api-keys', mountPath: '/etc/lvseg/api-keys', readOnly: true });
        const volume = pod.volumes.find((v: Json) => v.name === mount.name);
        expect(volume.secret).toEqual({ secretName: 'lvseg-api-keys' });
        expect(documentedSecrets()['lvseg-api-keys']).toContain(keys.value.slice(mount.mountPath.length + 1));
      }
      // Anonymous access is never switched on, nor the listening interface forced.
      for (const t of podTemplates(objects)) {
        for (const c of containersOf(t.spec)) expect((c.env ?? []).map((e: Json) => e.name)).not.toEqual(expect.arrayContaining(['LVSEG_ALLOW_ANONYMOUS']));
      }
      for (const cm of objects.filter((o) => o.kind === 'ConfigMap')) {
        expect(Object.keys((cm as Json).data ?? {})).not.toEqual(expect.arrayContaining(['LVSEG_ALLOW_ANONYMOUS']));
        expect(Object.keys((cm as Json).data ?? {})).not.toEqual(expect.arrayContaining(['LVSEG_HOST']));
      }
    });

    it('runs the PACS bridge as one replica with its state on its own volume, and PACS_URL only there', () => {
      const bridge = find(objects, 'StatefulSet', 'lvseg-pacs').spec;
      expect(bridge.replicas).toBe(1);
      expect(find(objects, 'Service', 'lvseg-pacs').spec.clusterIP).toBe('None');
      const c = bridge.template.spec.containers[0];
      const pacs = find(objects, 'ConfigMap', 'lvseg-pacs-config').data;
      expect(c.volumeMounts).toContainEqual({ name: 'pacs-state', mountPath: pacs.LVSEG_PACS_STATE_DIR });
      expect(bridge.volumeClaimTemplates.map((v: Json) => v.metadata.name)).toEqual(['pacs-state']);
      expect(c.envFrom.map((e: Json) => e.configMapRef.name)).toEqual(['lvseg-config', 'lvseg-pacs-config', 'lvseg-queue-config']);
      expect(find(objects, 'ConfigMap', 'lvseg-config').data.PACS_URL).toBeUndefined();
      // The PACS settings go to the bridge and the workers only (the workers fetch series and store SEGs).
      for (const t of podTemplates(objects).filter((x) => !['StatefulSet/lvseg-pacs', 'Deployment/lvseg-worker'].includes(`${x.owner.kind}/${x.owner.metadata.name}`))) {
        for (const x of t.spec.containers) expect((x.envFrom ?? []).map((e: Json) => e.configMapRef?.name)).not.toContain('lvseg-pacs-config');
      }
    });

    it('probes the PACS bridge on /health/ready (model, PACS and Redis, checked concurrently) within the probe timeout; liveness never depends on them', () => {
      const bridge = find(objects, 'StatefulSet', 'lvseg-pacs').spec.template.spec.containers[0];
      expect(bridge.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
      // Each check (the PACS, Redis) is bounded by readinessTimeoutMs and they run concurrently: the answer, 503 with
      // the reasons included, comes before the kubelet gives up on the probe (default timeout 1 s).
      expect((bridge.readinessProbe.timeoutSeconds ?? 1) * 1000).toBeGreaterThan(DEFAULT_PACS_TIMING.readinessTimeoutMs);
      // A PACS or Redis outage takes the bridge out of its Service (the PACS retries the webhook, the change feed
      // catches up) but does not restart it: liveness and startup look at the process only.
      expect(bridge.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      expect(bridge.startupProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      // The bridge queues in Redis (LVSEG_REDIS_URL), so its readiness includes the Redis check.
      expect(loadConfig(find(objects, 'ConfigMap', 'lvseg-queue-config').data).queue?.redisUrl).toBeDefined();

      // Workers serve no HTTP: their probes read the heartbeat files (worker-heartbeat.ts), considered every
      // WORKER_HEARTBEAT_MS. Liveness reads the file touched while the worker runs, so a Redis outage restarts no
      // worker; readiness the one touched only while Redis also answers. Each allows at least two missed beats (and
      // readiness a PING that timed out).
      const worker = find(objects, 'Deployment', 'lvseg-worker').spec.template.spec.containers[0];
      for (const [probe, file] of [[worker.livenessProbe, '/tmp/lvseg-worker.alive'], [worker.readinessProbe, '/tmp/lvseg-worker.ready']] as const) {
        const script = probe.exec.command.join(' ');
        expect(script).toContain(file);
        const maxAgeMs = Number(/mtimeMs < (\d+)/.exec(script)![1]);
        expect(maxAgeMs).toBeGreaterThanOrEqual(3 * WORKER_HEARTBEAT_MS + WORKER_PING_TIMEOUT_MS);
      }
    });

    it('queues PACS series in Redis: the bridge queues, lvseg worker pods (scaled on the waiting jobs) segment, only they reach Redis', () => {
      const queueConfig = find(objects, 'ConfigMap', 'lvseg-queue-config').data;
      const redisService = find(objects, 'Service', 'lvseg-redis');
      expect(queueConfig.LVSEG_REDIS_URL).toBe(`redis://${redisService.metadata.name}:${redisService.spec.ports[0].port}/0`);
      // Every setting is one lvseg reads (loadConfig accepts the whole map).
      expect(loadConfig(queueConfig).queue).toMatchObject({ queueName: queueConfig.LVSEG_JOBS_QUEUE, lockDurationMs: 120_000 });

      const redis = find(objects, 'StatefulSet', 'lvseg-redis').spec;
      expect(redis.replicas).toBe(1);
      const r = redis.template.spec.containers[0];
      expect(r.image).toMatch(/^redis:7\.\d+\.\d+-alpine$/);
      // Jobs survive a restart (append-only file on the claim) and are never evicted.
      expect(r.args).toEqual(expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']));
      expect(r.volumeMounts).toContainEqual({ name: 'redis-data', mountPath: '/data' });
      expect(redis.volumeClaimTemplates.map((v: Json) => v.metadata.name)).toEqual(['redis-data']);

      const worker = find(objects, 'Deployment', 'lvseg-worker').spec;
      const w = worker.template.spec.containers[0];
      expect(w.command).toEqual(['tini', '--', 'lvseg', 'worker']);
      expect(w.image).toBe(`lvseg:0.1.0-${overlay}`);
      expect(w.envFrom.map((e: Json) => e.configMapRef.name)).toEqual(['lvseg-config', 'lvseg-pacs-config', 'lvseg-queue-config']);
      // A running series finishes within the grace period; its lock outlives a probe-triggered restart.
      expect(worker.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60);
      const bridge = find(objects, 'StatefulSet', 'lvseg-pacs').spec.template.spec.containers[0];
      expect(bridge.envFrom.map((e: Json) => e.configMapRef.name)).toContain('lvseg-queue-config');

      const hpa = find(objects, 'HorizontalPodAutoscaler', 'lvseg-worker').spec;
      expect(hpa.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'lvseg-worker' });
      expect(hpa.metrics).toEqual([
        { type: 'External', external: { metric: { name: 'lvseg_series_jobs', selector: { matchLabels: { state: 'waiting' } } }, target: { type: 'AverageValue', averageValue: '4' } } },
      ]);

      const policy = find(objects, 'NetworkPolicy', 'lvseg-redis-ingress').spec;
      const from = policy.ingress[0].from.map((f: Json) => f.podSelector.matchLabels['app.kubernetes.io/component']).sort();
      expect(from).toEqual(['pacs-bridge', 'worker']);
      expect(policy.ingress[0].ports).toEqual([{ port: 'redis', protocol: 'TCP' }]);
      expect(find(objects, 'NetworkPolicy', 'lvseg-worker-deny-ingress').spec.ingress ?? []).toEqual([]);
    });
  });
});
