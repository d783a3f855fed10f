import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKeyring } from '../../shared/crypto/keyring.ts';
import { Vault } from '../../shared/crypto/vault.ts';
import { createDb, type Db } from '../../shared/db/database.ts';
import {
  GMAIL_SCOPES,
  GOOGLE_FAKE_CLIENT_ID,
  GOOGLE_FAKE_CLIENT_SECRET,
  type GoogleFake,
  SHEETS_FAKE_ORDERS_ID,
  SHEETS_SCOPES,
  startGoogleFake,
} from '../fakes/google/google-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient } from '../support/http.ts';
import { expireTokenSoon, storedCredentials } from '../support/stored-credentials.ts';

/**
 * Google sign-in end to end, for Gmail and Sheets on the one shared Google OAuth client:
 * POST /v1/oauth/{gmail|googlesheets}/authorize → the fake's consent page → our callback (the fake
 * checks the PKCE verifier) → an active connection; then Google's refresh rules: a refresh token
 * that does not rotate, used once however many calls on two workers need a new access token, a 401
 * that one refresh fixes, and invalid_grant breaking the connection.
 */
describe('Google OAuth for Gmail and Sheets', () => {
  let fake: GoogleFake;
  let engine: Engine;
  let admin: ApiClient;
  let db: Db;
  let vault: Vault;
  let projectId: string;
  let project: ApiClient;

  beforeAll(async () => {
    fake = await startGoogleFake();
    engine = await startEngine({
      workers: 2,
      env: {
        GOOGLE_CLIENT_ID: GOOGLE_FAKE_CLIENT_ID,
        GOOGLE_CLIENT_SECRET: GOOGLE_FAKE_CLIENT_SECRET,
        GOOGLE_OAUTH_AUTHORIZE_URL: fake.endpoints.authorize,
        GOOGLE_OAUTH_TOKEN_URL: fake.endpoints.token,
        GMAIL_API_URL: fake.url,
        GOOGLESHEETS_API_URL: fake.url,
        WORKER_CONCURRENCY: '16',
      },
    });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    db = createDb(engine.database.url, { max: 2 });
    vault = new Vault(parseKeyring(engine.env.CONNECTORS_ENCRYPTION_KEYS!));
    projectId = (await admin.post('/v1/projects', { displayName: 'Google OAuth' })).body.id;
    project = apiClient(engine.baseUrl, (await admin.post(`/v1/projects/${projectId}/api-keys`, {})).body.key);
  }, 90_000);
  afterAll(async () => {
    await db?.destroy();
    await engine?.stop();
    await fake?.close();
  });

  const callbackUrl = () => `${engine.baseUrl}/v1/oauth/callback`;

  /** Starts an authorization and checks the URL the user is sent to. */
  async function start(
    connectorId: 'gmail' | 'googlesheets',
    body: Record<string, unknown>,
    scopes: string[],
  ): Promise<{ url: URL; state: string }> {
    const started = await admin.post(`/v1/oauth/${connectorId}/authorize`, body);
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const url = new URL(started.body.authorizeUrl);
    expect(url.origin + url.pathname).toBe(fake.endpoints.authorize);
    const q = url.searchParams;
    expect(q.get('client_id')).toBe(GOOGLE_FAKE_CLIENT_ID);
    expect(q.get('redirect_uri')).toBe(callbackUrl());
    expect(q.get('response_type')).toBe('code');
    expect(q.get('state')).toBe(started.body.state);
    // Exactly the union of the connector's actions' scopes, space-separated, each once.
    expect(q.get('scope')!.split(' ')).toEqual(scopes);
    expect(q.get('access_type')).toBe('offline');
    expect(q.get('prompt')).toBe('consent');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.has('client_secret')).toBe(false);
    return { url, state: started.body.state };
  }

  /** Plays the user: the consent page redirects to our callback, which finishes the connection. */
  async function consent(url: URL): Promise<Response> {
    const page = await fetch(url, { redirect: 'manual' });
    expect(page.status).toBe(302);
    const back = new URL(page.headers.get('location')!);
    expect(back.origin + back.pathname).toBe(callbackUrl());
    return fetch(back, { redirect: 'manual' });
  }

  const stored = (connectionId: string) => storedCredentials(db, vault, connectionId);

  const expireSoon = (connectionId: string) => expireTokenSoon(db, vault, connectionId);

  const send = (text: string) =>
    project.post('/v1/executions', {
      connectorId: 'gmail',
      actionId: 'sendEmail',
      input: { to: 'grace@example.com', subject: 'OAuth', text },
    });
  const list = () =>
    project.post('/v1/executions', { connectorId: 'gmail', actionId: 'listMessages', input: { limit: 5 } });

  let gmailConnectionId: string;

  it('signs in to Gmail: consent page, callback, PKCE-checked code exchange, an active connection with an hour-long token', async () => {
    const { url } = await start('gmail', { displayName: 'Ada Gmail', projectIds: [projectId] }, [
      GMAIL_SCOPES.send,
      GMAIL_SCOPES.readonly,
    ]);
    const before = Date.now();
    const callback = await consent(url);
    expect(callback.status).toBe(200);
    const connection = (await callback.json()) as { id: string };
    expect(connection).toMatchObject({
      connectorId: 'gmail',
      status: 'active',
      displayName: 'Ada Gmail',
      projectIds: [projectId],
    });
    gmailConnectionId = connection.id;

    // The exchange: client credentials in the form body, the code verifier the fake checked.
    const exchange = fake.tokenRequests.find((r) => r.grantType === 'authorization_code')!;
    expect(exchange).toMatchObject({ clientAuth: 'body', status: 200 });
    expect(exchange.form).toMatchObject({
      client_id: GOOGLE_FAKE_CLIENT_ID,
      client_secret: GOOGLE_FAKE_CLIENT_SECRET,
      redirect_uri: callbackUrl(),
      code_verifier: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    expect(fake.codeExchanges).toBe(1);

    const creds = await stored(gmailConnectionId);
    expect(creds.accessToken).toMatch(/^ya29\./);
    expect(creds.refreshToken).toMatch(/^1\/\/0/);
    expect(Number(creds.expiresAt) - before).toBeGreaterThan(3_590_000);
    expect(Number(creds.expiresAt) - before).toBeLessThanOrEqual(3_600_000);
    expect(creds.scope).toBe(`${GMAIL_SCOPES.send} ${GMAIL_SCOPES.readonly}`);
    expect(JSON.stringify(connection)).not.toContain(creds.accessToken);

    expect((await send('hello via oauth')).status).toBe(200);
    expect(fake.gmail.sent.at(-1)!.accessToken).toBe(creds.accessToken);
  });

  it('signs in to Sheets with the same Google client, asking only for the Sheets scopes', async () => {
    const { url } = await start('googlesheets', { displayName: 'Ada Sheets', projectIds: [projectId] }, [
      SHEETS_SCOPES.spreadsheets,
      SHEETS_SCOPES.readonly,
    ]);
    const callback = await consent(url);
    expect(callback.status).toBe(200);
    const connection = (await callback.json()) as { id: string; status: string };
    expect(connection.status).toBe('active');
    const res = await project.post('/v1/executions', {
      connectorId: 'googlesheets',
      actionId: 'getValues',
      input: { spreadsheetId: SHEETS_FAKE_ORDERS_ID, range: 'Orders!A1:B1' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.output.values).toEqual([['Date', 'Order']]);
    expect(fake.accessTokenInfo((await stored(connection.id)).accessToken!)!.scopes).toEqual([
      SHEETS_SCOPES.spreadsheets,
      SHEETS_SCOPES.readonly,
    ]);
  });

  it('refuses the callback when the verifier does not match the challenge (the fake checks PKCE)', async () => {
    const { url, state } = await start('gmail', { displayName: 'Tampered' }, [
      GMAIL_SCOPES.send,
      GMAIL_SCOPES.readonly,
    ]);
    // Another verifier than the one the challenge was made from, stored with the state.
    await db
      .updateTable('oauth_states')
      .set({ pkce_verifier: 'x'.repeat(43) })
      .where('state_hash', '=', createHash('sha256').update(state).digest())
      .execute();
    const before = (await admin.get('/v1/connections?connectorId=gmail&limit=100')).body.data.length;
    const callback = await consent(url);
    expect(callback.status).toBe(400);
    const body = (await callback.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('invalid_input');
    expect(body.error.message).toContain('invalid_grant');
    expect(fake.tokenRequests.at(-1)).toMatchObject({
      grantType: 'authorization_code',
      status: 400,
      error: 'invalid_grant',
    });
    expect((await admin.get('/v1/connections?connectorId=gmail&limit=100')).body.data.length).toBe(before);
  });

  it('refreshes an access token about to expire exactly once for 30 concurrent calls on two workers, keeping the refresh token', async () => {
    const { refreshToken } = await stored(gmailConnectionId);
    await expireSoon(gmailConnectionId);
    const before = fake.refreshCount;
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? send(`burst ${i}`) : list())));
    expect(results.map((r) => r.status)).toEqual(Array(30).fill(200));
    expect(fake.refreshCount - before).toBe(1);
    expect(fake.refreshTokenInfo(refreshToken!)!.uses).toBe(1);

    const refresh = fake.tokenRequests.filter((r) => r.grantType === 'refresh_token').at(-1)!;
    expect(refresh).toMatchObject({ clientAuth: 'body', status: 200 });
    expect(refresh.form).toMatchObject({
      refresh_token: refreshToken,
      client_id: GOOGLE_FAKE_CLIENT_ID,
      client_secret: GOOGLE_FAKE_CLIENT_SECRET,
    });
    // Google answered no refresh token: the stored one is kept, the access token and expiry move.
    const after = await stored(gmailConnectionId);
    expect(after.refreshToken).toBe(refreshToken);
    expect(Number(after.expiresAt)).toBeGreaterThan(Date.now() + 3_500_000);
    expect(new Set(fake.gmail.sent.slice(-15).map((m) => m.accessToken))).toEqual(new Set([after.accessToken]));
  });

  it('refreshes once and runs the call again when Google answers 401 UNAUTHENTICATED before our clock says so', async () => {
    const { accessToken } = await stored(gmailConnectionId);
    // A plain 401 (no ErrorInfo), as Gmail answers for a token it no longer accepts.
    fake.invalidateAccessToken(accessToken!);
    const before = fake.refreshCount;
    const sentBefore = fake.gmail.sent.length;
    const res = await send('after a 401');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(fake.refreshCount - before).toBe(1);
    // The send Google refused did nothing, so running it again sends exactly once.
    expect(fake.gmail.sent.length - sentBefore).toBe(1);
    const sends = fake.requests.filter((r) => r.path === '/gmail/v1/users/me/messages/send').slice(-2);
    expect(sends.map((r) => r.headers.authorization)).toEqual([
      `Bearer ${accessToken}`,
      `Bearer ${(await stored(gmailConnectionId)).accessToken}`,
    ]);
    expect((await admin.get(`/v1/connections/${gmailConnectionId}`)).body.status).toBe('active');
  });

  it('uses one refresh for 20 concurrent calls that all get 401 ACCESS_TOKEN_EXPIRED', async () => {
    fake.expireAccessToken((await stored(gmailConnectionId)).accessToken!);
    const before = fake.refreshCount;
    const results = await Promise.all(Array.from({ length: 20 }, () => list()));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(fake.refreshCount - before).toBe(1);
  });

  it('marks the connection broken when the refresh answers invalid_grant (the user revoked access)', async () => {
    const { refreshToken } = await stored(gmailConnectionId);
    fake.revokeGrant(refreshToken!);
    await expireSoon(gmailConnectionId);
    const res = await send('after revocation');
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('connection_broken');
    expect(fake.tokenRequests.at(-1)).toMatchObject({
      grantType: 'refresh_token',
      status: 400,
      error: 'invalid_grant',
    });
    const connection = await admin.get(`/v1/connections/${gmailConnectionId}`);
    expect(connection.body).toMatchObject({ status: 'broken', statusReason: expect.stringContaining('invalid_grant') });
  });

  it('answers 400 and creates nothing when the user denies access', async () => {
    const count = async () => (await admin.get('/v1/connections?connectorId=gmail&limit=100')).body.data.length;
    const before = await count();
    fake.denyNextAuthorize();
    const { url } = await start('gmail', { displayName: 'Denied' }, [GMAIL_SCOPES.send, GMAIL_SCOPES.readonly]);
    const denied = await consent(url);
    expect(denied.status).toBe(400);
    expect(((await denied.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining('access_denied'),
    });
    expect(await count()).toBe(before);
  });
});
