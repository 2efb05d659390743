/**
 * The viewer's in-browser DICOM decoding of compressed files, in real headless Chromium: the same decodeDicomImage and
 * decodeFrame the server runs, bundled by build-web's esbuild setup into a probe page served by the real app, with the
 * codecs' .wasm files fetched from the app's /vendor/ as the viewer does. Files are made in this run by gdcmconv and
 * DCMTK from real Sunnybrook fixtures; lossless ones must decode to exactly the pixels Node decodes from the original.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { repoRoot } from '@lvseg/common';
import { decodeDicom, decodeDicomImage } from '@lvseg/imaging';
import { openModelStore } from '@lvseg/model-store';
import { WEB_SOURCE_DIR, browserLibs, buildWeb } from '../services/inference/src/web/build-web';
import { browserUnavailableReason, collectPageErrors, launchBrowser } from './support/browser';
import { RunningInferenceApp, startInferenceApp } from './support/inference-app';
import { publishSeededModel } from './support/models';
import { writeDicom } from '../libs/imaging/src/testing/dicom-writer';

interface HtEncoder {
  getDecodedBuffer(info: { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean; isUsingColorTransform: boolean }): Uint8Array;
  setQuality(lossless: boolean, quantizationStep: number): void;
  encode(): void;
  getEncodedBuffer(): Uint8Array;
  delete(): void;
}

const FIXTURES = join(repoRoot(), 'libs', 'imaging', 'test-fixtures');
const TOOLS = ['gdcmconv', 'dcmcjpeg', 'dcmcjpls'];

function describeCodecsInBrowser(name: string, fn: () => void): void {
  const missing = TOOLS.filter((t) => spawnSync(t, ['--version'], { stdio: 'ignore' }).error !== undefined);
  const reason = browserUnavailableReason() ?? (missing.length ? `${missing.join(', ')} not installed (Debian libgdcm-tools, dcmtk)` : null);
  if (reason && process.env.CI === 'true') {
    describe(name, () => it('needs Chromium, gdcmconv and DCMTK under CI', () => expect(reason).toBeNull()));
  } else if (reason) {
    // eslint-disable-next-line no-console
    console.warn(`skipping "${name}": ${reason}`);
    describe.skip(name, fn);
  } else {
    describe(name, fn);
  }
}

/** What the probe page answers for one file: the decoded pixels, or the typed error. */
type Decoded = { rows: number; columns: number; transferSyntaxUid: string; data: number[] } | { code: string; message: string };

