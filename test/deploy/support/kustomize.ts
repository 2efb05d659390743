/** Renders a kustomization with `kubectl kustomize` (offline: no cluster is contacted). */
import { execFileSync, spawnSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

/** A rendered Kubernetes object (only the fields every object has are typed). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** The kubectl used: `KUBECTL` when set (e.g. to compare two versions), else the one on PATH. */
export function kubectlBinary(): string {
  return process.env.KUBECTL || 'kubectl';
}

/** kubectl's client version line, or why it cannot run (scripts/test.sh installs Debian's kubernetes-client). */
export function kubectlVersion(): { ok: true; version: string } | { ok: false; reason: string } {
  const r = spawnSync(kubectlBinary(), ['version', '--client'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    return { ok: false, reason: `${kubectlBinary()} cannot run (${r.error?.message ?? r.stderr.trim()}); install it: apt-get install -y kubernetes-client` };
  }
  return { ok: true, version: r.stdout.trim().split('\n')[0] };
}

/** `kubectl kustomize <dir>` parsed into objects; throws with kubectl's message when the kustomization is broken. */
export function renderKustomization(dir: string): K8sObject[] {
  let out: string;
  try {
    out = execFileSync(kubectlBinary(), ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`kubectl kustomize ${dir} failed: ${(err.stderr || err.message).trim()}`);
  }
  const docs = parseAllDocuments(out);
  const objects: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length) throw new Error(`kubectl kustomize ${dir}: unparseable YAML: ${doc.errors[0].message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value) objects.push(value);
  }
  return objects;
}

/** `Kind/name` for messages. */
export function objectId(o: K8sObject): string {
  return `${o.kind}/${o.metadata?.name ?? '?'}`;
}
