/** The deployment files under test, and what the docs say about them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@lvseg/common';
import type { ExternalSecrets } from './manifest-rules';

export const REPO = repoRoot();
export const K8S_DIR = join(REPO, 'k8s');
export const OVERLAYS = ['cpu', 'gpu'] as const;
export type Overlay = (typeof OVERLAYS)[number];

export const readRepoFile = (rel: string): string => readFileSync(join(REPO, rel), 'utf8');

/**
 * The Secrets docs/DEPLOY.md tells the operator to create (`kubectl … create secret generic NAME
 * --from-literal=KEY=…`), with their keys: the only Secrets the manifests may reference.
 */
export function documentedSecrets(markdown: string = readRepoFile('docs/DEPLOY.md')): ExternalSecrets {
  const secrets: ExternalSecrets = {};
  const literal = String.raw`\s*\\?\s*--from-literal=[A-Za-z0-9_.-]+=(?:"[^"]*"|'[^']*'|\S*)`;
  for (const m of markdown.matchAll(new RegExp(String.raw`create secret generic ([a-z0-9][a-z0-9.-]*)((?:${literal})+)`, 'g'))) {
    secrets[m[1]] = [...m[2].matchAll(/--from-literal=([A-Za-z0-9_.-]+)=/g)].map((k) => k[1]);
  }
  return secrets;
}
