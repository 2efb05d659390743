import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@lvseg/common';

/** Source folder of the browser pages (HTML, CSS, plain browser JS) and of `*.entry.ts` bundles. */
export const WEB_SOURCE_DIR = join(repoRoot(), 'services', 'inference', 'web');

/**
 * Copies the pages to `outDir` and bundles every `<page>/<name>.entry.ts` to `<page>/<name>.js` for the browser with esbuild,
 * so browser code can import the same libs (e.g. @lvseg/imaging's decode and normalize) the server runs.
 * esbuild is a build-time (dev) dependency; the server never imports this file.
 */
export async function buildWeb(outDir: string): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  cpSync(WEB_SOURCE_DIR, outDir, { recursive: true, filter: (src) => !src.endsWith('.entry.ts') && !src.endsWith('.spec.ts') });
  const entries = findEntries(WEB_SOURCE_DIR);
  if (entries.length === 0) return [];
  const esbuild = await import('esbuild');
  const outputs: string[] = [];
  for (const entry of entries) {
    const rel = entry.slice(WEB_SOURCE_DIR.length + 1).replace(/\.entry\.ts$/, '.js');
    const outfile = join(outDir, rel);
    await esbuild.build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2020',
      sourcemap: true,
      minify: true,
      tsconfig: join(repoRoot(), 'tsconfig.json'),
      logLevel: 'warning',
    });
    outputs.push(outfile);
  }
  return outputs;
}

function findEntries(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return findEntries(p);
    return d.name.endsWith('.entry.ts') ? [p] : [];
  });
}

if (require.main === module) {
  const out = process.argv[2] ?? join(repoRoot(), 'dist', 'services', 'inference', 'web');
  buildWeb(out)
    .then((files) => process.stdout.write(`web pages copied to ${out}; bundles: ${files.length ? files.join(', ') : '(none)'}\n`))
    .catch((e: unknown) => {
      process.stderr.write(`build-web failed: ${(e as Error).message}\n`);
      process.exit(1);
    });
}
