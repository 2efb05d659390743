/**
 * The live training monitor end to end: the real inference app on a temp file store, a real (tiny) training run
 * recording into the same store while the page is open in headless Chromium, and the page following it live.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { repoRoot } from '@lvseg/common';
import type { Manifest } from '@lvseg/imaging';
import { BackendInfo, TrainConfig, heatmapLayers, initBackend } from '@lvseg/model';
import { FileModelStore, FileRunStore, ModelCard } from '@lvseg/model-store';
import { trainAndPublish, TrainedModel } from '../services/trainer/src/commands/train';
import { RunRecorder } from '../services/trainer/src/run-recorder';
import { makeTinyDataset, sunnybrookPngMissingReason } from '../services/trainer/src/testing/tiny-dataset';
import { accessibilityViolations, browserUnavailableReason, collectPageErrors, launchBrowser, saveScreenshot } from './support/browser';
import { startInferenceApp, RunningInferenceApp } from './support/inference-app';

const skipReason = browserUnavailableReason() ?? sunnybrookPngMissingReason();
if (skipReason) {
  // eslint-disable-next-line no-console
  console.warn(`skipping the monitor browser test: ${skipReason}`);
}
const describeMonitor = skipReason ? describe.skip : describe;

async function until<T>(probe: () => Promise<T | undefined | false>, what: string, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Each chart axis of the curves with labels: its title and its visible tick labels, in order. */
function chartAxes(page: Page): Promise<Array<{ title: string; labels: string[] }>> {
  return page.evaluate<Array<{ title: string; labels: string[] }>>(`[...document.querySelectorAll('#curves svg g.role-axis')]
    .map((axis) => ({
      title: axis.querySelector('.role-axis-title text')?.textContent ?? '',
      labels: [...axis.querySelectorAll('.role-axis-label text')].filter((t) => t.getAttribute('opacity') !== '0' && t.textContent !== '').map((t) => t.textContent),
    }))
    .filter((a) => a.labels.length > 0)`);
}

/** Epoch numbers in the page's epoch table (its row headers). */
function tableEpochs(page: Page): Promise<number[]> {
  return page.evaluate<number[]>(`[...document.querySelectorAll('#epoch-body th[scope="row"]')].map((th) => Number(th.textContent))`);
}

