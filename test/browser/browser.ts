import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/**
 * Debian's Chromium driven by playwright-core: no browser download, so it runs on a fresh CI machine
 * once `.ci/run` has installed the `chromium` package. CHROMIUM_PATH overrides the binary.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** A fresh browser profile (its own cookies) with a fixed viewport, so screenshots are comparable. */
export async function newContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ viewport: { width: 1200, height: 820 }, locale: 'en-GB', timezoneId: 'UTC' });
}

/**
 * Collects what a page would rather hide: CSP violations and uncaught errors (both reported on the
 * console), so a test can assert the page ran cleanly under its policy.
 */
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 40[14]/.test(m.text()))
      problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  return problems;
}

/** JavaScript the page loaded, gzipped, in bytes (the budget is 200 KB per page load). */
export function watchScriptBytes(page: Page): () => number {
  let total = 0;
  page.on('response', (res) => {
    if (res.request().resourceType() !== 'script') return;
    void res.body().then(
      (b) => (total += gzipSync(b).length),
      () => {},
    );
  });
  return () => total;
}

const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '../../docs/screenshots');

/** `npm run screenshots` (SCREENSHOTS=1) saves docs/screenshots/<name>.png; a normal test run does not touch them. */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.SCREENSHOTS !== '1') return;
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true, animations: 'disabled' });
}
