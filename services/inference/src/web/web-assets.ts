import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { repoRoot } from '@lvseg/common';
import { CODEC_WASM_FILES } from '@lvseg/imaging';

/** Browser libraries the pages load, served from the installed packages (no CDN: radiology networks are often offline). */
export const VENDOR_FILES: Readonly<Record<string, { pkg: string; file: string; type: string }>> = {
  'vega.min.js': { pkg: 'vega', file: 'build/vega.min.js', type: 'text/javascript' },
  'vega-lite.min.js': { pkg: 'vega-lite', file: 'build/vega-lite.min.js', type: 'text/javascript' },
  'vega-embed.min.js': { pkg: 'vega-embed', file: 'build/vega-embed.min.js', type: 'text/javascript' },
  'tf.min.js': { pkg: '@tensorflow/tfjs', file: 'dist/tf.min.js', type: 'text/javascript' },
  'tf-backend-wasm.min.js': { pkg: '@tensorflow/tfjs-backend-wasm', file: 'dist/tf-backend-wasm.min.js', type: 'text/javascript' },
  'tfjs-backend-wasm.wasm': { pkg: '@tensorflow/tfjs-backend-wasm', file: 'dist/tfjs-backend-wasm.wasm', type: 'application/wasm' },
  'tfjs-backend-wasm-simd.wasm': { pkg: '@tensorflow/tfjs-backend-wasm', file: 'dist/tfjs-backend-wasm-simd.wasm', type: 'application/wasm' },
  'tfjs-backend-wasm-threaded-simd.wasm': { pkg: '@tensorflow/tfjs-backend-wasm', file: 'dist/tfjs-backend-wasm-threaded-simd.wasm', type: 'application/wasm' },
  // The DICOM codecs the viewer's bundled decodeFrame fetches (setCodecWasmBaseUrl('/vendor/')).
  ...Object.fromEntries(CODEC_WASM_FILES.map((c) => [c.file.slice(c.file.lastIndexOf('/') + 1), { pkg: c.pkg, file: c.file, type: 'application/wasm' }])),
};

/** The installed folder of a package (some, like vega-embed, do not export their package.json, so walk up from the entry). */
function packageDir(pkg: string): string {
  const direct = join(repoRoot(), 'node_modules', pkg);
  if (existsSync(join(direct, 'package.json'))) return direct;
  let dir = dirname(require.resolve(pkg));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** Absolute path of a vendor file by its public name, or undefined when the name is not in the fixed list. */
export function vendorFilePath(name: string): { path: string; type: string } | undefined {
  const entry = Object.prototype.hasOwnProperty.call(VENDOR_FILES, name) ? VENDOR_FILES[name] : undefined;
  return entry && { path: join(packageDir(entry.pkg), entry.file), type: entry.type };
}

/**
 * Serves the pages at `/` (e.g. `/` the viewer, `/monitor/` the training monitor) from `webDir` (`LVSEG_WEB_DIR`:
 * `npm run build` copies services/inference/web to dist/services/inference/web and bundles the browser code beside
 * it; see build-web.ts) and the vendor files at `/vendor/<name>`.
 */
export function serveWebAssets(app: NestExpressApplication, webDir: string): void {
  app.use('/vendor/:name', (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const name = String(req.params.name);
    const file = vendorFilePath(name);
    if (!file || !existsSync(file.path)) {
      res.status(404).json({ error: { code: 'VENDOR_FILE_NOT_FOUND', message: `no vendor file "${name}"; served: ${Object.keys(VENDOR_FILES).join(', ')}` } });
      return;
    }
    res.type(file.type).setHeader('Cache-Control', 'public, max-age=86400');
    res.sendFile(file.path);
  });
  app.useStaticAssets(webDir, { index: 'index.html', redirect: true, fallthrough: true });
}
