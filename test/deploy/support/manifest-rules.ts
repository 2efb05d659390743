/**
 * Validation of rendered Kubernetes objects: the Kubernetes JSON schema (kubernetes-models) plus lvseg's own rules
 * (probes, resources, non-root, read-only root FS, pinned images, references that resolve). Returns violations as
 * readable strings, one per problem; an empty list means valid.
 */
import { K8sObject, objectId } from './kustomize';

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered YAML is untyped; the schema check types it. */
type Json = any;

/** Secrets the manifests may reference without defining them (created by the operator), with their keys. */
export type ExternalSecrets = Record<string, string[]>;

export interface PodTemplateRef {
  owner: K8sObject;
  /** Path of the pod spec inside the owner, for messages. */
  path: string;
  labels: Record<string, string>;
  spec: Json;
  /** Deployments and the like: long-running, must have probes and a drain hook. */
  longRunning: boolean;
  /** A StatefulSet's volumeClaimTemplates: volumes its pods mount without listing them. */
  claimTemplates: string[];
}

const WORKLOAD_TEMPLATE_PATHS: Record<string, { path: string[]; longRunning: boolean }> = {
  Deployment: { path: ['spec', 'template'], longRunning: true },
  StatefulSet: { path: ['spec', 'template'], longRunning: true },
  DaemonSet: { path: ['spec', 'template'], longRunning: true },
  ReplicaSet: { path: ['spec', 'template'], longRunning: true },
  Job: { path: ['spec', 'template'], longRunning: false },
  CronJob: { path: ['spec', 'jobTemplate', 'spec', 'template'], longRunning: false },
};

/** Every pod template in the objects (bare Pods included). */
export function podTemplates(objects: K8sObject[]): PodTemplateRef[] {
  const out: PodTemplateRef[] = [];
  for (const o of objects) {
    if (o.kind === 'Pod') {
      const spec = (o as Json).spec ?? {};
      const runsToCompletion = spec.restartPolicy === 'Never' || spec.restartPolicy === 'OnFailure';
      out.push({ owner: o, path: 'spec', labels: o.metadata.labels ?? {}, spec, longRunning: !runsToCompletion, claimTemplates: [] });
      continue;
    }
    const where = WORKLOAD_TEMPLATE_PATHS[o.kind];
    if (!where) continue;
    const template = where.path.reduce<Json>((v, k) => (v == null ? v : v[k]), o);
    out.push({
      owner: o,
      path: `${where.path.join('.')}.spec`,
      labels: template?.metadata?.labels ?? {},
      spec: template?.spec ?? {},
      longRunning: where.longRunning,
      claimTemplates: ((o as Json).spec?.volumeClaimTemplates ?? []).map((c: Json) => c.metadata?.name),
    });
  }
  return out;
}

/** The containers and init containers of a pod spec. */
export function containersOf(spec: Json): Json[] {
  return [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])];
}

/** Checks one object against the Kubernetes schema of its apiVersion/kind (kubernetes-models); [] when valid. */
export function schemaViolations(o: K8sObject): string[] {
  let Model: (new (data: unknown) => { validate(): void }) | undefined;
  try {
    // kubernetes-models is laid out as <group>/<version> (core: v1), one export per kind.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    Model = require(`kubernetes-models/${o.apiVersion}`)[o.kind];
  } catch {
    Model = undefined;
  }
  if (!Model) return [`${objectId(o)}: no Kubernetes schema for ${o.apiVersion} ${o.kind}`];
  try {
    new Model(o).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: Array<{ instancePath: string; message?: string }> }).errors;
    if (errors?.length) return errors.map((x) => `${objectId(o)}: schema: ${x.instancePath || '/'} ${x.message ?? ''}`.trim());
    return [`${objectId(o)}: schema: ${(e as Error).message}`];
  }
}

