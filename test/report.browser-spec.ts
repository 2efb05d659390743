/**
 * `lvseg report` on the real sunnybrook-png set (526 images), run as the CLI and opened from disk in headless Chromium:
 * the page shows the numbers of report.json, every chart rendered marks, every example image decoded, nothing was
 * fetched, no page errors, no serious or critical axe violations.
 *
 * The report runs in a child process (the real `lvseg report` through tsx) rather than in jest's sandbox: inside jest's
 * vm context the pixel loops (pngjs decode, histograms) ran 10–20× slower here (170 s instead of ~17 s for 526 images).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { repoRoot } from '@lvseg/common';
import { DataReport, INTENSITY_GRID_AXES, formatPercent } from '@lvseg/report';
import { accessibilityViolations, browserUnavailableReason, collectPageErrors, launchBrowser, saveScreenshot } from './support/browser';
import { SUNNYBROOK_PNG_DIR } from './support/sunnybrook';

function skipReason(): string | null {
  const manifest = join(SUNNYBROOK_PNG_DIR, 'manifest.csv');
  if (!existsSync(manifest)) return `no ${manifest} (set LVSEG_DATA_DIR to the folder holding sunnybrook-png/)`;
  return browserUnavailableReason();
}

/** The little of the DOM the page checks use (the repo compiles without the DOM lib). */
interface El {
  id: string;
  children: ArrayLike<unknown>;
  getAttribute(name: string): string | null;
  querySelector(selector: string): El | null;
  querySelectorAll(selector: string): ArrayLike<El>;
  getBoundingClientRect(): { width: number; height: number };
}
interface Img extends El {
  naturalWidth: number;
  src: string;
}

const reason = skipReason();
const name = 'lvseg report on sunnybrook-png in Chromium';
if (reason) {
  // eslint-disable-next-line no-console
  console.warn(`skipping "${name}": ${reason}`);
}

