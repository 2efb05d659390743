/**
 * What the code really reads from the environment: every variable of the configuration schema
 * (libs/config/src/schema.ts), plus whatever the sources read beside it, found by reading them: every `env.NAME`,
 * `env['NAME']` and `fn(env, 'NAME', …)` (settings helpers) in the non-test TypeScript of libs/ and services/.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '@lvseg/common';
import { ENV_VARIABLE_NAMES } from '@lvseg/config';

const SCHEMA_FILE = 'libs/config/src/schema.ts';

const PATTERNS = [
  /\benv\.([A-Z][A-Z0-9_]*)\b/g, // process.env.NAME, env.NAME
  /\benv\[\s*['"`]([A-Z][A-Z0-9_]*)['"`]\s*\]/g, // env['NAME']
  /\(\s*env\s*,\s*['"`]([A-Z][A-Z0-9_]*)['"`]/g, // numberSetting(env, 'NAME', …)
];

/** Test code and test support do not count: only what a deployed process runs. */
function isProductionSource(path: string): boolean {
  return path.endsWith('.ts') && !path.endsWith('.spec.ts') && !path.endsWith('.d.ts') && !/[\\/](testing|test-support|bench)[\\/]/.test(path);
}

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (isProductionSource(p)) out.push(p);
  }
}

/** Environment variable name → the source files (relative to the repo) that read it. */
export function envVarsReadByCode(root: string = repoRoot()): Map<string, string[]> {
  const files: string[] = [];
  for (const top of ['libs', 'services']) walk(join(root, top), files);
  const found = new Map<string, string[]>(ENV_VARIABLE_NAMES.map((name) => [name, [SCHEMA_FILE]]));
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    for (const re of PATTERNS) {
      for (const m of text.matchAll(re)) {
        const list = found.get(m[1]) ?? [];
        const rel = relative(root, f);
        if (!list.includes(rel)) list.push(rel);
        found.set(m[1], list);
      }
    }
  }
  return found;
}
