import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { apiClient } from '../support/http.ts';
import { launchChromium, newContext, screenshot, watchProblems, watchScriptBytes } from './browser.ts';

/**
 * The operator console in Debian's Chromium (docs/console.md): sign in with the workspace key,
 * create a connection (Active; a bad key Broken with the reason), a project, bind, take a project
 * key (shown once), run an action through the API with it, and find the invocation in the audit log
 * with its status and duration; then the rate-limit chart and webhooks.
 */
describe('operator console in Chromium', () => {
  let resend: ResendFake;
  let engine: Engine;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let scriptBytes: () => number;
  let projectKey: string;

  beforeAll(async () => {
    [resend, browser] = await Promise.all([startResendFake({ rateLimitPerSecond: 1000 }), launchChromium()]);
    engine = await startEngine({ env: { RESEND_API_URL: resend.url } });
    context = await newContext(browser);
    page = await context.newPage();
    // A stuck step fails on its own, naming its locator, before the test's 30 s run out (a Node 22 run
    // once timed out somewhere in the Projects test with nothing to say where).
    page.setDefaultTimeout(15_000);
    problems = watchProblems(page);
    scriptBytes = watchScriptBytes(page);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await engine?.stop();
    await resend?.close();
  });

  /**
   * Opens a section and waits until it is the one shown. The click only changes the URL's hash; the
   * view switches on the hashchange event after it, so a step right after the click could otherwise
   * find the previous view's field of the same label (Connections and Projects both have "Name").
   */
  const tab = async (name: string) => {
    const link = page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name, exact: true });
    await link.click();
    await link.and(page.locator('[aria-current="page"]')).waitFor();
  };

  it('signs in with the workspace key, kept in memory only; one page load is under 200 KB of JavaScript', async () => {
    await page.goto(`${engine.baseUrl}/console`);
    await page.getByLabel('Workspace key').waitFor();
    await screenshot(page, 'console-sign-in');
    await page.getByLabel('Workspace key').fill('ck_ws_not_a_real_key_but_long_enough_000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('The API key is unknown or revoked.').waitFor();

    await page.getByLabel('Workspace key').fill(engine.workspaceKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Sections' }).waitFor();
    // A string, so it runs in the page (this file is type-checked without the DOM's types).
    const stored = await page.evaluate<string>(
      'JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie',
    );
    expect(stored).not.toContain(engine.workspaceKey);
    expect((await context.cookies()).map((c) => c.value).join()).not.toContain(engine.workspaceKey);
    const kb = scriptBytes() / 1024;
    console.log(`[console] JavaScript of one page load: ${kb.toFixed(1)} KB gzipped`);
    expect(kb).toBeGreaterThan(1);
    expect(kb).toBeLessThan(200);
  });

  it('shows the catalog with each action’s input and output schema', async () => {
    const resendCard = page.getByRole('region', { name: 'Resend', exact: true });
    await resendCard.getByText('sendEmail', { exact: true }).click();
    expect(await resendCard.getByLabel('sendEmail input schema').innerText()).toContain('"subject"');
    expect(await resendCard.getByLabel('sendEmail output schema').innerText()).toContain('"id"');
    await screenshot(page, 'console-catalog');
  });

  it('creates connections: a good key is Active, a bad one Broken with the reason; secrets are write-only', async () => {
    await tab('Connections');
    const create = async (name: string, key: string) => {
      await page.getByLabel('Connector').selectOption('resend');
      await page.getByLabel('Name', { exact: true }).fill(name);
      await page.getByLabel('API key').fill(key);
      await page.getByRole('button', { name: 'Create and test' }).click();
      await page.getByRole('status').getByText(`“${name}”`).waitFor();
    };
    await create('Shop mail', RESEND_FAKE_FULL_KEY);
    await create('Old key', 're_revoked_key_99999999');
    const row = (name: string) => page.locator('tr', { hasText: name });
    expect(await row('Shop mail').locator('.badge').innerText()).toBe('Active');
    expect(await row('Old key').locator('.badge').innerText()).toBe('Broken');
    expect(await row('Old key').locator('.reason').innerText()).toMatch(/^Credentials rejected: /);
    // Only the hint (last 4 characters) is ever on the page; the key input is empty again.
    expect(await page.content()).not.toContain(RESEND_FAKE_FULL_KEY);
    expect(await page.getByLabel('API key').inputValue()).toBe('');

    // Fix the broken one's credentials: tested again, Active.
    await row('Old key').getByRole('button', { name: 'Fix credentials' }).click();
    await row('Old key').getByLabel('API key').fill(RESEND_FAKE_FULL_KEY);
    await row('Old key').getByRole('button', { name: 'Save and test' }).click();
    await page.getByRole('status').getByText('is Active again').waitFor();
    await screenshot(page, 'console-connections');
  });

  it('creates a project, binds a connection and takes a project key, shown once', async () => {
    await tab('Projects');
    await page.getByLabel('Name', { exact: true }).fill('Storefront');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('region', { name: 'Project: Storefront' }).waitFor();
    await page.getByLabel('Bind a connection').selectOption({ label: 'Shop mail (Resend)' });
    await page.getByRole('button', { name: 'Bind', exact: true }).click();
    await page
      .getByRole('region', { name: 'Project: Storefront' })
      .getByRole('listitem')
      .filter({ hasText: 'Shop mail (Resend)' })
      .getByRole('button', { name: 'Unbind' })
      .waitFor();
    await page.getByRole('button', { name: 'Create project key' }).click();
    projectKey = (await page.getByTestId('shown-once').innerText()).trim();
    expect(projectKey).toMatch(/^ck_/);
    await screenshot(page, 'console-projects');
    await page.getByRole('button', { name: 'I have copied it' }).click();
    expect(await page.content()).not.toContain(projectKey);
  });

  it('finds an action run through the API in the audit log, with its status and duration', async () => {
    const app = apiClient(engine.baseUrl, projectKey);
    const ok = await app.post('/v1/executions', {
      connectorId: 'resend',
      actionId: 'sendEmail',
      input: { from: 'shop@example.com', to: ['ada@example.com'], subject: 'Hi', text: 'Hello' },
    });
    expect(ok.status).toBe(200);
    const bad = await app.post('/v1/executions', {
      connectorId: 'resend',
      actionId: 'sendEmail',
      input: { from: 'shop@example.com', to: [], subject: 'x', text: 'x' },
    });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    const inv = (await app.get(`/v1/invocations/${ok.body.invocationId}`)).body;

    await tab('Audit log');
    await page.getByLabel('Connector').selectOption('resend');
    await page.getByLabel('Status').selectOption('succeeded');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const row = page.locator(`tr[data-invocation="${inv.id}"]`);
    await row.waitFor();
    expect(await row.locator('.badge').innerText()).toBe('succeeded');
    expect(await row.getByTestId('duration').innerText()).toBe(`${inv.durationMs} ms`);
    expect(await page.locator('tr[data-invocation]').count()).toBe(1);
    await row.getByRole('button', { name: `Details of ${inv.id}` }).click();
    const detail = page.getByRole('region', { name: `Invocation ${inv.id}` });
    await detail.getByLabel('Output').waitFor();
    expect(await detail.getByLabel('Output').innerText()).toContain(ok.body.output.id);
    await screenshot(page, 'console-audit-log');
  });

  it('charts rate-limit use per project and connector over the last hour', async () => {
    await tab('Rate limits');
    const chart = page.getByRole('region', { name: 'Storefront · Resend' });
    await chart.waitFor();
    expect(await chart.locator('figcaption').innerText()).toMatch(/^\d+ calls; peak \d+\/min of a limit of \d+\/min/);
    expect(await chart.locator('rect.bar').count()).toBeGreaterThan(0);
    await screenshot(page, 'console-rate-limits');
  });

  it('creates a webhook (secret shown once) and lists its deliveries; the page ran without CSP violations', async () => {
    await tab('Webhooks');
    await page.getByLabel('Endpoint URL').fill('http://127.0.0.1:9/hooks/engine');
    await page.getByRole('button', { name: 'Create webhook' }).click();
    expect(await page.getByTestId('shown-once').innerText()).toMatch(/^whsec_/);
    await page.getByRole('button', { name: 'I have copied it' }).click();
    await page.getByRole('button', { name: 'Deliveries' }).click();
    await page.getByRole('region', { name: 'Deliveries' }).waitFor();
    await screenshot(page, 'console-webhooks');
    expect(problems).toEqual([]);
  });
});
