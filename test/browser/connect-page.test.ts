import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../shared/db/database.ts';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type SlackFake, startSlackFake } from '../fakes/slack/slack-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient } from '../support/http.ts';
import { slackFakeEnv } from '../support/oauth-env.ts';
import { launchChromium, newContext, screenshot, watchProblems, watchScriptBytes } from './browser.ts';

/**
 * The hosted connect page in Debian's Chromium (docs/connect-pages.md): an end user connects Resend
 * with a key, sees a rejected key as Broken with the reason, signs in with Slack through the fake's
 * authorize page; expired links get a clear page; a forwarded sign-in cannot finish elsewhere.
 */
describe('connect page in Chromium', () => {
  let resend: ResendFake;
  let slack: SlackFake;
  let engine: Engine;
  let admin: ApiClient;
  let db: Db;
  let browser: Browser;
  let projectId: string;

  beforeAll(async () => {
    [resend, slack, browser] = await Promise.all([startResendFake(), startSlackFake(), launchChromium()]);
    engine = await startEngine({
      env: {
        RESEND_API_URL: resend.url,
        ...slackFakeEnv(slack),
      },
    });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    db = createDb(engine.database.url, { max: 2 });
    projectId = (await admin.post('/v1/projects', { displayName: 'Acme app' })).body.id;
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await db?.destroy();
    await engine?.stop();
    await Promise.all([resend?.close(), slack?.close()]);
  });

  async function newSession(endUserId: string, extra: Record<string, unknown> = {}) {
    const res = await admin.post('/v1/connect-sessions', {
      projectId,
      allowedConnectors: ['resend', 'slack'],
      endUser: { id: endUserId, displayName: 'Ada Lovelace' },
      ...extra,
    });
    expect(res.status).toBe(201);
    return res.body as { id: string; token: string; connectUrl: string };
  }
  const connectionsOf = async (endUserId: string) =>
    (await admin.get(`/v1/connections?externalId=${endUserId}`)).body.data as Array<Record<string, unknown>>;

  it('an end user connects Resend with a key: tested, Active, bound to the project; under 200 KB of JS', async () => {
    const session = await newSession('user-resend');
    const context = await newContext(browser);
    const page = await context.newPage();
    const problems = watchProblems(page);
    const scriptBytes = watchScriptBytes(page);
    await page.goto(session.connectUrl);
    await expect.poll(() => page.getByRole('heading', { name: 'Connect an account' }).isVisible()).toBe(true);
    await screenshot(page, 'connect-choose');
    await page.getByRole('button', { name: /Resend/ }).click();
    await page.getByLabel('Name this connection').fill('Ada’s Resend');
    await page.getByLabel('API key').fill(RESEND_FAKE_FULL_KEY);
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await page.getByRole('heading', { name: 'Resend is connected' }).waitFor();
    expect(await page.locator('.badge').innerText()).toBe('Active');
    await screenshot(page, 'connect-active');

    const [conn] = await connectionsOf('user-resend');
    expect(conn).toMatchObject({
      connectorId: 'resend',
      displayName: 'Ada’s Resend',
      status: 'active',
      projectIds: [projectId],
    });
    expect((await admin.get(`/v1/connect-sessions/${session.id}`)).body).toMatchObject({
      status: 'completed',
      connectionId: conn!.id,
    });
    expect(problems).toEqual([]);
    expect(scriptBytes()).toBeGreaterThan(1000);
    expect(scriptBytes()).toBeLessThan(200 * 1024);
    await context.close();
  });

  it('a rejected key shows Broken with the upstream reason, stores nothing, and the person can retry', async () => {
    const session = await newSession('user-broken');
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(session.connectUrl);
    await page.getByRole('button', { name: /Resend/ }).click();
    await page.getByLabel('API key').fill('re_this_key_is_wrong_123');
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    const reason = page.getByTestId('broken-reason');
    await reason.waitFor();
    expect(await page.locator('[role=alert] .badge').innerText()).toBe('Broken');
    expect(await reason.innerText()).toMatch(/^Credentials rejected: .*(invalid|API key)/i);
    // Secret fields are write-only: the typed key is not echoed anywhere on the page.
    expect(await page.content()).not.toContain('re_this_key_is_wrong_123');
    await screenshot(page, 'connect-broken');
    expect(await connectionsOf('user-broken')).toEqual([]);

    await page.getByLabel('API key').fill(RESEND_FAKE_FULL_KEY);
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await page.getByRole('heading', { name: 'Resend is connected' }).waitFor();
    expect(await connectionsOf('user-broken')).toHaveLength(1);
    await context.close();
  });

  it('Slack sign-in through the fake authorize page ends Active, with the end user as externalId', async () => {
    const session = await newSession('user-slack');
    const context = await newContext(browser);
    const page = await context.newPage();
    const problems = watchProblems(page);
    await page.goto(session.connectUrl);
    await page.getByRole('button', { name: /Slack/ }).click();
    await screenshot(page, 'connect-slack');
    await page.getByRole('button', { name: 'Sign in with Slack' }).click();
    // → the fake's authorize page (it approves at once) → our callback → the result page.
    await page.waitForURL(/\/connect\/done\?/);
    await page.getByRole('heading', { name: 'Slack is connected' }).waitFor();
    await screenshot(page, 'connect-slack-done');
    const [conn] = await connectionsOf('user-slack');
    expect(conn).toMatchObject({
      connectorId: 'slack',
      status: 'active',
      projectIds: [projectId],
      displayName: 'Slack (Ada Lovelace)',
    });
    expect(problems).toEqual([]);
    await context.close();
  });

  it('expired and made-up links get a clear page, never a stack trace', async () => {
    const expired = await newSession('user-expired');
    await db
      .updateTable('connect_sessions')
      .set({ expires_at: new Date(Date.now() - 60_000) })
      .where('id', '=', expired.id)
      .execute();
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(expired.connectUrl);
    await page.getByRole('heading', { name: 'This link has expired' }).waitFor();
    await screenshot(page, 'connect-expired');
    const body = await page.locator('body').innerText();
    expect(body).not.toMatch(/error|stack|at .*\.ts/i);

    await page.goto(`${engine.baseUrl}/connect/cst_${'x'.repeat(43)}`);
    await page.getByRole('heading', { name: 'This link is not valid' }).waitFor();
    await page.goto(`${engine.baseUrl}/connect/not-a-token`);
    await page.getByRole('heading', { name: 'This link is not valid' }).waitFor();
    await context.close();
  });

  it('a forwarded sign-in link opened in a second browser cannot complete the first browser’s OAuth flow', async () => {
    const session = await newSession('user-forwarded');
    const first = await newContext(browser);
    const second = await newContext(browser);
    const a = await first.newPage();
    // Browser A starts "Sign in with Slack"; its way to the provider is held, as if the link was copied instead.
    let authorizeUrl = '';
    await a.route(`${slack.url}/oauth/v2/authorize**`, (route) => {
      authorizeUrl = route.request().url();
      return route.abort();
    });
    await a.goto(session.connectUrl);
    await a.getByRole('button', { name: /Slack/ }).click();
    await a.getByRole('button', { name: 'Sign in with Slack' }).click();
    await expect.poll(() => authorizeUrl).not.toBe('');

    // Browser B (another profile: other cookies) opens the forwarded link and consents: refused.
    const b = await second.newPage();
    await b.goto(authorizeUrl);
    await b.waitForURL(/\/connect\/done\?error=other_browser/);
    await b.getByRole('heading', { name: 'Not connected' }).waitFor();
    expect(await b.getByRole('alert').innerText()).toMatch(/started in another browser/);
    await screenshot(b, 'connect-other-browser');
    expect(await connectionsOf('user-forwarded')).toEqual([]);
    expect((await admin.get(`/v1/connect-sessions/${session.id}`)).body.status).toBe('pending');

    // Browser A still finishes its own flow.
    await a.unroute(`${slack.url}/oauth/v2/authorize**`);
    await a.goto(authorizeUrl);
    await a.getByRole('heading', { name: 'Slack is connected' }).waitFor();
    expect(await connectionsOf('user-forwarded')).toHaveLength(1);
    await Promise.all([first.close(), second.close()]);
  });
});
