/**
 * The viewer and the training monitor against the real app with API keys on, in headless Chromium: the pages are
 * refused until the user gives the tab a key, then every call carries it: the model list, POST /segment, the model
 * files the in-browser inference loads, the monitor's run list, its live events (fetch, since EventSource cannot send headers) and its heat-map
 * images. The key stays in sessionStorage and never reaches the request log. /docs opens without a key and its
 * Authorize button makes "Try it out" send one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import type { Browser, Page } from 'playwright-core';
import request from 'supertest';
import { ModelStore, RunStore, openModelStore, openRunStore } from '@lvseg/model-store';
import { buildWeb } from '../services/inference/src/web/build-web';
import { accessibilityViolations, browserUnavailableReason, collectPageErrors, launchBrowser } from './support/browser';
import { startInferenceApp, RunningInferenceApp } from './support/inference-app';
import { publishSeededModel } from './support/models';
import { sunnybrookMissingReason } from './support/sunnybrook';

const VIEWER_KEY = 'viewer-key-5f1e2d3c4b5a69788796';
const SLOW_MS = 240_000;

const skipReason = browserUnavailableReason() ?? sunnybrookMissingReason();
if (skipReason) {
  // eslint-disable-next-line no-console
  console.warn(`skipping the API key browser test: ${skipReason}`);
}
const describeKeyed = skipReason ? describe.skip : describe;

/** A small PNG with a left-to-right ramp (so the page's copy can be told from a blank image). */
function rampPng(): Buffer {
  const png = new PNG({ width: 16, height: 16 });
  for (let i = 0; i < 16 * 16; i++) {
    const v = (i % 16) * 16;
    png.data.set([v, 255 - v, 128, 255], i * 4);
  }
  return PNG.sync.write(png);
}

