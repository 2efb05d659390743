/**
 * The validator fails on broken manifests: each case breaks one thing in a copy of k8s/, renders the copy with
 * kubectl and expects the violation that names it (and an untouched copy to pass, so the copying is not the cause).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Document, parseAllDocuments } from 'yaml';
import { K8sObject, kubectlVersion, renderKustomization } from './support/kustomize';
import { validateManifests } from './support/manifest-rules';
import { unknownFieldViolations } from './support/strict-fields';
import { K8S_DIR, Overlay, documentedSecrets } from './support/repo-files';

const kubectl = kubectlVersion();
const DEPLOYMENT = 'base/inference-deployment.yaml';
const JOB = 'base/trainer-job.yaml';
const CONTAINER = ['spec', 'template', 'spec', 'containers', 0];

/** Edits document `index` of a YAML file in the copy (comments and the other documents stay as they are). */
function editYaml(root: string, rel: string, edit: (doc: Document) => void, index = 0): void {
  const path = join(root, rel);
  const docs = parseAllDocuments(readFileSync(path, 'utf8')) as Document[];
  edit(docs[index]);
  writeFileSync(path, docs.map((d) => d.toString()).join('---\n'));
}

function check(root: string, overlay: Overlay): { rules: string[]; fields: string[] } {
  const objects: K8sObject[] = renderKustomization(join(root, 'overlays', overlay));
  return { rules: validateManifests(objects, { externalSecrets: documentedSecrets() }), fields: unknownFieldViolations(objects) };
}

