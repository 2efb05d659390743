import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import type { Plugin } from 'esbuild';
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
  cpSync(WEB_SOURCE_DIR, outDir, { recursive: true, filter: (src) => !src.endsWith('.ts') && !src.endsWith('tsconfig.json') });
  copyExamples(join(outDir, 'examples'));
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
      // The pages' own tsconfig (DOM lib, and `@lvseg/<lib>/<file>` paths to import single lib files), else the root one.
      tsconfig: existsSync(join(WEB_SOURCE_DIR, 'tsconfig.json')) ? join(WEB_SOURCE_DIR, 'tsconfig.json') : join(repoRoot(), 'tsconfig.json'),
      plugins: [browserLibs()],
      logLevel: 'warning',
      // dcmjs-codecs fetches its .wasm (browser) or reads it (Node) through eval, on purpose; nothing to warn about.
      logOverride: { 'direct-eval': 'silent' },
    });
    outputs.push(outfile);
  }
  return outputs;
}

/**
 * Lets browser bundles import the libs' own files (e.g. libs/imaging/src/dicom.ts, libs/model/src/segmentation.ts):
 * - `@tensorflow/tfjs` is the page's global `tf` (the page loads /vendor/tf.min.js before the bundle), not a second copy;
 * - Node built-ins (fs, path, crypto, zlib…) become empty modules, and pngjs is side-effect free, so the lib files that
 *   need them (manifest reading, PNG encoding) drop out of the bundle when unused. Where a kept function does call
 *   one (decodeDicom inflating a *deflated* transfer syntax), it fails inside the lib's own try/catch with its typed
 *   error, and the server path still decodes that file;
 * - dcmjs-codecs (the 12-bit JPEG codec) gets an empty stand-in for its `dcmjs` import: only its Transcoder uses dcmjs
 *   (1.3 MB), decodeFrame uses NativeCodecs alone (test/viewer-codecs.browser-spec.ts decodes 12-bit JPEG with it).
 */
export function browserLibs(): Plugin {
  const builtins = new Set(builtinModules);
  return {
    name: 'lvseg-browser-libs',
    setup(build) {
      build.onResolve({ filter: /^@tensorflow\/tfjs(-core)?$/ }, () => ({ path: 'tf', namespace: 'lvseg-global-tf' }));
      build.onLoad({ filter: /.*/, namespace: 'lvseg-global-tf' }, () => ({ contents: 'module.exports = globalThis.tf;', loader: 'js' }));
      build.onResolve({ filter: /^[a-z_:/]+$/ }, (a) =>
        a.path.startsWith('node:') || builtins.has(a.path) ? { path: a.path, namespace: 'lvseg-node-only', sideEffects: false } : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: 'lvseg-node-only' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
      build.onResolve({ filter: /^pngjs$/ }, () => ({ path: require.resolve('pngjs'), sideEffects: false }));
      build.onResolve({ filter: /^dcmjs$/ }, (a) => (/[\\/]dcmjs-codecs[\\/]/.test(a.importer) ? { path: 'dcmjs', namespace: 'lvseg-dcmjs-unused' } : undefined));
      build.onLoad({ filter: /.*/, namespace: 'lvseg-dcmjs-unused' }, () => ({ contents: 'module.exports = { data: {}, log: {} };', loader: 'js' }));
    },
  };
}

/** Real example frames the viewer offers, from the repository's CC0 Sunnybrook fixtures (with their expert contours). */
export const VIEWER_EXAMPLES = [
  { id: 'scd0000401-100', title: 'SCD0000401 (SC-HF-I-5), frame 100', dicom: 'SCD0000401/100.dcm', contour: 'SCD0000401/IM-0001-0100-icontour-manual.txt' },
  { id: 'scd0000101-48', title: 'SCD0000101 (SC-HF-I-1), frame 48', dicom: 'SCD0000101/48.dcm', contour: 'SCD0000101/IM-0001-0048-icontour-manual.txt' },
] as const;

/**
 * Copies the example DICOMs and contours into the built pages (the runtime image has dist/ but not the source tree)
 * with an `examples.json` index the viewer reads.
 */
function copyExamples(outDir: string): void {
  const fixtures = join(repoRoot(), 'libs', 'imaging', 'test-fixtures', 'sunnybrook');
  const index = VIEWER_EXAMPLES.map((e) => {
    const dicom = `${e.id}.dcm`;
    const contour = `${e.id}-icontour.txt`;
    mkdirSync(outDir, { recursive: true });
    for (const [from, to] of [[e.dicom, dicom], [e.contour, contour]]) {
      cpSync(join(fixtures, from), join(outDir, to));
      chmodSync(join(outDir, to), 0o644); // some fixtures are read-only; a rebuild must be able to overwrite the copy
    }
    return { id: e.id, title: e.title, dicom, contour };
  });
  const source = 'Sunnybrook Cardiac Data (CC0 1.0), Radau et al., MIDAS Journal 2009, http://hdl.handle.net/10380/3070';
  writeFileSync(join(outDir, 'examples.json'), `${JSON.stringify({ source, examples: index }, null, 2)}\n`);
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