/** An image reference is pinned when it names a tag other than `latest`, or a digest. */
export function imagePinProblem(image: string): string | undefined {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return undefined;
  const lastSegment = image.split('/').pop() ?? image;
  const colon = lastSegment.lastIndexOf(':');
  if (colon < 0) return `image "${image}" has no tag (means latest)`;
  const tag = lastSegment.slice(colon + 1);
  if (tag === '' || tag === 'latest') return `image "${image}" uses the latest tag`;
  return undefined;
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

function probeProblems(id: string, c: Json, name: 'readinessProbe' | 'livenessProbe' | 'startupProbe', portNames: Set<string>, portNumbers: Set<number>): string[] {
  const p = c[name];
  if (!p) return [];
  const handler = p.httpGet ?? p.tcpSocket ?? p.grpc;
  if (!handler && !p.exec) return [`${id}: ${name} has no handler`];
  if (p.httpGet && (typeof p.httpGet.path !== 'string' || !p.httpGet.path.startsWith('/'))) return [`${id}: ${name}.httpGet.path must be an absolute path`];
  const port = handler?.port;
  if (port !== undefined && !(typeof port === 'number' ? portNumbers.has(port) : portNames.has(port))) {
    return [`${id}: ${name} port ${JSON.stringify(port)} is not a port of the container`];
  }
  return [];
}

/** lvseg's rules for one pod template. */
function podViolations(t: PodTemplateRef, configMaps: Map<string, K8sObject>, claims: Set<string>, externalSecrets: ExternalSecrets): string[] {
  const v: string[] = [];
  const at = `${objectId(t.owner)} ${t.path}`;
  const spec = t.spec;
  const podSc = spec.securityContext ?? {};
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) v.push(`${at}: uses the host's network/PID/IPC namespace`);
  const volumes = new Map<string, Json>((spec.volumes ?? []).map((vol: Json) => [vol.name, vol]));
  for (const vol of volumes.values()) {
    if (vol.hostPath) v.push(`${at}: volume ${vol.name} is a hostPath`);
    if (vol.configMap && !vol.configMap.optional && !configMaps.has(vol.configMap.name)) v.push(`${at}: volume ${vol.name} names ConfigMap ${vol.configMap.name}, which is not defined`);
    if (vol.persistentVolumeClaim && !claims.has(vol.persistentVolumeClaim.claimName)) v.push(`${at}: volume ${vol.name} names PVC ${vol.persistentVolumeClaim.claimName}, which is not defined`);
    if (vol.secret && !(vol.secret.secretName in externalSecrets)) v.push(`${at}: volume ${vol.name} names Secret ${vol.secret.secretName}, which is not a documented secret`);
  }
  if (podSc.runAsUser === 0) v.push(`${at}: securityContext.runAsUser is 0 (root)`);
  const containers = containersOf(spec);
  if (containers.length === 0) v.push(`${at}: no containers`);
  for (const c of containers) {
    const id = `${at} container ${c.name}`;
    const sc = c.securityContext ?? {};
    // Image
    if (typeof c.image !== 'string' || c.image === '') v.push(`${id}: no image`);
    else {
      const pin = imagePinProblem(c.image);
      if (pin) v.push(`${id}: ${pin}`);
    }
    // Resources
    for (const kind of ['requests', 'limits'] as const) {
      for (const r of ['cpu', 'memory']) {
        if (c.resources?.[kind]?.[r] === undefined) v.push(`${id}: resources.${kind}.${r} is not set`);
      }
    }
    const gpuReq = c.resources?.requests?.['nvidia.com/gpu'];
    const gpuLim = c.resources?.limits?.['nvidia.com/gpu'];
    if (gpuReq !== undefined && String(gpuReq) !== String(gpuLim)) v.push(`${id}: nvidia.com/gpu must be set in limits (and requests, if set, must equal it)`);
    // Security
    const runAsNonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
    if (runAsNonRoot !== true) v.push(`${id}: runAsNonRoot is not true`);
    if ((sc.runAsUser ?? podSc.runAsUser) === 0) v.push(`${id}: runs as user 0`);
    if (sc.readOnlyRootFilesystem !== true) v.push(`${id}: readOnlyRootFilesystem is not true`);
    if (sc.allowPrivilegeEscalation !== false) v.push(`${id}: allowPrivilegeEscalation is not false`);
    if (sc.privileged === true) v.push(`${id}: privileged`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) v.push(`${id}: capabilities.drop does not include ALL`);
    const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') v.push(`${id}: no RuntimeDefault/Localhost seccompProfile`);
    // Mounts: every mount has its volume; a read-only root FS needs a writable /tmp.
    const mounts: Json[] = c.volumeMounts ?? [];
    for (const m of mounts) if (!volumes.has(m.name) && !t.claimTemplates.includes(m.name)) v.push(`${id}: volumeMount ${m.name} has no volume`);
    const tmp = mounts.find((m) => m.mountPath === '/tmp');
    if (sc.readOnlyRootFilesystem === true && (!tmp || tmp.readOnly === true || !volumes.get(tmp.name)?.emptyDir)) {
      v.push(`${id}: read-only root FS but no writable emptyDir at /tmp`);
    }
    // References to configuration
    for (const from of c.envFrom ?? []) {
      if (from.configMapRef && !from.configMapRef.optional && !configMaps.has(from.configMapRef.name)) v.push(`${id}: envFrom ConfigMap ${from.configMapRef.name} is not defined`);
      if (from.secretRef && !(from.secretRef.name in externalSecrets)) v.push(`${id}: envFrom Secret ${from.secretRef.name} is not a documented secret`);
    }
    for (const e of c.env ?? []) {
      const cmk = e.valueFrom?.configMapKeyRef;
      if (cmk && !cmk.optional && (configMaps.get(cmk.name) as Json)?.data?.[cmk.key] === undefined) v.push(`${id}: env ${e.name} names ConfigMap key ${cmk.name}/${cmk.key}, which is not defined`);
      const sk = e.valueFrom?.secretKeyRef;
      if (sk && !(externalSecrets[sk.name] ?? []).includes(sk.key)) v.push(`${id}: env ${e.name} names Secret key ${sk.name}/${sk.key}, which is not a documented secret key`);
    }
    // Probes and drain for long-running containers that serve ports.
    const ports: Json[] = c.ports ?? [];
    const portNames = new Set<string>(ports.map((p) => p.name).filter(Boolean));
    const portNumbers = new Set<number>(ports.map((p) => p.containerPort));
    if (t.longRunning && (spec.containers ?? []).includes(c)) {
      if (!c.readinessProbe) v.push(`${id}: no readinessProbe`);
      if (!c.livenessProbe) v.push(`${id}: no livenessProbe`);
      if (!c.lifecycle?.preStop) v.push(`${id}: no preStop hook (connections are not drained)`);
    }
    for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe'] as const) v.push(...probeProblems(id, c, probe, portNames, portNumbers));
  }
  return v;
}