describe('the manifest validator rejects broken copies of k8s/', () => {
  let root: string;
  beforeEach(() => {
    if (!kubectl.ok) throw new Error(kubectl.reason);
    root = mkdtempSync(join(tmpdir(), 'lvseg-k8s-'));
    cpSync(K8S_DIR, root, { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('accepts the untouched copy', () => {
    expect(check(root, 'cpu')).toEqual({ rules: [], fields: [] });
    expect(check(root, 'gpu')).toEqual({ rules: [], fields: [] });
  });

  it('a missing readiness probe', () => {
    editYaml(root, DEPLOYMENT, (d) => d.deleteIn([...CONTAINER, 'readinessProbe']));
    expect(check(root, 'cpu').rules).toEqual(['Deployment/lvseg-inference spec.template.spec container inference: no readinessProbe']);
  });

  it('a missing liveness probe and drain hook', () => {
    editYaml(root, DEPLOYMENT, (d) => {
      d.deleteIn([...CONTAINER, 'livenessProbe']);
      d.deleteIn([...CONTAINER, 'lifecycle']);
    });
    expect(check(root, 'gpu').rules).toEqual([
      'Deployment/lvseg-inference spec.template.spec container inference: no livenessProbe',
      'Deployment/lvseg-inference spec.template.spec container inference: no preStop hook (connections are not drained)',
    ]);
  });

  it('a probe on a port the container does not have', () => {
    editYaml(root, DEPLOYMENT, (d) => d.setIn([...CONTAINER, 'readinessProbe', 'httpGet', 'port'], 8080));
    expect(check(root, 'cpu').rules).toEqual(['Deployment/lvseg-inference spec.template.spec container inference: readinessProbe port 8080 is not a port of the container']);
  });

  it('an image on the latest tag', () => {
    const k = join(root, 'overlays/cpu/kustomization.yaml');
    writeFileSync(k, readFileSync(k, 'utf8').replace('newTag: 0.1.0-cpu', 'newTag: latest'));
    const { rules } = check(root, 'cpu');
    expect(rules).toHaveLength(5); // inference, PACS bridge, series worker, Job, CronJob
    for (const r of rules) expect(r).toMatch(/: image "lvseg:latest" uses the latest tag$/);
  });

  it('an image without a tag', () => {
    editYaml(root, JOB, (d) => d.setIn([...CONTAINER, 'image'], 'ghcr.io/example/lvseg'));
    const k = join(root, 'overlays/cpu/kustomization.yaml');
    writeFileSync(k, readFileSync(k, 'utf8').replace(/images:[\s\S]*$/, ''));
    expect(check(root, 'cpu').rules).toEqual(['Job/lvseg-train spec.template.spec container trainer: image "ghcr.io/example/lvseg" has no tag (means latest)']);
  });

  it('missing resource limits', () => {
    editYaml(root, JOB, (d) => d.deleteIn([...CONTAINER, 'resources', 'limits']));
    expect(check(root, 'cpu').rules).toEqual([
      'Job/lvseg-train spec.template.spec container trainer: resources.limits.cpu is not set',
      'Job/lvseg-train spec.template.spec container trainer: resources.limits.memory is not set',
    ]);
  });

  it('a writable root filesystem, root user and privilege escalation', () => {
    editYaml(root, DEPLOYMENT, (d) => {
      d.setIn([...CONTAINER, 'securityContext', 'readOnlyRootFilesystem'], false);
      d.setIn([...CONTAINER, 'securityContext', 'allowPrivilegeEscalation'], true);
      d.setIn(['spec', 'template', 'spec', 'securityContext', 'runAsNonRoot'], false);
      d.setIn(['spec', 'template', 'spec', 'securityContext', 'runAsUser'], 0);
    });
    expect(check(root, 'cpu').rules).toEqual([
      'Deployment/lvseg-inference spec.template.spec: securityContext.runAsUser is 0 (root)',
      'Deployment/lvseg-inference spec.template.spec container inference: runAsNonRoot is not true',
      'Deployment/lvseg-inference spec.template.spec container inference: runs as user 0',
      'Deployment/lvseg-inference spec.template.spec container inference: readOnlyRootFilesystem is not true',
      'Deployment/lvseg-inference spec.template.spec container inference: allowPrivilegeEscalation is not false',
    ]);
  });

  it('a read-only root filesystem without a writable /tmp', () => {
    editYaml(root, DEPLOYMENT, (d) => {
      d.deleteIn([...CONTAINER, 'volumeMounts']);
      d.deleteIn(['spec', 'template', 'spec', 'volumes']);
    });
    expect(check(root, 'cpu').rules).toEqual(['Deployment/lvseg-inference spec.template.spec container inference: read-only root FS but no writable emptyDir at /tmp']);
  });

  it('a value of the wrong type (Kubernetes schema)', () => {
    editYaml(root, DEPLOYMENT, (d) => d.setIn([...CONTAINER, 'ports', 0, 'containerPort'], 'http'));
    const { rules } = check(root, 'cpu');
    expect(rules).toContain('Deployment/lvseg-inference: schema: /spec/template/spec/containers/0/ports/0/containerPort must be integer');
  });

  it('a misspelt field (unknown to the Kubernetes API)', () => {
    editYaml(root, DEPLOYMENT, (d) => d.setIn(['spec', 'template', 'spec', 'terminationGracePeriod'], 40));
    const { rules, fields } = check(root, 'cpu');
    expect(rules).toEqual([]); // the JSON schema lets unknown fields through …
    expect(fields).toHaveLength(1); // … the type check does not
    expect(fields[0]).toMatch(/^Deployment\/lvseg-inference: fields: .*'terminationGracePeriod' does not exist in type/);
  });

  it('a Service, HPA and PDB that point at nothing', () => {
    editYaml(root, 'base/inference-service.yaml', (d) => d.setIn(['spec', 'ports', 0, 'targetPort'], 'htttp'));
    editYaml(root, 'base/inference-hpa.yaml', (d) => d.setIn(['spec', 'scaleTargetRef', 'name'], 'lvseg-inferense'));
    editYaml(root, 'base/inference-pdb.yaml', (d) => d.setIn(['spec', 'selector', 'matchLabels', 'app.kubernetes.io/component'], 'infrence'));
    expect(check(root, 'cpu').rules).toEqual([
      'Service/lvseg-inference: targetPort "htttp" is not a port of the selected pods',
      'HorizontalPodAutoscaler/lvseg-inference: scaleTargetRef Deployment/lvseg-inferense is not defined',
      'PodDisruptionBudget/lvseg-inference: selector matches no pod template',
    ]);
  });

  it('a PDB that would block every eviction', () => {
    editYaml(root, 'base/inference-pdb.yaml', (d) => d.setIn(['spec', 'minAvailable'], 2));
    expect(check(root, 'gpu').rules).toEqual([
      'PodDisruptionBudget/lvseg-inference: minAvailable 2 >= the 2 replica(s) of Deployment/lvseg-inference: no pod could ever be evicted',
    ]);
  });

  it('a Secret key or ConfigMap that nobody creates', () => {
    editYaml(root, JOB, (d) => {
      d.setIn([...CONTAINER, 'env', 1, 'valueFrom', 'secretKeyRef', 'key'], 'S3_PASSWORD');
      d.setIn([...CONTAINER, 'envFrom', 0, 'configMapRef', 'name'], 'lvseg-settings');
    });
    expect(check(root, 'cpu').rules).toEqual([
      'Job/lvseg-train spec.template.spec container trainer: envFrom ConfigMap lvseg-settings is not defined',
      'Job/lvseg-train spec.template.spec container trainer: env S3_SECRET_KEY names Secret key lvseg-minio/S3_PASSWORD, which is not a documented secret key',
    ]);
  });

  it('a NetworkPolicy that selects no pod', () => {
    editYaml(root, 'base/network-policies.yaml', (d) => d.setIn(['spec', 'podSelector', 'matchLabels', 'app.kubernetes.io/component'], 'trainers'), 2);
    expect(check(root, 'cpu').rules).toEqual(['NetworkPolicy/lvseg-trainer-deny-ingress: podSelector matches no pod template']);
  });

  it('a GPU patch that would land on the wrong container does not render', () => {
    editYaml(root, DEPLOYMENT, (d) => d.setIn([...CONTAINER, 'name'], 'server'));
    expect(() => check(root, 'gpu')).toThrow(/kubectl kustomize .* failed/);
  });
});
