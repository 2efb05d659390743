/**
 * The viewer at `/` in real headless Chromium against the real inference app (shipped `production` model, real file
 * store), with real Sunnybrook DICOMs and expert contours. Every number the page shows is checked against what
 * POST /segment answers for the same bytes, asked by this test directly.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import request from 'supertest';
import { repoRoot } from '@lvseg/common';
import { ModelCard, ModelStore, openModelStore } from '@lvseg/model-store';
import { buildWeb } from '../services/inference/src/web/build-web';
import { formatArea } from '../services/inference/web/viewer/mask-geometry';
import { accessibilityViolations, browserUnavailableReason, collectPageErrors, launchBrowser, saveScreenshot } from './support/browser';
import { startInferenceApp, RunningInferenceApp } from './support/inference-app';
import { publishSeededModel } from './support/models';
import { SUNNYBROOK_DICOM_DIR, sunnybrookMissingReason } from './support/sunnybrook';
import { shippedModelsDir } from './support/shipped-models';

/** The few DOM calls the in-page checks make (they run inside Chromium; the root tsconfig has no DOM lib). */
interface PageCanvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { drawImage(image: unknown, x: number, y: number): void; getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
}
interface PageElement extends PageCanvas {
  textContent: string | null;
  alt: string;
  naturalWidth: number;
  naturalHeight: number;
  decode(): Promise<void>;
}
declare const document: { getElementById(id: string): PageElement | null; createElement(tag: 'canvas'): PageCanvas; activeElement: { id: string } | null };

const SHIPPED = shippedModelsDir();
const FIXTURES = join(repoRoot(), 'libs', 'imaging', 'test-fixtures', 'sunnybrook');
/** Segmenting with every layer's heatmap and Grad-CAM shares 2 cores with whatever else runs; allow for it. */
const SLOW_MS = 240_000;

function describeViewer(name: string, fn: () => void): void {
  const reason = browserUnavailableReason() ?? sunnybrookMissingReason();
  if (reason) {
    // eslint-disable-next-line no-console
    console.warn(`skipping "${name}": ${reason}`);
    describe.skip(name, fn);
  } else {
    describe(name, fn);
  }
}