/** Every violation of the schema and of lvseg's rules in a rendered set of objects. */
export function validateManifests(objects: K8sObject[], opts: { externalSecrets: ExternalSecrets }): string[] {
  const v: string[] = [];
  for (const o of objects) v.push(...schemaViolations(o));

  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const configMaps = new Map(byKind('ConfigMap').map((o) => [o.metadata.name, o]));
  const claims = new Set(byKind('PersistentVolumeClaim').map((o) => o.metadata.name));
  const templates = podTemplates(objects);
  for (const t of templates) v.push(...podViolations(t, configMaps, claims, opts.externalSecrets));

  // Names are unique per kind; namespaced objects share one namespace.
  const seen = new Set<string>();
  for (const o of objects) {
    const key = `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    if (seen.has(key)) v.push(`${objectId(o)}: defined twice`);
    seen.add(key);
  }
  const namespaces = new Set(objects.filter((o) => o.kind !== 'Namespace').map((o) => o.metadata.namespace));
  if (namespaces.size > 1) v.push(`objects are spread over namespaces ${[...namespaces].join(', ')}`);

  // Workload selectors select their own template.
  for (const o of [...byKind('Deployment'), ...byKind('StatefulSet'), ...byKind('DaemonSet')]) {
    const t = templates.find((x) => x.owner === o)!;
    if (!matches((o as Json).spec?.selector?.matchLabels, t.labels)) v.push(`${objectId(o)}: spec.selector does not match its pod template labels`);
  }

  // Services select pods, and their target ports are ports of those pods.
  for (const s of byKind('Service')) {
    const spec = (s as Json).spec ?? {};
    const selected = templates.filter((t) => matches(spec.selector, t.labels));
    if (selected.length === 0) {
      v.push(`${objectId(s)}: selector matches no pod template`);
      continue;
    }
    for (const p of spec.ports ?? []) {
      const target = p.targetPort ?? p.port;
      const ok = selected.some((t) => containersOf(t.spec).some((c) => (c.ports ?? []).some((cp: Json) => (typeof target === 'number' ? cp.containerPort === target : cp.name === target))));
      if (!ok) v.push(`${objectId(s)}: targetPort ${JSON.stringify(target)} is not a port of the selected pods`);
    }
  }

  // HPAs scale something that exists, within sane bounds, on containers with CPU requests.
  const hpaMin = new Map<string, number>();
  for (const h of byKind('HorizontalPodAutoscaler')) {
    const spec = (h as Json).spec ?? {};
    const ref = spec.scaleTargetRef ?? {};
    const target = objects.find((o) => o.kind === ref.kind && o.metadata.name === ref.name);
    if (!target) {
      v.push(`${objectId(h)}: scaleTargetRef ${ref.kind}/${ref.name} is not defined`);
      continue;
    }
    const min = spec.minReplicas ?? 1;
    hpaMin.set(`${ref.kind}/${ref.name}`, min);
    if (spec.maxReplicas < min) v.push(`${objectId(h)}: maxReplicas ${spec.maxReplicas} < minReplicas ${min}`);
    if ((target as Json).spec?.replicas !== undefined) v.push(`${objectId(target)}: sets replicas although ${objectId(h)} scales it (every apply would reset the count)`);
  }

  // PDBs select pods, and leave room for a voluntary eviction.
  for (const p of byKind('PodDisruptionBudget')) {
    const spec = (p as Json).spec ?? {};
    const selected = templates.filter((t) => matches(spec.selector?.matchLabels, t.labels));
    if (selected.length === 0) v.push(`${objectId(p)}: selector matches no pod template`);
    for (const t of selected) {
      const min = hpaMin.get(objectId(t.owner)) ?? (t.owner as Json).spec?.replicas ?? 1;
      if (typeof spec.minAvailable === 'number' && spec.minAvailable >= min) {
        v.push(`${objectId(p)}: minAvailable ${spec.minAvailable} >= the ${min} replica(s) of ${objectId(t.owner)}: no pod could ever be evicted`);
      }
    }
  }

  // NetworkPolicies select pods and name their ports.
  for (const n of byKind('NetworkPolicy')) {
    const spec = (n as Json).spec ?? {};
    const selected = templates.filter((t) => matches(spec.podSelector?.matchLabels, t.labels));
    if (selected.length === 0) v.push(`${objectId(n)}: podSelector matches no pod template`);
    for (const rule of spec.ingress ?? []) {
      for (const port of rule.ports ?? []) {
        if (typeof port.port !== 'string') continue;
        const ok = selected.some((t) => containersOf(t.spec).some((c) => (c.ports ?? []).some((cp: Json) => cp.name === port.port)));
        if (!ok) v.push(`${objectId(n)}: port ${port.port} is not a named port of the selected pods`);
      }
    }
  }
  return v;
}
