/**
 * docker-compose.yml as Docker Compose reads it, without Docker: YAML (anchors, `<<` merge keys, the `!reset` tag),
 * `${VAR}` interpolation from an .env file, and the merge of override files (Compose specification, "Merge").
 */
import { parse } from 'yaml';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

const RESET = Symbol('!reset');

/** Parses one Compose file (not interpolated yet). */
export function parseComposeFile(text: string): Json {
  return parse(text, { merge: true, customTags: [{ tag: '!reset', resolve: () => RESET }] });
}

/** `KEY=value` lines of an .env file (comments and blank lines skipped; no quotes are used in ours). */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`.env line without KEY=: ${raw}`);
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

const VARIABLE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** Names of the variables a Compose file interpolates (`${VAR…}`, `$VAR`; `$$` is a literal dollar). */
export function composeVariables(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(VARIABLE)) if (m[0] !== '$$') names.add(m[1] ?? m[4]);
  return names;
}

/** Compose interpolation of one string: `${V}`, `${V:-default}`, `${V-default}`, `${V:?error}`, `${V?error}`, `$$`. */
export function interpolateString(s: string, env: Record<string, string>): string {
  return s.replace(VARIABLE, (all, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
    if (all === '$$') return '$';
    const name = (braced ?? bare)!;
    const value = env[name];
    const unsetOrEmpty = value === undefined || value === '';
    switch (op) {
      case ':-':
        return unsetOrEmpty ? arg! : value;
      case '-':
        return value === undefined ? arg! : value;
      case ':?':
        if (unsetOrEmpty) throw new Error(`required variable ${name} is missing a value: ${arg}`);
        return value;
      case '?':
        if (value === undefined) throw new Error(`required variable ${name} is missing a value: ${arg}`);
        return value;
      default:
        return value ?? '';
    }
  });
}

function interpolateDeep(v: Json, env: Record<string, string>): Json {
  if (typeof v === 'string') return interpolateString(v, env);
  if (Array.isArray(v)) return v.map((x) => interpolateDeep(x, env));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolateDeep(x, env)]));
  return v;
}

// Compose replaces these sequences instead of appending to them.
const REPLACED = new Set(['command', 'entrypoint']);

function merge(base: Json, over: Json, key = ''): Json {
  if (over === RESET) return undefined;
  if (Array.isArray(base) && Array.isArray(over)) return REPLACED.has(key) ? over : [...base, ...over];
  if (base && over && typeof base === 'object' && typeof over === 'object' && !Array.isArray(base) && !Array.isArray(over)) {
    const out: Json = { ...base };
    for (const [k, v] of Object.entries(over)) {
      const merged = k in base ? merge(base[k], v, k) : v === RESET ? undefined : v;
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    }
    return out;
  }
  return over;
}

/** The application model of `docker compose -f a -f b …` with this .env: each file interpolated, then merged in order. */
export function loadCompose(texts: string[], env: Record<string, string>): Json {
  return texts.map((t) => interpolateDeep(parseComposeFile(t), env)).reduce((a, b) => merge(a, b));
}

/** A service's environment as a map (Compose allows a map or a list of KEY=value). */
export function serviceEnvironment(service: Json): Record<string, string> {
  const e = service.environment ?? {};
  if (Array.isArray(e)) return Object.fromEntries(e.map((kv: string) => [kv.split('=')[0], kv.slice(kv.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null ? '' : String(v)]));
}