describeViewer('viewer page at / (real app, shipped model, headless Chromium)', () => {
  const dicomPath = join(SUNNYBROOK_DICOM_DIR, 'SCD0000401', '100.dcm');
  const contourPath = join(SUNNYBROOK_DICOM_DIR, 'SCD0000401', 'IM-0001-0100-icontour-manual.txt');
  let webDir: string;
  let storeDir: string;
  let store: ModelStore;
  let app: RunningInferenceApp;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];
  let heatmapLayers: string[];
  /** A second version to choose in the page: an untrained fcn-paper (other architecture, other layers). */
  let other: ModelCard;
  const measured: Record<string, number> = {};

  /** POST /segment as a client would, for the expected values. */
  const segmentViaApi = (file: string | Buffer, label?: string) => {
    const req = request(app.url).post('/segment');
    if (typeof file === 'string') req.attach('file', file);
    else req.attach('file', file, 'upload.bin');
    if (label) req.attach('label', label);
    return req;
  };

  const statValue = async (id: string) => Number(await page.locator(`#${id}`).getAttribute('data-value'));

  beforeAll(async () => {
    webDir = mkdtempSync(join(tmpdir(), 'lvseg-viewer-web-'));
    await buildWeb(webDir);
    storeDir = mkdtempSync(join(tmpdir(), 'lvseg-viewer-store-'));
    store = openModelStore(`file://${storeDir}`, { seedFrom: SHIPPED });
    other = await publishSeededModel(store, { architecture: 'fcn-paper', seed: 1 });
    app = await startInferenceApp(store, { LVSEG_WEB_DIR: webDir });
    heatmapLayers = (await request(app.url).get('/models/production').expect(200)).body.heatmapLayers;
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    pageErrors = collectPageErrors(page);
  }, SLOW_MS);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    for (const d of [webDir, storeDir]) if (d) rmSync(d, { recursive: true, force: true });
    // eslint-disable-next-line no-console
    if (Object.keys(measured).length) console.log(`viewer timings on this machine (headless Chromium): ${JSON.stringify(measured)}`);
  });

  it('loads / with the model versions, the examples and a link to the training monitor; Tab reaches the file input and the model select', async () => {
    await page.goto(`${app.url}/`);
    await page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('Ready'), null, { timeout: 60_000 });
    const served = (await request(app.url).get('/models').expect(200)).body.servedVersion as string;
    // The app picks the project's tfjs backend itself (wasm here, TensorFlow where installed), never tfjs's stock cpu.
    expect((await request(app.url).get('/health/ready').expect(200)).body.engine.served).toMatch(/tfjs \((wasm|tensorflow)\)$/);
    expect(await page.locator('#model-select option').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining(served)]));
    expect(await page.locator('#gradcam-select option').allTextContents()).toEqual(heatmapLayers);
    expect(await page.locator('#example-select option').count()).toBe(2);
    expect(await page.locator('header nav a[href="/monitor/"]').count()).toBe(1);

    const reached: string[] = [];
    await page.locator('body').focus();
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      reached.push(await page.evaluate(() => document.activeElement?.id ?? ''));
    }
    expect(reached).toEqual(expect.arrayContaining(['model-select', 'dicom-input', 'label-input', 'example-run']));
    expect(reached.indexOf('model-select')).toBeLessThan(reached.indexOf('dicom-input'));
  });

  it(
    'segments an uploaded DICOM: the LV area shown is POST /segment’s, every layer’s heatmap and the Grad-CAM show real pictures',
    async () => {
      await page.setInputFiles('#dicom-input', dicomPath);
      // The mask and area come first, from their own request; the explanations follow from a second one.
      await page.waitForSelector('#lv-area', { timeout: SLOW_MS });
      const api = (await segmentViaApi(dicomPath).expect(200)).body;
      expect(api.lvArea.mm2).toBeGreaterThan(0);
      expect(await statValue('lv-area')).toBe(api.lvArea.mm2);
      expect(await page.locator('#lv-area').getAttribute('data-pixels')).toBe(String(api.lvArea.pixels));
      expect(await page.locator('#lv-area').textContent()).toBe(formatArea(api.lvArea.mm2, api.lvArea.pixels));
      expect(await page.locator('#model-version').textContent()).toContain(api.model.version);
      measured.serverRoundTripMaskMs = Math.round(await statValue('server-time'));
      measured.apiTotalMaskMs = Math.round(await statValue('api-time'));

      await page.waitForFunction(() => document.getElementById('status')?.textContent?.endsWith('Explanations ready.'), null, { timeout: SLOW_MS });
      measured.serverRoundTripHeatmapsMs = Math.round(await statValue('heatmaps-time'));
      measured.serverRoundTripGradCamMs = Math.round(await statValue('gradcam-time'));

      const pictures = ['gradcam-image', ...heatmapLayers.map((l) => `heatmap-${l}`)];
      for (const id of pictures) {
        const info = await page.evaluate(async (imgId) => {
          const img = document.getElementById(imgId);
          if (!img) return null;
          await img.decode();
          const c = document.createElement('canvas');
          c.width = img.naturalWidth;
          c.height = img.naturalHeight;
          const ctx = c.getContext('2d')!;
          ctx.drawImage(img, 0, 0);
          const d = ctx.getImageData(0, 0, c.width, c.height).data;
          const colours = new Set<number>();
          for (let i = 0; i < d.length; i += 4) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
          return { width: img.naturalWidth, distinct: colours.size, alt: img.alt };
        }, id);
        expect(info).not.toBeNull();
        expect(info!.width).toBe(api.image.columns);
        expect(info!.distinct).toBeGreaterThan(16);
        if (id !== 'gradcam-image') expect(info!.alt).toContain(`layer ${id.slice('heatmap-'.length)} `);
      }
      expect(await page.locator('#gradcam-image').getAttribute('alt')).toContain(`layer ${await page.locator('#gradcam-select').inputValue()}`);
      await saveScreenshot(page, 'viewer-segmented');
    },
    SLOW_MS,
  );

  it('keys the heat-map colours: the jet bar with its numbered ends and what they mean, for Grad-CAM and for the layers', async () => {
    for (const [id, scaled] of [['gradcam-key', 'scaled to its maximum'], ['heatmaps-key', 'min–max scaled per layer and image']]) {
      const key = page.locator(`#${id} .colour-key`);
      expect(await key.isVisible()).toBe(true);
      expect(await key.locator('.colour-key-title').textContent()).toContain(scaled);
      expect(await key.locator('.colour-ticks span').allTextContents()).toEqual(['0', '0.5', '1']);
      const meaning = await key.locator('.colour-meaning li').allTextContents();
      expect(meaning.map((m) => m.slice(0, 2))).toEqual(['0 ', '1 ']);
      // The bar runs through jet: dark blue at 0, dark red at 1 (the server's colour map; heatmap-key.spec checks every stop).
      const bar = await key.locator('.colour-bar').evaluate((b) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundImage: string } }).getComputedStyle(b).backgroundImage);
      expect(bar).toMatch(/^linear-gradient\(to right, rgb\(0, 0, 128\) 0%, .*rgb\(128, 0, 0\) 100%\)$/);
      const box = (await key.locator('.colour-bar').boundingBox())!;
      expect(box.width).toBeGreaterThan(100);
    }
    // The layer key sits above the layer pictures, the Grad-CAM key beside its picture.
    const [heatKey, firstHeat, camKey, cam] = await Promise.all(['#heatmaps-key', `[id="heatmap-${heatmapLayers[0]}"]`, '#gradcam-key', '#gradcam-image'].map(async (sel) => (await page.locator(sel).boundingBox())!));
    expect(heatKey.y + heatKey.height).toBeLessThanOrEqual(firstHeat.y);
    expect(camKey.x).toBeGreaterThanOrEqual(cam.x + cam.width);
  });

  it('enlarges a heat map from the keyboard and a Grad-CAM by click, in a dialog with the colour key; Escape and Close close it', async () => {
    const layer = heatmapLayers[heatmapLayers.length - 1];
    // Layer ids hold dots (`segmenter.score`): an attribute selector, not `#…`.
    const thumb = page.locator(`[id="heatmap-${layer}"]`);
    const opener = page.locator('button.enlarge', { has: thumb });
    expect(await opener.getAttribute('aria-label')).toBe(`Enlarge: ${await thumb.getAttribute('alt')}`);
    await opener.focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator('#picture-dialog');
    await dialog.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.evaluate(`document.getElementById('picture-dialog').open && document.getElementById('picture-dialog').matches(':modal')`)).toBe(true);
    const big = page.locator('#picture-dialog-image');
    expect(await big.getAttribute('src')).toBe(await thumb.getAttribute('src'));
    expect(await big.getAttribute('alt')).toBe(await thumb.getAttribute('alt'));
    expect(await page.locator('#picture-dialog-title').textContent()).toBe(await page.locator('figure', { has: thumb }).locator('figcaption').textContent());
    const [bigBox, thumbBox] = [(await big.boundingBox())!, (await thumb.boundingBox())!];
    expect(bigBox.width).toBeGreaterThan(2 * thumbBox.width);
    expect(await page.locator('#picture-dialog-key .colour-ticks span').allTextContents()).toEqual(['0', '0.5', '1']);
    expect(await page.locator('#picture-dialog-key .colour-key-title').textContent()).toContain('activation');
    const violations = await accessibilityViolations(page);
    expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
    await saveScreenshot(page, 'viewer-enlarged');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
    // Focus is back on the picture that opened the dialog.
    expect(await page.evaluate(`document.activeElement?.contains(document.getElementById('heatmap-${layer}')) ?? false`)).toBe(true);

    await page.locator('#gradcam-image').click();
    await dialog.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await big.getAttribute('src')).toBe(await page.locator('#gradcam-image').getAttribute('src'));
    expect(await page.locator('#picture-dialog-key .colour-key-title').textContent()).toContain('Grad-CAM');
    await page.locator('#picture-dialog-close').click();
    await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
  });

  it(
    'scores the expert contour: the Dice shown is the API’s, and both outlines are drawn in their legend colours',
    async () => {
      await page.setInputFiles('#label-input', contourPath);
      await page.waitForSelector('#label-dice', { timeout: SLOW_MS });
      const api = (await segmentViaApi(dicomPath, contourPath).expect(200)).body;
      expect(api.label.kind).toBe('contour');
      expect(await statValue('label-dice')).toBe(api.label.dice);
      expect(await page.locator('#label-dice').textContent()).toContain(api.label.dice.toFixed(4));
      expect(await page.locator('#legend li:not([hidden])').allTextContents()).toEqual(['Server mask (POST /segment)', 'Expert label']);
      // Both outline colours are really on the canvas.
      const counts = await page.evaluate(() => {
        const c = document.getElementById('image-canvas')!;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let yellow = 0;
        let cyan = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i] > 200 && d[i + 1] > 180 && d[i + 2] < 60) yellow++;
          if (d[i] < 60 && d[i + 1] > 200 && d[i + 2] > 200) cyan++;
        }
        return { yellow, cyan };
      });
      expect(counts.yellow).toBeGreaterThan(50);
      expect(counts.cyan).toBeGreaterThan(50);
      await saveScreenshot(page, 'viewer-with-label');
    },
    SLOW_MS,
  );

  it(
    'runs the same model in the browser with tfjs: its mask agrees with the server’s (Dice ≥ 0.98) and both timings are shown',
    async () => {
      await page.click('#browser-run');
      await page.waitForSelector('#browser-dice', { timeout: SLOW_MS });
      const agreement = await statValue('browser-dice');
      // The browser runs float weights; the server's onnx engine runs an INT8 `production` (int8-calibration.json) as
      // INT8 graphs: the bar holds for both (0.9965 measured on this image with the INT8 version of the shipped cascade).
      expect(agreement).toBeGreaterThanOrEqual(0.98);
      expect(await page.locator('#browser-dice').textContent()).toContain(agreement.toFixed(4));
      const browserMs = await statValue('browser-time');
      expect(browserMs).toBeGreaterThan(0);
      expect(await page.locator('#browser-time').textContent()).toMatch(/tfjs (wasm|webgl|cpu)/);
      expect(await page.locator('#browser-time').getAttribute('data-tensors-leaked')).toBe('0');
      expect(await statValue('server-time')).toBeGreaterThan(0);
      expect(await statValue('api-time')).toBeGreaterThan(0);
      expect(await page.locator('#legend li:not([hidden])').count()).toBe(3);
      measured.browserInferenceMs = Math.round(browserMs);
      measured.browserVsServerDice = agreement;
      measured.serverRoundTripMaskWithLabelMs = Math.round(await statValue('server-time'));
      await saveScreenshot(page, 'viewer-in-browser');
    },
    SLOW_MS,
  );

  it('has no serious or critical accessibility violations with every result on screen', async () => {
    const violations = await accessibilityViolations(page);
    expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
  });

  it(
    'segments a bundled example with its expert contour',
    async () => {
      await page.selectOption('#example-select', 'scd0000101-48');
      await page.click('#example-run');
      await page.waitForFunction(() => document.getElementById('status')?.textContent?.endsWith('Explanations ready.'), null, { timeout: SLOW_MS });
      const fixture = join(FIXTURES, 'SCD0000101', '48.dcm');
      const api = (await segmentViaApi(fixture, join(FIXTURES, 'SCD0000101', 'IM-0001-0048-icontour-manual.txt')).expect(200)).body;
      expect(await statValue('lv-area')).toBe(api.lvArea.mm2);
      expect(await statValue('label-dice')).toBe(api.label.dice);
      expect(await page.locator('#heatmaps img').count()).toBe(heatmapLayers.length);
      // The example bytes the page fetched are the repository's fixture, byte for byte.
      const served = await request(app.url).get('/examples/scd0000101-48.dcm').buffer(true).parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      });
      expect((served.body as Buffer).equals(readFileSync(fixture))).toBe(true);
    },
    SLOW_MS,
  );

  it('re-segments with the model version chosen from GET /models, and offers that model’s layers for Grad-CAM', async () => {
    expect(await page.locator(`#model-select option[value="${other.version}"]`).count()).toBe(1);
    await page.selectOption('#model-select', other.version);
    await page.waitForFunction((v) => document.getElementById('model-version')?.textContent?.startsWith(v) ?? false, other.version, { timeout: SLOW_MS });
    const card = (await request(app.url).get(`/models/${other.version}`).expect(200)).body;
    expect(await page.locator('#gradcam-select option').allTextContents()).toEqual(card.heatmapLayers);
    const api = (await segmentViaApi(join(FIXTURES, 'SCD0000101', '48.dcm'), join(FIXTURES, 'SCD0000101', 'IM-0001-0048-icontour-manual.txt')).query({ model: other.version }).expect(200)).body;
    expect(api.model.version).toBe(other.version);
    expect(await page.locator('#lv-area').getAttribute('data-pixels')).toBe(String(api.lvArea.pixels));
    expect(await statValue('label-dice')).toBe(api.label.dice);
  });

  it('shows the API’s own message when the file is not a DICOM', async () => {
    const notDicom = Buffer.from('Findings: normal LV size and function.\n');
    await page.setInputFiles('#dicom-input', { name: 'report.txt', mimeType: 'text/plain', buffer: notDicom });
    await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
    const api = await segmentViaApi(notDicom).expect(422);
    const shown = await page.locator('#error').textContent();
    expect(shown).toContain(api.body.error.message);
    expect(shown).toContain(`422 ${api.body.error.code}`);
    expect(await page.locator('#status').textContent()).toBe('Segmentation failed.');
  });

  it('ran without page errors (the one expected: Chromium logging the 422 of the non-DICOM upload)', () => {
    const expected = 'console.error: Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)';
    expect(pageErrors.filter((e) => e !== expected)).toEqual([]);
    expect(pageErrors.filter((e) => e === expected)).toHaveLength(1);
  });
});
