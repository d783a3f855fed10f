import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../shared/db/database.ts';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type SlackFake, startSlackFake } from '../fakes/slack/slack-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient } from '../support/http.ts';
import { slackFakeEnv } from '../support/oauth-env.ts';

/**
 * Connect sessions over HTTP (docs/connect-pages.md): what the hosted page's API does, without a
 * browser (test/browser/ drives the page itself in Chromium).
 */
describe('connect sessions', () => {
  let resend: ResendFake;
  let slack: SlackFake;
  let engine: Engine;
  let admin: ApiClient;
  let db: Db;
  let projectId: string;

  beforeAll(async () => {
    [resend, slack] = await Promise.all([startResendFake(), startSlackFake()]);
    engine = await startEngine({
      env: {
        RESEND_API_URL: resend.url,
        ...slackFakeEnv(slack),
        OAUTH_REDIRECT_URIS: 'https://app.example.com',
      },
    });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    db = createDb(engine.database.url, { max: 2 });
    projectId = (await admin.post('/v1/projects', { displayName: 'Connect' })).body.id;
  }, 90_000);
  afterAll(async () => {
    await db?.destroy();
    await engine?.stop();
    await Promise.all([resend?.close(), slack?.close()]);
  });

  const newSession = async (body: Record<string, unknown> = {}) => {
    const res = await admin.post('/v1/connect-sessions', {
      projectId,
      allowedConnectors: ['resend', 'slack'],
      endUser: { id: 'user-42', displayName: 'Ada' },
      ...body,
    });
    expect(res.status).toBe(201);
    return res.body as { id: string; token: string; connectUrl: string; expiresAt: string };
  };

  it('creates a short-lived token with an absolute connect URL; the page API lists the allowed connectors', async () => {
    const s = await newSession();
    expect(s.token).toMatch(/^cst_/);
    expect(s.connectUrl).toBe(`${engine.baseUrl}/connect/${s.token}`);
    expect(new Date(s.expiresAt).getTime() - Date.now()).toBeLessThanOrEqual(30 * 60_000);
    const page = await apiClient(engine.baseUrl, s.token).get('/v1/connect/session');
    expect(page.status).toBe(200);
    expect(page.body.connectors.map((c: { id: string }) => c.id)).toEqual(['resend', 'slack']);
    expect(page.body.connectors[1]).toMatchObject({ authType: 'oauth2', signIn: true });
    expect((await admin.get(`/v1/connect-sessions/${s.id}`)).body).toMatchObject({
      id: s.id,
      status: 'pending',
      connectionId: null,
    });
    // The token is no API key, and an API key is no token.
    expect((await apiClient(engine.baseUrl, s.token).get('/v1/projects')).status).toBe(401);
    expect((await admin.get('/v1/connect/session')).status).toBe(401);
  });

  it('refuses unregistered redirect URIs, unknown connectors and projects of nobody', async () => {
    expect(
      (await admin.post('/v1/connect-sessions', { projectId, redirectUri: 'https://evil.example.org/x' })).status,
    ).toBe(400);
    expect(
      (await admin.post('/v1/connect-sessions', { projectId, allowedConnectors: ['nope'] })).body.error.details,
    ).toEqual([{ path: 'allowedConnectors[0]', message: 'unknown connector' }]);
    expect((await admin.post('/v1/connect-sessions', { projectId: 'prj_01aaaaaaaaaaaaaaaaaaaaaaaa' })).status).toBe(
      404,
    );
  });

  it('a rejected key is reported with the reason, stores nothing and leaves the link usable; a good key completes it once', async () => {
    const s = await newSession({ redirectUri: 'https://app.example.com/done' });
    const page = apiClient(engine.baseUrl, s.token);
    const bad = await page.post('/v1/connect/connections', {
      connectorId: 'resend',
      credentials: { apiKey: 're_wrong_key_000000' },
    });
    expect(bad.status).toBe(200);
    expect(bad.body).toMatchObject({
      status: 'broken',
      statusReason: expect.stringMatching(/^Credentials rejected: .+/),
      connection: null,
    });
    expect((await admin.get('/v1/connections?externalId=user-42')).body.data).toEqual([]);

    expect(
      (await page.post('/v1/connect/connections', { connectorId: 'twilio', credentials: {} })).body.error.code,
    ).toBe('unknown_connector');
    const good = await page.post('/v1/connect/connections', {
      connectorId: 'resend',
      credentials: { apiKey: RESEND_FAKE_FULL_KEY },
    });
    expect(good.status).toBe(201);
    expect(good.body).toMatchObject({
      status: 'active',
      connection: { id: expect.stringMatching(/^conn_/), displayName: 'Resend (Ada)' },
    });
    expect(good.body.redirectTo).toBe(`https://app.example.com/done?connectionId=${good.body.connection.id}`);
    expect(JSON.stringify(good.body)).not.toContain(RESEND_FAKE_FULL_KEY);
    const conn = (await admin.get(`/v1/connections/${good.body.connection.id}`)).body;
    expect(conn).toMatchObject({ status: 'active', externalId: 'user-42', projectIds: [projectId] });
    expect((await admin.get(`/v1/connect-sessions/${s.id}`)).body).toMatchObject({
      status: 'completed',
      connectionId: conn.id,
    });

    const again = await page.get('/v1/connect/session');
    expect(again.status).toBe(401);
    expect(again.body.error.details).toEqual({ reason: 'completed' });
    expect(engine.logs()).not.toContain(s.token);
  });

  it('expired and forged tokens are refused with their reason', async () => {
    const s = await newSession();
    await db
      .updateTable('connect_sessions')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', s.id)
      .execute();
    const expired = await apiClient(engine.baseUrl, s.token).get('/v1/connect/session');
    expect(expired.status).toBe(401);
    expect(expired.body.error.details).toEqual({ reason: 'expired' });
    expect((await admin.get(`/v1/connect-sessions/${s.id}`)).body.status).toBe('expired');
    const forged = await apiClient(engine.baseUrl, `cst_${'A'.repeat(43)}`).get('/v1/connect/session');
    expect(forged.body.error.details).toEqual({ reason: 'unknown' });
  });

  it('the OAuth flow completes only in the browser (cookie) that started it', async () => {
    const s = await newSession();
    const started = await fetch(`${engine.baseUrl}/v1/connect/oauth/slack/authorize`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(started.status).toBe(200);
    const cookie = started.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^ce_connect_browser=[\w-]{43}; Path=\/v1\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
    const { authorizeUrl } = (await started.json()) as { authorizeUrl: string };
    const callbackOf = async () => (await fetch(authorizeUrl, { redirect: 'manual' })).headers.get('location')!;

    // Another browser: no cookie, or another one. Refused, and the state stays for the right browser.
    for (const other of [{}, { cookie: `ce_connect_browser=${'B'.repeat(43)}` }] as Record<string, string>[]) {
      const res = await fetch(await callbackOf(), { redirect: 'manual', headers: other });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/connect/done?error=other_browser');
    }
    const own = await fetch(await callbackOf(), { redirect: 'manual', headers: { cookie: cookie.split(';')[0]! } });
    expect(own.status).toBe(303);
    const done = new URL(own.headers.get('location')!, engine.baseUrl);
    expect(done.pathname).toBe('/connect/done');
    const conn = (await admin.get(`/v1/connections/${done.searchParams.get('connectionId')}`)).body;
    expect(conn).toMatchObject({
      connectorId: 'slack',
      status: 'active',
      externalId: 'user-42',
      projectIds: [projectId],
    });
    expect((await admin.get(`/v1/connect-sessions/${s.id}`)).body).toMatchObject({
      status: 'completed',
      connectionId: conn.id,
    });
  });

  it('serves the pages with a strict CSP and without framing', async () => {
    for (const path of ['/console', '/connect/cst_x', '/connect/done']) {
      const res = await fetch(`${engine.baseUrl}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toContain("script-src 'self';");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(await res.text()).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    }
  });
});