(reason ? describe.skip : describe)(name, () => {
  let out: string;
  let report: DataReport;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  const requested: string[] = [];

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'lvseg-report-'));
    const t0 = performance.now();
    const tsx = join(repoRoot(), 'node_modules', 'tsx', 'dist', 'cli.mjs');
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [tsx, 'services/trainer/src/main.ts', 'report', '--data', SUNNYBROOK_PNG_DIR, '--out', out], { cwd: repoRoot() }, (err, so, se) =>
        err ? reject(new Error(`lvseg report failed: ${se}`)) : resolve(so),
      ),
    );
    const r = { htmlPath: join(out, 'index.html'), jsonPath: join(out, 'report.json') };
    expect(stdout).toContain(r.htmlPath);
    report = JSON.parse(readFileSync(r.jsonPath, 'utf8'));
    // eslint-disable-next-line no-console
    console.log(`lvseg report on ${report.counts.images} images: ${((performance.now() - t0) / 1000).toFixed(1)} s wall including CLI start-up (in-process: collect ${report.timingMs.collect} ms, charts ${report.timingMs.charts} ms)`);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    errors = collectPageErrors(page);
    // Self-contained means nothing but the page itself is fetched: record and refuse anything else.
    const pageUrl = pathToFileURL(r.htmlPath).href;
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url === pageUrl || url.startsWith('data:')) return route.continue();
      requested.push(url);
      return route.abort();
    });
    await page.goto(pageUrl, { waitUntil: 'load' });
  }, 240000);

  afterAll(async () => {
    await browser?.close();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('reads the whole data set', () => {
    expect(report.counts.images).toBe(526);
    expect(report.counts.cases).toBe(30);
    expect(report.counts.perSplit).toEqual([
      { split: 'train', cases: 15, images: 260 },
      { split: 'val', cases: 15, images: 266 },
    ]);
  });

  it('shows the class-imbalance figures of report.json near the top', async () => {
    const acc = page.locator('#all-background-accuracy');
    expect(await acc.textContent()).toBe(formatPercent(report.imbalance.allBackgroundPixelAccuracy));
    expect(Number(await acc.getAttribute('data-value'))).toBe(report.imbalance.allBackgroundPixelAccuracy);
    expect(await page.locator('#mean-lv-fraction').textContent()).toBe(formatPercent(report.imbalance.meanLvFraction, 2));
    // The figure sits in the first section, above every chart.
    const key = await acc.boundingBox();
    const firstChart = await page.locator('figure.chart').first().boundingBox();
    expect(key && firstChart && key.y < firstChart.y).toBe(true);
  });

  it('renders every chart as an inline SVG with data marks', async () => {
    const charts = await page.$$eval('figure.chart', (figs) =>
      (figs as unknown as El[]).map((f) => {
        const svg = f.querySelector('svg');
        const box = svg?.getBoundingClientRect();
        return {
          id: f.id,
          label: svg?.getAttribute('aria-label') ?? '',
          marks: svg ? Array.from(svg.querySelectorAll('g.role-mark')).reduce((n, g) => n + g.children.length, 0) : 0,
          width: box?.width ?? 0,
          height: box?.height ?? 0,
        };
      }),
    );
    expect(charts.map((c) => c.id)).toEqual(report.charts.map((c) => `chart-${c.id}`));
    expect(charts.length).toBeGreaterThanOrEqual(6);
    for (const c of charts) {
      expect(c.marks).toBeGreaterThan(0);
      expect(c.width).toBeGreaterThan(100);
      expect(c.height).toBeGreaterThan(50);
      expect(c.label.length).toBeGreaterThan(10);
    }
  });

  it('draws the per-case histogram grid with no two texts on top of each other, its axis titles once', async () => {
    const texts = await page.$$eval('#chart-intensity-per-case svg text', (els) =>
      (els as unknown as Array<{ textContent: string | null; getBoundingClientRect(): { x: number; y: number; width: number; height: number } }>)
        .map((t) => ({ text: t.textContent ?? '', box: t.getBoundingClientRect() }))
        .filter((t) => t.text.trim() !== '' && t.box.width > 0),
    );
    // Every case header, its ticks and the titles: far more than a handful of texts.
    expect(texts.length).toBeGreaterThan(report.counts.cases + 10);
    const overlapping: string[] = [];
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        const [a, b] = [texts[i].box, texts[j].box];
        // 1 px of slack: glyph boxes of neighbouring lines may touch.
        if (a.x + 1 < b.x + b.width && b.x + 1 < a.x + a.width && a.y + 1 < b.y + b.height && b.y + 1 < a.y + a.height) overlapping.push(`${texts[i].text} × ${texts[j].text}`);
      }
    }
    expect(overlapping).toEqual([]);
    const titles = texts.filter((t) => /normalised intensity|share of the case/.test(t.text)).map((t) => t.text);
    expect(titles).toEqual([INTENSITY_GRID_AXES.x, INTENSITY_GRID_AXES.y]);
  });

  it('decodes every example image, each with alt text', async () => {
    const imgs = await page.$$eval('img', (els) => (els as unknown as Img[]).map((i) => ({ w: i.naturalWidth, alt: i.getAttribute('alt') ?? '', src: i.src.slice(0, 22) })));
    expect(imgs.length).toBe(report.examples.length);
    expect(report.examples.length).toBe(6);
    for (const i of imgs) {
      expect(i.w).toBe(256);
      expect(i.src).toBe('data:image/png;base64,');
      expect(i.alt.length).toBeGreaterThan(20);
    }
  });

  it('ran clean: no page errors, nothing fetched, no serious or critical accessibility violations', async () => {
    const violations = await accessibilityViolations(page);
    await saveScreenshot(page, 'report-sunnybrook-png');
    expect(errors).toEqual([]);
    expect(requested).toEqual([]);
    expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
  });
});