describeMonitor('training monitor page (/monitor/) following a live run', () => {
  const root = mkdtempSync(join(tmpdir(), 'lvseg-monitor-'));
  let app: RunningInferenceApp;
  let browser: Browser;
  let backend: BackendInfo;
  let data: ReturnType<typeof makeTinyDataset>;
  let training: Promise<{ trained: TrainedModel; card: ModelCard }> | undefined;
  // Training waits at the end of epoch 1 until the page shows that epoch (so epochs 2 and 3 surely arrive live);
  // afterAll opens the gate too, so a failed assertion can never leave the run (and jest) waiting.
  let releaseTraining: () => void = () => {};

  beforeAll(async () => {
    backend = await initBackend();
    data = makeTinyDataset({ train: 4, val: 2 });
    app = await startInferenceApp(new FileModelStore({ root }), { LVSEG_WEB_DIR: join(repoRoot(), 'services', 'inference', 'web') });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    // Never leave the training run behind, even when an assertion failed half way.
    releaseTraining();
    const done = await training?.catch(() => undefined);
    done?.trained.result.model.dispose();
    await browser?.close();
    await app?.close();
    rmSync(root, { recursive: true, force: true });
    if (data) rmSync(data.dir, { recursive: true, force: true });
  });

  it('shows the run’s curves, epoch table and per-layer heatmaps, updating live until the run finishes', async () => {
    const runs = new FileRunStore({ root });
    const pageSawEpoch1 = new Promise<void>((r) => (releaseTraining = r));
    const gate = { onEpochEnd: async (m: { epoch: number }) => (m.epoch === 1 ? pageSawEpoch1 : undefined) };
    training = trainAndPublish(
      new FileModelStore({ root }),
      backend,
      { arch: 'unet-small', data: data.dir, overrides: { epochs: 3, crop: 64, batchSize: 4, valEvery: 1, seed: 3 }, recording: { store: runs, heatmapEvery: 2, log: () => {} } },
      gate,
    );
    training.catch(() => releaseTraining()); // a failure must not leave the gate waiting
    const runId = await until(async () => (await runs.listRuns())[0]?.id, 'the run record', 60000);

    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = collectPageErrors(page);
    await page.goto(`${app.url}/monitor/`);
    const runButton = page.locator('#run-list button', { hasText: runId });
    await runButton.waitFor({ timeout: 20000 });
    await runButton.focus();
    await page.keyboard.press('Enter'); // keyboard use: the run list is buttons
    // The page opens the run on the hashchange that Enter causes, a task after the key press returns.
    await page.locator('#run-list button[aria-pressed="true"]', { hasText: runId }).waitFor({ timeout: 10000 });
    expect(await runButton.getAttribute('aria-pressed')).toBe('true');
    expect(page.url()).toContain(`#run=${runId}`);

    const seenAtLoad = await until(async () => {
      const e = await tableEpochs(page);
      return e.length > 0 ? e : undefined;
    }, 'epoch 1 in the table', 120000);
    expect(seenAtLoad).toEqual([1]);
    releaseTraining();

    await page.locator('#live-status', { hasText: 'Finished' }).waitFor({ timeout: 240000 });
    const { card, trained } = await training;
    const expectedEpochs = trained.result.history.map((m) => m.epoch);
    expect(expectedEpochs).toEqual([1, 2, 3]);

    // Exactly the run's epochs, in the table and in the chart's data.
    expect(await tableEpochs(page)).toEqual(expectedEpochs);
    const chartEpochs = await until(async () => {
      const e = await page.evaluate<number[] | null>(`(() => { const v = window.lvsegMonitor.view(); return v ? v.data('epochs').map((d) => d.epoch) : null; })()`);
      return e && e.length === 3 ? e : undefined;
    }, 'the chart data', 20000);
    expect(chartEpochs).toEqual(expectedEpochs);
    const chartLoss = await page.evaluate<number[]>(`window.lvsegMonitor.view().data('epochs').map((d) => d.loss)`);
    expect(chartLoss).toEqual(trained.result.history.map((m) => m.trainLoss));
    expect(await page.locator('#curves svg').count()).toBeGreaterThan(0);
    expect(await page.locator('#live-status').textContent()).toContain(card.version);

    // The heatmap grid: one row per layer, one column per recorded epoch (1, every 2nd, last).
    const recorded = (await runs.getRun(runId)).heatmaps.map((h) => h.epoch);
    expect(recorded).toEqual([1, 2, 3]);
    expect(await page.evaluate<string[]>(`[...document.querySelectorAll('#heatmap-head th')].map((th) => th.textContent)`)).toEqual(['Layer', ...recorded.map((e) => `Epoch ${e}`)]);
    expect(await page.evaluate<string[]>(`[...document.querySelectorAll('#heatmap-body th[scope="row"]')].map((th) => th.textContent)`)).toEqual(heatmapLayers('unet-small'));
    const images = await page.evaluate<Array<{ alt: string; width: number; distinct: number }>>(`(async () => {
      const out = [];
      for (const img of document.querySelectorAll('#heatmap-body img')) {
        await img.decode();
        const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        const ctx = canvas.getContext('2d');
        ctx.drawImage(img, 0, 0);
        const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        const seen = new Set();
        for (let i = 0; i < px.length; i += 4) seen.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
        out.push({ alt: img.alt, width: img.naturalWidth, distinct: seen.size });
      }
      return out;
    })()`);
    expect(images).toHaveLength(heatmapLayers('unet-small').length * recorded.length);
    for (const img of images) {
      expect(img.width).toBeGreaterThan(0);
      expect(img.distinct).toBeGreaterThan(1);
    }

    // The published version appears among the model versions, linked to its run.
    await page.locator('#model-list li', { hasText: card.version }).waitFor({ timeout: 10000 });
    expect(await page.locator('#model-list li', { hasText: card.version }).locator('button').count()).toBe(1);

    await saveScreenshot(page, 'monitor-run');
    const serious = (await accessibilityViolations(page)).filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(serious).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 420000);

  it('shows the step within the epoch and the time left from a recorder’s step reports, and a one-epoch run’s axes with distinct labels', async () => {
    // The trainer's own recorder, fed steps on a fake clock: 10 s a step, 8 steps, one epoch planned.
    const runs = new FileRunStore({ root });
    const clock = { ms: 0 };
    const recorder = await RunRecorder.start(
      { store: runs, heatmapEvery: 0, log: () => {}, progressEveryMs: 0, nowMs: () => clock.ms },
      { cfg: { arch: 'unet-small', epochs: 1 } as TrainConfig, manifest: { sha256: 'b'.repeat(64) } as Manifest, dataSource: 'steps-test', valImage: undefined, hyperParameters: { optimizer: 'adam', learningRate: 0.002 } },
    );
    if (!recorder) throw new Error('the recorder did not start');
    const hooks = recorder.hooks();
    const step = async (k: number) => {
      clock.ms = k * 10_000;
      hooks.onStep!({ epoch: 1, step: k, steps: 8, loss: 1 / k, learningRate: 0.002 });
      await recorder.idle();
    };
    hooks.onEpochStart!(1, 8);
    await step(1);
    await step(3);

    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = collectPageErrors(page);
    await page.goto(`${app.url}/monitor/#run=${recorder.runId}`);
    const progress = page.locator('#step-progress');
    await page.locator('#step-progress[data-step="3"]').waitFor({ timeout: 20000 });
    expect(await progress.isVisible()).toBe(true);
    // 30 s for 3 steps: 10 s a step, 5 to go.
    expect(await progress.getAttribute('data-epoch-eta-seconds')).toBe('50');
    expect(await page.locator('#step-text').textContent()).toMatch(/^Epoch 1 of 1: step 3 of 8 · about \d+ s left in this epoch · loss 0\.3333( · last report .+ ago)?$/);
    expect(await page.locator('#step-bar').evaluate((b) => [(b as unknown as { value: number }).value, (b as unknown as { max: number }).max])).toEqual([3, 8]);
    await saveScreenshot(page, 'monitor-step-progress');

    // Live, through the event stream: a later step, then the last one.
    await step(6);
    await page.locator('#step-progress[data-step="6"]').waitFor({ timeout: 20000 });
    expect(await progress.getAttribute('data-epoch-eta-seconds')).toBe('20');
    await step(8);
    await page.locator('#step-text', { hasText: 'step 8 of 8 · validating and recording the epoch' }).waitFor({ timeout: 20000 });
    const serious = (await accessibilityViolations(page)).filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(serious).toEqual([]);

    await hooks.onEpochEnd!({ epoch: 1, learningRate: 0.002, trainLoss: 0.5, trainPixelAccuracy: 0.97, trainDice: 0.4, val: { pixelAccuracy: 0.981, dice: 0.5, images: 2 }, ms: 80_000 }, undefined as never);
    await recorder.finish();
    // Not just 'Finished': the running status says "no epoch finished yet".
    await page.locator('#live-status', { hasText: /^Finished after epoch 1 of 1/ }).waitFor({ timeout: 20000 });
    expect(await progress.isHidden()).toBe(true);

    // One point per chart: one integer tick on each epoch axis, Dice from 0 to 1, and no label twice on any axis.
    const axes = await until(async () => {
      const a = await chartAxes(page);
      return a.filter((x) => x.title === 'epoch').length === 4 && a.length === 8 ? a : undefined;
    }, 'the four charts with their axes', 20000);
    for (const axis of axes) expect({ title: axis.title, labels: [...new Set(axis.labels)] }).toEqual(axis);
    expect(axes.filter((a) => a.title === 'epoch').map((a) => a.labels)).toEqual([['1'], ['1'], ['1'], ['1']]);
    const dice = axes.find((a) => a.title === 'Dice')!;
    expect([Number(dice.labels[0]), Number(dice.labels[dice.labels.length - 1])]).toEqual([0, 1]);
    for (const title of ['training loss', 'pixel accuracy', 'learning rate']) expect(axes.find((a) => a.title === title)!.labels.length).toBeGreaterThanOrEqual(2);
    await saveScreenshot(page, 'monitor-one-epoch');
    expect(errors).toEqual([]);
    await page.close();
  }, 120000);
});