describeCodecsInBrowser('compressed DICOM decoded in the browser (bundled decodeFrame, codecs from /vendor/, headless Chromium)', () => {
  let webDir: string;
  let storeDir: string;
  let workDir: string;
  let app: RunningInferenceApp;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];
  const wasmFetched = new Set<string>();
  let made = 0;

  const convert = (tool: string, args: string[], input: Buffer): Buffer => {
    const inPath = join(workDir, `in-${made}.dcm`);
    const outPath = join(workDir, `out-${made++}.dcm`);
    writeFileSync(inPath, input);
    execFileSync(tool, [...args, inPath, outPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    return readFileSync(outPath);
  };
  const decodeInPage = (bytes: Buffer): Promise<Decoded> =>
    page.evaluate((b64) => (globalThis as unknown as { decodeForTest(b64: string): Promise<Decoded> }).decodeForTest(b64), bytes.toString('base64'));

  beforeAll(async () => {
    webDir = mkdtempSync(join(tmpdir(), 'lvseg-codecs-web-'));
    workDir = mkdtempSync(join(tmpdir(), 'lvseg-codecs-browser-'));
    await buildWeb(webDir);
    // A probe page bundled exactly as the viewer is (browserLibs, the pages' tsconfig), exposing the decoder to the test.
    const probeDir = join(webDir, 'codec-probe');
    mkdirSync(probeDir);
    const entry = join(workDir, 'probe.entry.ts');
    writeFileSync(
      entry,
      [
        "import { decodeDicomImage } from '@lvseg/imaging/dicom';",
        "import { setCodecWasmBaseUrl } from '@lvseg/imaging/codecs/decode-frame';",
        "setCodecWasmBaseUrl('/vendor/');",
        '(globalThis as any).decodeForTest = async (b64: string) => {',
        '  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));',
        '  try {',
        '    const { image, meta } = await decodeDicomImage(bytes);',
        '    return { rows: image.rows, columns: image.columns, transferSyntaxUid: meta.transferSyntaxUid, data: Array.from(image.data) };',
        '  } catch (e: any) {',
        '    return { code: e.code ?? `not an LvsegError: ${e}`, message: e.message };',
        '  }',
        '};',
      ].join('\n'),
    );
    const esbuild = await import('esbuild');
    await esbuild.build({
      entryPoints: [entry],
      outfile: join(probeDir, 'probe.js'),
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2020',
      tsconfig: join(WEB_SOURCE_DIR, 'tsconfig.json'),
      plugins: [browserLibs()],
      logLevel: 'warning',
      logOverride: { 'direct-eval': 'silent' },
    });
    writeFileSync(join(probeDir, 'index.html'), '<!doctype html><html lang="en"><title>codec probe</title><link rel="icon" href="data:,"><script src="/codec-probe/probe.js"></script></html>\n');

    storeDir = mkdtempSync(join(tmpdir(), 'lvseg-codecs-store-'));
    const store = openModelStore(`file://${storeDir}`);
    await store.setAlias('production', (await publishSeededModel(store, { seed: 3 })).version);
    app = await startInferenceApp(store, { LVSEG_WEB_DIR: webDir });
    browser = await launchBrowser();
    page = await browser.newPage();
    pageErrors = collectPageErrors(page);
    page.on('requestfinished', (r) => {
      const url = new URL(r.url());
      if (url.pathname.startsWith('/vendor/') && url.pathname.endsWith('.wasm')) wasmFetched.add(url.pathname);
    });
    await page.goto(`${app.url}/codec-probe/`);
    await page.waitForFunction(() => typeof (globalThis as unknown as { decodeForTest?: unknown }).decodeForTest === 'function');
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    for (const d of [webDir, storeDir, workDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it.each([
    ['gdcmconv', ['--rle'], '1.2.840.10008.1.2.5'],
    ['gdcmconv', ['--jpeg'], '1.2.840.10008.1.2.4.70'],
    ['dcmcjpeg', ['+el', '+sv', '3'], '1.2.840.10008.1.2.4.57'],
    ['gdcmconv', ['--jpegls'], '1.2.840.10008.1.2.4.80'],
    ['gdcmconv', ['--j2k'], '1.2.840.10008.1.2.4.90'],
  ])('%s %j (%s) of SCD0000401/100 decodes to exactly the original pixels', async (tool, args, syntax) => {
    const original = readFileSync(join(FIXTURES, 'sunnybrook', 'SCD0000401', '100.dcm'));
    const decoded = await decodeInPage(convert(tool, args as string[], original));
    if ('code' in decoded) throw new Error(`decode failed in the browser: ${decoded.code} ${decoded.message}`);
    expect(decoded.transferSyntaxUid).toBe(syntax);
    const expected = decodeDicom(original).image;
    expect([decoded.rows, decoded.columns]).toEqual([expected.rows, expected.columns]);
    const firstDifferent = decoded.data.findIndex((v, i) => v !== expected.data[i]);
    expect(firstDifferent).toBe(-1);
  });

  it('8-bit JPEG Baseline (dcmcjpeg +eb) decodes close to the original; a damaged JPEG-LS stream is DICOM_CODEC_FAILED', async () => {
    const gray8 = readFileSync(join(FIXTURES, 'dicom', 'gray8.dcm'));
    const decoded = await decodeInPage(convert('dcmcjpeg', ['+eb'], gray8));
    if ('code' in decoded) throw new Error(`decode failed: ${decoded.code} ${decoded.message}`);
    const expected = decodeDicom(gray8).image.data;
    const maxError = decoded.data.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i])), 0);
    expect(maxError).toBeLessThanOrEqual(8);

    const good = convert('gdcmconv', ['--jpegls'], readFileSync(join(FIXTURES, 'sunnybrook', 'SCD0000401', '100.dcm')));
    const damaged = Buffer.from(good);
    damaged.fill(0, Math.floor(good.length * 0.6), good.length - 20);
    expect(await decodeInPage(damaged)).toEqual({ code: 'DICOM_CODEC_FAILED', message: expect.stringMatching(/^the compressed pixel data could not be decoded: /) });
  });

  it('12-bit JPEG Extended (dcmcjpeg +ee, dcmjs-codecs) decodes to exactly the pixels Node decodes, close to the original', async () => {
    const original = readFileSync(join(FIXTURES, 'sunnybrook', 'SCD0000401', '100.dcm'));
    const bytes = convert('dcmcjpeg', ['+ee'], original);
    const decoded = await decodeInPage(bytes);
    if ('code' in decoded) throw new Error(`decode failed in the browser: ${decoded.code} ${decoded.message}`);
    expect(decoded.transferSyntaxUid).toBe('1.2.840.10008.1.2.4.51');
    const inNode = (await decodeDicomImage(bytes)).image.data;
    expect(decoded.data.findIndex((v, i) => v !== inNode[i])).toBe(-1);
    const expected = decodeDicom(original).image.data;
    const maxError = decoded.data.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i])), 0);
    expect(maxError).toBeGreaterThan(0); // lossy: a real decode, not the original
    expect(maxError).toBeLessThanOrEqual(40);
  });

  it('HTJ2K (no Debian tool writes it; encoded with @cornerstonejs/codec-openjph in Node) decodes to exactly the original', async () => {
    const original = decodeDicom(readFileSync(join(FIXTURES, 'sunnybrook', 'SCD0000401', '100.dcm'))).image;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const codec = await (require('@cornerstonejs/codec-openjph') as () => Promise<Record<string, new () => HtEncoder>>)();
    const encoder = new codec.HTJ2KEncoder();
    encoder.getDecodedBuffer({ width: 256, height: 256, bitsPerSample: 16, componentCount: 1, isSigned: true, isUsingColorTransform: false }).set(new Uint8Array(Int16Array.from(original.data).buffer));
    encoder.setQuality(true, 0);
    encoder.encode();
    const stream = encoder.getEncodedBuffer().slice();
    encoder.delete();
    const bytes = writeDicom({ rows: 256, columns: 256, bitsAllocated: 16, pixelRepresentation: 1, transferSyntaxUid: '1.2.840.10008.1.2.4.201', encapsulated: true, pixelBytes: stream });
    const decoded = await decodeInPage(Buffer.from(bytes));
    if ('code' in decoded) throw new Error(`decode failed in the browser: ${decoded.code} ${decoded.message}`);
    expect(decoded.data.findIndex((v, i) => v !== original.data[i])).toBe(-1);
  });

  it('fetched the WebAssembly codecs from /vendor/, and the page logged no error', () => {
    expect([...wasmFetched].sort()).toEqual(['/vendor/charlswasm_decode.wasm', '/vendor/dcmjs-native-codecs.wasm', '/vendor/libjpegturbowasm_decode.wasm', '/vendor/openjpegwasm_decode.wasm', '/vendor/openjphjs.wasm']);
    expect(pageErrors).toEqual([]);
  });
});
