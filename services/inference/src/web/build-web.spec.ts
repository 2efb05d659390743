import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@lvseg/common';
import { VIEWER_EXAMPLES, WEB_SOURCE_DIR, browserLibs, buildWeb } from './build-web';

const FIXTURES = join(repoRoot(), 'libs', 'imaging', 'test-fixtures', 'sunnybrook');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? filesUnder(join(dir, d.name)) : [join(dir, d.name)]));
}

describe('buildWeb', () => {
  const out = mkdtempSync(join(tmpdir(), 'lvseg-build-web-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('copies the pages, bundles the entries, and ships the example DICOMs with their contours byte for byte', async () => {
    const bundles = await buildWeb(out);
    expect(bundles).toContain(join(out, 'viewer', 'viewer.js'));
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('/viewer/viewer.js');
    // Browser code only: no TypeScript sources or tsconfig in the served folder.
    expect(filesUnder(out).filter((f) => f.endsWith('.ts') || f.endsWith('tsconfig.json'))).toEqual([]);
    const index = JSON.parse(readFileSync(join(out, 'examples', 'examples.json'), 'utf8')) as { examples: Array<{ id: string; dicom: string; contour: string }> };
    expect(index.examples.map((e) => e.id)).toEqual(VIEWER_EXAMPLES.map((e) => e.id));
    for (const [k, e] of index.examples.entries()) {
      expect(readFileSync(join(out, 'examples', e.dicom)).equals(readFileSync(join(FIXTURES, VIEWER_EXAMPLES[k].dicom)))).toBe(true);
      expect(readFileSync(join(out, 'examples', e.contour)).equals(readFileSync(join(FIXTURES, VIEWER_EXAMPLES[k].contour)))).toBe(true);
    }
    // A second build over the first one works (some fixtures are read-only).
    await buildWeb(out);
    expect(existsSync(join(out, 'viewer', 'viewer.js'))).toBe(true);
  });

  it('bundles lib files for the browser without Node-only code, with tfjs taken from the page global', async () => {
    const esbuild = await import('esbuild');
    const dir = mkdtempSync(join(tmpdir(), 'lvseg-bundle-probe-'));
    try {
      const entry = join(dir, 'probe.ts');
      writeFileSync(
        entry,
        "import { decodeDicom } from '@lvseg/imaging/dicom';\nimport { segmentImages } from '@lvseg/model/segmentation';\n(globalThis as any).probe = [decodeDicom, segmentImages];\n",
      );
      const result = await esbuild.build({
        entryPoints: [entry],
        bundle: true,
        write: false,
        format: 'iife',
        platform: 'browser',
        metafile: true,
        tsconfig: join(WEB_SOURCE_DIR, 'tsconfig.json'),
        plugins: [browserLibs()],
        logLevel: 'silent',
      });
      const inputs = Object.entries(Object.values(result.metafile.outputs)[0].inputs)
        .filter(([, v]) => v.bytesInOutput > 0)
        .map(([k]) => k);
      expect(inputs).toEqual(expect.arrayContaining(['libs/imaging/src/dicom.ts', 'libs/model/src/segmentation.ts', 'libs/imaging/src/normalize.ts']));
      expect(inputs.filter((i) => i.includes('pngjs') || i.includes('@tensorflow') || i.includes('node:fs') || i.includes('paths.ts'))).toEqual([]);
      // PNG encoding is server-side: its module does no work at load (a Buffer there broke the page), so it drops out.
      expect(inputs.filter((i) => i.endsWith('libs/imaging/src/png.ts'))).toEqual([]);
      expect(result.outputFiles[0].text).toContain('globalThis.tf');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
