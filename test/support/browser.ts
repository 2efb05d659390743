/** Real headless Chromium (Debian's `chromium`) through playwright-core, for the viewer, monitor and report tests. */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, Browser, Page } from 'playwright-core';
import { repoRoot } from '@lvseg/common';

export const CHROMIUM_PATH = process.env.LVSEG_CHROMIUM ?? '/usr/bin/chromium';

/** Where browser tests write screenshots (test-artifacts/screenshots/, gitignored; look at them after a run). */
export const SCREENSHOT_DIR = join(repoRoot(), 'test-artifacts', 'screenshots');

/**
 * Why browser tests cannot run here, or null when they can. Under CI (`CI=true`) a missing browser is a failure,
 * not a skip: scripts/test.sh installs it, so its absence means the install step broke.
 */
export function browserUnavailableReason(): string | null {
  if (existsSync(CHROMIUM_PATH)) return null;
  const reason = `${CHROMIUM_PATH} not found (apt-get install chromium, or set LVSEG_CHROMIUM)`;
  if (process.env.CI === 'true') throw new Error(`browser tests need Chromium under CI: ${reason}`);
  return reason;
}

/** Launches headless Chromium; close it in afterAll. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** Saves a full-page screenshot under test-artifacts/screenshots and returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Collects console errors and uncaught page errors, so a test can assert a page ran clean. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  return errors;
}

/** Runs axe-core (WCAG 2 A/AA rules) in the page and returns the violations (id, impact, help, node count). */
export async function accessibilityViolations(page: Page): Promise<Array<{ id: string; impact: string | null; help: string; nodes: number }>> {
  const axeSource = require('node:fs').readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8') as string;
  await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    // Runs in the page: `globalThis` is its window (the root tsconfig has no DOM lib, hence the narrow casts).
    const page = globalThis as unknown as { document: unknown; axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: unknown[] }> }> } };
    const r = await page.axe.run(page.document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }));
  });
}
