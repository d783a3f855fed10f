import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCredentials } from '../../shared/connections/credentials.ts';
import { parseKeyring } from '../../shared/crypto/keyring.ts';
import { Vault } from '../../shared/crypto/vault.ts';
import { createDb, type Db } from '../../shared/db/database.ts';
import {
  SLACK_FAKE_CLIENT_ID,
  SLACK_FAKE_CLIENT_SECRET,
  type SlackFake,
  startSlackFake,
} from '../fakes/slack/slack-fake.ts';
import { type Engine, startEngine, waitForLog } from '../support/engine.ts';
import { type ApiClient, apiClient } from '../support/http.ts';
import { expireTokenSoon } from '../support/stored-credentials.ts';

/**
 * Slack OAuth v2 with token rotation, end to end: authorize → the provider's redirect → our
 * callback → an active connection; then refresh, once, however many calls arrive at expiry.
 */
describe('Slack OAuth and token rotation', () => {
  let fake: SlackFake;
  let engine: Engine;
  let admin: ApiClient;
  let db: Db;
  let vault: Vault;
  let projectId: string;
  let projectClient: ApiClient;

  beforeAll(async () => {
    fake = await startSlackFake();
    engine = await startEngine({
      mode: 'processes',
      workers: 2,
      env: {
        SLACK_API_URL: `${fake.url}/api`,
        SLACK_OAUTH_AUTHORIZE_URL: `${fake.url}/oauth/v2/authorize`,
        SLACK_CLIENT_ID: SLACK_FAKE_CLIENT_ID,
        SLACK_CLIENT_SECRET: SLACK_FAKE_CLIENT_SECRET,
        WORKER_CONCURRENCY: '16',
        // A whole origin, and one exact URL.
        OAUTH_REDIRECT_URIS: 'https://app.example.com, https://other.example.net/connected',
      },
    });
    await waitForLog(engine, /worker ready/, 2);
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    db = createDb(engine.database.url, { max: 2 });
    vault = new Vault(parseKeyring(engine.env.CONNECTORS_ENCRYPTION_KEYS!));
    const project = await admin.post('/v1/projects', { displayName: 'OAuth' });
    projectId = project.body.id;
    projectClient = apiClient(engine.baseUrl, (await admin.post(`/v1/projects/${projectId}/api-keys`, {})).body.key);
  }, 90_000);
  afterAll(async () => {
    await db?.destroy();
    await engine?.stop();
    await fake?.close();
  });

  /** Plays the user: open the authorize URL, follow Slack's redirect to our callback. */
  async function authorize(body: Record<string, unknown>): Promise<Response> {
    const started = await admin.post('/v1/oauth/slack/authorize', body);
    expect(started.status).toBe(200);
    const url = new URL(started.body.authorizeUrl);
    expect(url.origin + url.pathname).toBe(`${fake.url}/oauth/v2/authorize`);
    expect(url.searchParams.get('client_id')).toBe(SLACK_FAKE_CLIENT_ID);
    expect(url.searchParams.get('state')).toBe(started.body.state);
    expect(url.searchParams.get('scope')!.split(',')).toEqual(
      expect.arrayContaining(['chat:write', 'channels:read', 'users:read', 'reactions:write', 'channels:history']),
    );
    const slack = await fetch(url, { redirect: 'manual' });
    expect(slack.status).toBe(302);
    return fetch(slack.headers.get('location')!, { redirect: 'manual' });
  }

  const postMessage = (text: string) =>
    projectClient.post('/v1/executions', {
      connectorId: 'slack',
      actionId: 'postMessage',
      input: { channel: 'C0FAKEGEN01', text },
    });

  const expireSoon = (connectionId: string) => expireTokenSoon(db, vault, connectionId);

  let connectionId: string;

  it('creates an active connection from the callback, with tokens stored encrypted', async () => {
    const callback = await authorize({ displayName: 'Acme Slack', projectIds: [projectId] });
    expect(callback.status).toBe(200);
    const connection = (await callback.json()) as { id: string };
    expect(connection).toMatchObject({
      connectorId: 'slack',
      status: 'active',
      displayName: 'Acme Slack',
      projectIds: [projectId],
    });
    connectionId = connection.id;

    const row = await db.selectFrom('connections').selectAll().where('id', '=', connectionId).executeTakeFirstOrThrow();
    const creds = openCredentials(vault, row);
    expect(creds.botToken).toMatch(/^xoxe\.xoxb-/);
    expect(creds.refreshToken).toMatch(/^xoxe-1-/);
    expect(row.credentials_ciphertext.toString('latin1')).not.toContain(creds.botToken);
    expect(JSON.stringify(connection)).not.toContain(creds.botToken);

    const res = await postMessage('hello via oauth');
    expect(res.status).toBe(200);
    expect(fake.postedMessages.at(-1)!.token).toBe(creds.botToken);
  });

  it('redirects to the app with the connection id when a redirectUri was given', async () => {
    const callback = await authorize({ displayName: 'Redirected', redirectUri: 'https://app.example.com/done?step=2' });
    expect(callback.status).toBe(302);
    const location = new URL(callback.headers.get('location')!);
    expect(location.origin + location.pathname).toBe('https://app.example.com/done');
    expect(location.searchParams.get('step')).toBe('2');
    expect(location.searchParams.get('connectionId')).toMatch(/^conn_/);
  });

  it('accepts only registered redirect URIs, so a consent never hands a connection id to another site', async () => {
    for (const redirectUri of [
      'https://evil.example.org/steal',
      'https://app.example.com.evil.example.org/done',
      'http://app.example.com/done', // another scheme is another origin
      'https://other.example.net/connected/elsewhere', // an exact entry is exact
    ]) {
      const res = await admin.post('/v1/oauth/slack/authorize', { displayName: 'Redirected', redirectUri });
      expect(res.status, redirectUri).toBe(400);
      expect(res.body.error.code).toBe('invalid_input');
      expect(res.body.error.details).toEqual([{ path: 'redirectUri', message: expect.any(String) }]);
    }
    const exact = await authorize({ displayName: 'Exact', redirectUri: 'https://other.example.net/connected' });
    expect(exact.status).toBe(302);
    expect(new URL(exact.headers.get('location')!).searchParams.get('connectionId')).toMatch(/^conn_/);
  });

  it("repeats only a well-formed OAuth error code from the provider, never the provider's text", async () => {
    const callback = async (error: string) => {
      const { state } = (await admin.post('/v1/oauth/slack/authorize', { displayName: 'Denied' })).body;
      const res = await fetch(`${engine.baseUrl}/v1/oauth/callback?${new URLSearchParams({ state, error })}`, {
        redirect: 'manual',
      });
      return { status: res.status, text: await res.text() };
    };
    const denied = await callback('access_denied');
    expect(denied.status).toBe(400);
    expect(JSON.parse(denied.text).error).toMatchObject({
      code: 'invalid_input',
      details: [{ path: 'error', message: 'access_denied' }],
    });
    const hostile = await callback('<script>alert(1)</script> Call +1-555-0100 to verify your account');
    expect(hostile.status).toBe(400);
    expect(JSON.parse(hostile.text).error).toMatchObject({
      code: 'invalid_input',
      details: [{ path: 'error', message: 'unknown_error' }],
    });
    expect(hostile.text).not.toMatch(/script|555|verify/);
  });

  it('refreshes a token about to expire exactly once under 30 concurrent calls on two workers', async () => {
    await expireSoon(connectionId);
    const before = fake.refreshCount;
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => postMessage(`burst ${i}`)));
    expect(results.map((r) => r.status)).toEqual(Array(30).fill(200));
    expect(fake.refreshCount - before).toBe(1);
    const creds = openCredentials(
      vault,
      await db.selectFrom('connections').selectAll().where('id', '=', connectionId).executeTakeFirstOrThrow(),
    );
    expect(Number(creds.expiresAt)).toBeGreaterThan(Date.now() + 3_600_000);
  });

  it('refreshes once and retries when Slack says token_expired before our clock does', async () => {
    const row = await db.selectFrom('connections').selectAll().where('id', '=', connectionId).executeTakeFirstOrThrow();
    fake.expireToken(openCredentials(vault, row).botToken!);
    const before = fake.refreshCount;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => postMessage(`expired ${i}`)));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(fake.refreshCount - before).toBe(1);
  });

  it('marks the connection broken when the refresh is refused', async () => {
    await expireSoon(connectionId);
    fake.failRefreshes('invalid_refresh_token');
    try {
      const res = await postMessage('after revocation');
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('connection_broken');
      const connection = await admin.get(`/v1/connections/${connectionId}`);
      expect(connection.body).toMatchObject({
        status: 'broken',
        statusReason: expect.stringContaining('invalid_refresh_token'),
      });
    } finally {
      fake.failRefreshes(null);
    }
  });

  it('answers 400 and creates nothing for a denied authorization or a reused state', async () => {
    const count = async () => (await admin.get('/v1/connections?connectorId=slack&limit=100')).body.data.length;
    const before = await count();
    fake.denyNextAuthorize();
    const denied = await authorize({ displayName: 'Denied' });
    expect(denied.status).toBe(400);
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('invalid_input');

    const started = await admin.post('/v1/oauth/slack/authorize', { displayName: 'Twice' });
    const slack = await fetch(started.body.authorizeUrl, { redirect: 'manual' });
    const callbackUrl = slack.headers.get('location')!;
    expect((await fetch(callbackUrl, { redirect: 'manual' })).status).toBe(200);
    const reused = await fetch(callbackUrl, { redirect: 'manual' });
    expect(reused.status).toBe(400);
    expect(await count()).toBe(before + 1);
    expect((await fetch(`${engine.baseUrl}/v1/oauth/callback?state=made-up&code=x`)).status).toBe(400);
  });
});
