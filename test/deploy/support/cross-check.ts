/** What the deployment files hand to lvseg's processes, to be compared with what the code reads. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { K8sObject } from './kustomize';
import { containersOf, podTemplates } from './manifest-rules';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

/** Placeholder for values that come from Secrets (unknown offline). */
export const SECRET_PLACEHOLDER = 'value-from-secret';

/** Stand-in contents of the files mounted from Secrets (`<secret>/<key>`), in the format the code reads. */
export const SECRET_FILES: Record<string, string> = {
  'lvseg-api-keys/keys': `deploy-check:${SECRET_PLACEHOLDER}-0123456789\n`,
};

export interface LvsegContainer {
  /** `Kind/name container` for messages. */
  id: string;
  container: Json;
  podSpec: Json;
  /** The environment the container gets: env, plus every key of each envFrom ConfigMap (Secret values are placeholders). */
  env: Record<string, string>;
}

const isLvsegImage = (image: unknown) => typeof image === 'string' && /(^|\/)lvseg(:|@|$)/.test(image);

/** The containers running the lvseg image, with their resolved environment. */
export function lvsegContainers(objects: K8sObject[]): LvsegContainer[] {
  const configMaps = new Map(objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, (o as Json).data ?? {}]));
  const out: LvsegContainer[] = [];
  for (const t of podTemplates(objects)) {
    for (const c of containersOf(t.spec)) {
      if (!isLvsegImage(c.image)) continue;
      const env: Record<string, string> = {};
      for (const from of c.envFrom ?? []) {
        if (from.configMapRef) Object.assign(env, configMaps.get(from.configMapRef.name) ?? {});
        if (from.secretRef) throw new Error(`${t.owner.metadata.name}: envFrom a Secret hides which variables it sets; use secretKeyRef`);
      }
      for (const e of c.env ?? []) {
        if (e.value !== undefined) env[e.name] = String(e.value);
        else if (e.valueFrom?.secretKeyRef) env[e.name] = SECRET_PLACEHOLDER;
        else if (e.valueFrom?.configMapKeyRef) env[e.name] = configMaps.get(e.valueFrom.configMapKeyRef.name)?.[e.valueFrom.configMapKeyRef.key] ?? '';
        else env[e.name] = '';
      }
      out.push({ id: `${t.owner.kind}/${t.owner.metadata.name} container ${c.name}`, container: c, podSpec: t.spec, env });
    }
  }
  return out;
}

/** `<where>: NAME` for every variable set for lvseg that the code never reads. */
export function envNotReadByCode(sets: Array<{ id: string; names: string[] }>, readByCode: Map<string, string[]>): string[] {
  return sets.flatMap(({ id, names }) => names.filter((n) => !readByCode.has(n)).map((n) => `${id}: ${n}`));
}

/** Upper-case variables a POSIX shell script expands (`$NAME`, `${NAME…}`); lower-case ones are the script's own. */
export function shellVariables(script: string): string[] {
  const names = new Set<string>();
  for (const m of script.matchAll(/\$\{?([A-Z][A-Z0-9_]*)/g)) names.add(m[1]);
  return [...names];
}

/**
 * The container's environment with every value that points into a mounted Secret volume (`<mountPath>/<key>`) turned
 * into a temp file holding `contents['<secret>/<key>']`, so lvseg's validation can read it offline. A path that is not
 * in a mounted Secret stays as it is (and then fails to load, as it would in the pod).
 */
export function envWithSecretFiles(c: LvsegContainer, contents: Record<string, string>): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'lvseg-secret-files-'));
  const env = { ...c.env };
  for (const m of c.container.volumeMounts ?? []) {
    const secret = (c.podSpec.volumes ?? []).find((v: Json) => v.name === m.name)?.secret;
    if (!secret) continue;
    for (const [name, value] of Object.entries(env)) {
      if (!value.startsWith(`${m.mountPath}/`)) continue;
      const id = `${secret.secretName}/${value.slice(m.mountPath.length + 1)}`;
      if (contents[id] === undefined) throw new Error(`${c.id}: ${name} reads Secret file ${id}, which the test has no content for`);
      const file = join(dir, id.replace(/\//g, '_'));
      writeFileSync(file, contents[id]);
      env[name] = file;
    }
  }
  return env;
}
