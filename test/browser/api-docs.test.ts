import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Engine, startEngine } from '../support/engine.ts';
import { launchChromium, newContext, screenshot, watchProblems } from './browser.ts';

/** /docs in a real browser: Swagger UI renders the served document under the page's CSP, with no error. */
describe('the API reference page (/docs)', () => {
  let engine: Engine;
  let browser: Browser;

  beforeAll(async () => {
    [engine, browser] = await Promise.all([startEngine(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await engine?.stop();
  });

  it('renders every tag of /openapi.json with no CSP violation or script error', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const problems = watchProblems(page);
    const offOrigin: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(engine.baseUrl) && !req.url().startsWith('data:')) offOrigin.push(req.url());
    });
    await page.goto(`${engine.baseUrl}/docs`);
    await page.getByText('Connector engine API', { exact: false }).first().waitFor({ timeout: 20_000 });
    await page.locator('.opblock-tag', { hasText: 'Executions' }).first().waitFor({ timeout: 20_000 });
    expect(await page.locator('.opblock').count()).toBeGreaterThan(30);
    await screenshot(page, 'api-docs');
    expect(problems).toEqual([]);
    expect(offOrigin).toEqual([]);
    await context.close();
  });
});