describeKeyed('viewer and monitor with API keys (real app, headless Chromium)', () => {
  let webDir: string;
  let storeDir: string;
  let store: ModelStore;
  let runs: RunStore;
  let runId: string;
  let app: RunningInferenceApp;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];

  beforeAll(async () => {
    webDir = mkdtempSync(join(tmpdir(), 'lvseg-auth-web-'));
    await buildWeb(webDir);
    storeDir = mkdtempSync(join(tmpdir(), 'lvseg-auth-store-'));
    store = openModelStore(`file://${storeDir}`);
    const card = await publishSeededModel(store, { architecture: 'fcn-paper', seed: 1 });
    await store.setAlias('production', card.version);
    runs = openRunStore(store.uri);
    const run = await runs.createRun({ architecture: 'fcn-paper', hyperParameters: {}, manifestSha256: 'a'.repeat(64), valImageId: 'val-1', layers: ['conv1'], epochs: 3 });
    runId = run.id;
    await runs.recordEpoch(runId, { epoch: 1, loss: 0.5, train: { pixelAccuracy: 0.9, dice: 0.5 }, learningRate: 0.01, seconds: 1 });
    await runs.recordHeatmaps(runId, 1, new Map([['conv1', rampPng()]]));
    app = await startInferenceApp(store, { LVSEG_WEB_DIR: webDir, LVSEG_API_KEYS: `viewer:${VIEWER_KEY}`, LVSEG_ENGINE: 'tfjs' });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    pageErrors = collectPageErrors(page);
  }, SLOW_MS);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    for (const d of [webDir, storeDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('viewer: refused without a key, shows the key field; with the key it lists the models and segments through the API', async () => {
    await page.goto(`${app.url}/`);
    const status = page.locator('#api-key-status');
    await status.filter({ hasText: 'The API refused the request' }).waitFor({ timeout: 60_000 });
    expect(await status.textContent()).toContain('this route needs a credential');
    expect(await page.locator('#api-key-input').getAttribute('type')).toBe('password');

    await page.fill('#api-key-input', VIEWER_KEY);
    await Promise.all([page.waitForEvent('load'), page.click('#api-key-form button[type="submit"]')]);
    await page.waitForFunction(`document.getElementById('status')?.textContent?.startsWith('Ready')`, null, { timeout: 60_000 });
    expect(await page.evaluate(`sessionStorage.getItem('lvseg.apiKey')`)).toBe(VIEWER_KEY);
    expect(await page.locator('#api-key-status').textContent()).toBe('A key is set for this tab.');
    const served = (await request(app.url).get('/models').set('Authorization', `Bearer ${VIEWER_KEY}`).expect(200)).body.servedVersion as string;
    expect(await page.locator('#model-select option').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining(served)]));

    await page.selectOption('#example-select', 'scd0000101-48');
    await page.click('#example-run');
    await page.waitForFunction(`document.getElementById('status')?.textContent?.endsWith('Explanations ready.')`, null, { timeout: SLOW_MS });
    expect(Number(await page.locator('#lv-area').getAttribute('data-value'))).toBeGreaterThanOrEqual(0);
    // The same model run in the browser: model.json and its weights come from GET /models/:ref/files/* with the key.
    await page.click('#browser-run');
    await page.waitForSelector('#browser-dice', { timeout: SLOW_MS });
    expect(Number(await page.locator('#browser-dice').getAttribute('data-value'))).toBeGreaterThanOrEqual(0.98);
    const files = app.logLines().filter((l) => l.event === 'request' && l.route === '/models/:ref/files/:name');
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(files.every((l) => l.principal === 'viewer' && l.status === 200)).toBe(true);
    const segmented = app.logLines().filter((l) => l.event === 'request' && l.route === '/segment');
    expect(segmented.length).toBeGreaterThan(0);
    expect(segmented.every((l) => l.principal === 'viewer' && l.status === 200)).toBe(true);
    expect(await accessibilityViolations(page).then((v) => v.filter((x) => x.impact === 'serious' || x.impact === 'critical'))).toEqual([]);
  }, SLOW_MS);

  it('monitor: with the tab’s key lists the run, follows it live over fetch-read events, and shows its heat map', async () => {
    await page.goto(`${app.url}/monitor/#run=${encodeURIComponent(runId)}`);
    await page.locator('.run-button .run-id', { hasText: runId }).waitFor({ timeout: 30_000 });
    await page.waitForFunction(`window.lvsegMonitor && window.lvsegMonitor.epochs().join() === '1'`, null, { timeout: 30_000 });
    // A new epoch recorded while the page is open arrives through the keyed event stream.
    await runs.recordEpoch(runId, { epoch: 2, loss: 0.4, train: { pixelAccuracy: 0.92, dice: 0.6 }, learningRate: 0.01, seconds: 1 });
    await page.waitForFunction(`window.lvsegMonitor.epochs().join() === '1,2'`, null, { timeout: 30_000 });
    await runs.finishRun(runId, { status: 'failed', error: 'stopped by the test' });
    await page.locator('#live-status', { hasText: /failed/i }).waitFor({ timeout: 30_000 });

    // The heat map: fetched with the key and shown from a blob: URL, with real pixels.
    const img = page.locator('#heatmap-body img');
    await page.waitForFunction(`document.querySelector('#heatmap-body img')?.src.startsWith('blob:')`, null, { timeout: 30_000 });
    expect(await img.getAttribute('data-src')).toBe(`/runs/${encodeURIComponent(runId)}/heatmaps/1/conv1.png`);
    const distinct = await page.evaluate<number>(`(async () => {
      const img = document.querySelector('#heatmap-body img');
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.naturalWidth; c.height = img.naturalHeight;
      const ctx = c.getContext('2d');
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length; i += 4) seen.add(d[i]);
      return seen.size;
    })()`);
    expect(distinct).toBe(16);
    const monitorCalls = app.logLines().filter((l) => l.event === 'request' && typeof l.route === 'string' && String(l.route).startsWith('/runs'));
    expect(new Set(monitorCalls.map((l) => `${l.route} ${l.status} ${l.principal}`))).toEqual(
      new Set(['/runs 200 viewer', '/runs/:id 200 viewer', '/runs/:id/events 200 viewer', '/runs/:id/heatmaps/:epoch/:layer.png 200 viewer']),
    );
  }, SLOW_MS);

  it('/docs: opens without a key, and its Authorize button makes "Try it out" send the key', async () => {
    const docs = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    try {
      await docs.goto(`${app.url}/docs`);
      await docs.locator('button.authorize').first().click();
      await docs.locator('.auth-container input').first().fill(VIEWER_KEY);
      await docs.locator('.auth-btn-wrapper button.authorize').click();
      await docs.locator('.auth-btn-wrapper button.btn-done').click();
      const before = app.logLines().filter((l) => l.event === 'request' && l.route === '/models' && l.principal === 'viewer').length;
      const op = docs.locator('.opblock-get', { has: docs.locator('.opblock-summary-path[data-path="/models"]') });
      await op.locator('.opblock-summary').first().click();
      await op.locator('button.try-out__btn').click();
      await op.locator('button.execute').click();
      await op.locator('.live-responses-table tbody .response-col_status').first().waitFor({ timeout: 30_000 });
      expect((await op.locator('.live-responses-table tbody .response-col_status').first().textContent())?.trim()).toBe('200');
      const after = app.logLines().filter((l) => l.event === 'request' && l.route === '/models' && l.principal === 'viewer').length;
      expect(after).toBe(before + 1);
    } finally {
      await docs.close();
    }
  }, SLOW_MS);

  it('never logged the key, and the pages ran without errors but the refused first calls', () => {
    expect(app.logText()).not.toContain(VIEWER_KEY);
    // Chromium logs each refused call of the first, key-less load of the viewer.
    expect(pageErrors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  });
});
