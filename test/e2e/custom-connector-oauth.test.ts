import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKeyring } from '../../shared/crypto/keyring.ts';
import { Vault } from '../../shared/crypto/vault.ts';
import { createDb, type Db } from '../../shared/db/database.ts';
import {
  NOTES_APP,
  NOTES_MACHINE,
  type NotesFake,
  notesDefinition,
  startNotesFake,
} from '../fakes/notes/notes-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient } from '../support/http.ts';
import { expireTokenSoon, storedCredentials } from '../support/stored-credentials.ts';

/**
 * Custom connectors with OAuth 2, end to end against a provider written for the test: the
 * authorization code flow through /v1/oauth with the workspace's own app, and client credentials,
 * where each connection is a client and the engine fetches, caches and renews its tokens.
 */
describe('custom connectors with OAuth 2', () => {
  let fake: NotesFake;
  let engine: Engine;
  let admin: ApiClient;
  let db: Db;
  let vault: Vault;
  /** Every response body the tests saw, to check that no secret is ever in one. */
  const seen: string[] = [];

  beforeAll(async () => {
    fake = await startNotesFake();
    engine = await startEngine({ env: { HEALTH_CHECK_INTERVAL_MS: '3600000' } });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    db = createDb(engine.database.url, { max: 2 });
    vault = new Vault(parseKeyring(engine.env.CONNECTORS_ENCRYPTION_KEYS!));
  }, 90_000);
  afterAll(async () => {
    await db?.destroy();
    await engine?.stop();
    await fake?.close();
  });

  const stored = (connectionId: string) => storedCredentials(db, vault, connectionId);

  const expireSoon = (connectionId: string) => expireTokenSoon(db, vault, connectionId);

  async function projectClient(): Promise<{ projectId: string; client: ApiClient }> {
    const p = await admin.post('/v1/projects', { displayName: 'Notes project' });
    const key = await admin.post(`/v1/projects/${p.body.id}/api-keys`, { name: 'test' });
    return { projectId: p.body.id, client: apiClient(engine.baseUrl, key.body.key) };
  }

  const run = async (client: ApiClient, connectorId: string, actionId: string, input: Record<string, unknown> = {}) => {
    const res = await client.post('/v1/executions', { connectorId, actionId, input });
    seen.push(JSON.stringify(res.body));
    return res;
  };
  const lastBearer = () => fake.requests.filter((r) => r.path.startsWith('/api/')).at(-1)?.headers.authorization;

  describe('authorization code', () => {
    const id = 'custom-notes';
    let client: ApiClient;
    let projectId: string;
    let connectionId: string;

    beforeAll(async () => {
      const auth = {
        type: 'oauth2',
        grant: 'authorization_code',
        authorizeUrl: `${fake.url}/oauth/authorize`,
        tokenUrl: `${fake.url}/oauth/token`,
        clientId: NOTES_APP.clientId,
        clientSecret: NOTES_APP.clientSecret,
        scopes: ['notes.read', 'notes.write'],
      };
      const created = await admin.post('/v1/connectors', { definition: notesDefinition(fake.url, auth) });
      seen.push(JSON.stringify(created.body));
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toMatchObject({
        id,
        authType: 'oauth2',
        definition: { auth: { grant: 'authorization_code', clientId: NOTES_APP.clientId } },
      });
      expect(created.body.definition.auth.clientSecret).toBeUndefined();
      ({ client, projectId } = await projectClient());
    });

    it('connects through the provider: authorize → its redirect → our callback → an active connection', async () => {
      const started = await admin.post(`/v1/oauth/${id}/authorize`, {
        displayName: 'My notes',
        projectIds: [projectId],
      });
      expect(started.status, JSON.stringify(started.body)).toBe(200);
      const url = new URL(started.body.authorizeUrl);
      expect(url.origin + url.pathname).toBe(`${fake.url}/oauth/authorize`);
      expect(Object.fromEntries(url.searchParams)).toMatchObject({
        client_id: NOTES_APP.clientId,
        response_type: 'code',
        scope: 'notes.read notes.write',
        state: started.body.state,
        redirect_uri: `${engine.baseUrl}/v1/oauth/callback`,
        code_challenge_method: 'S256',
      });

      const consent = await fetch(url, { redirect: 'manual' });
      expect(consent.status).toBe(302);
      const callback = await fetch(consent.headers.get('location')!, { redirect: 'manual' });
      const connection = (await callback.json()) as { id: string; status: string };
      seen.push(JSON.stringify(connection));
      expect(callback.status, JSON.stringify(connection)).toBe(200);
      expect(connection).toMatchObject({
        connectorId: id,
        status: 'active',
        displayName: 'My notes',
        projectIds: [projectId],
      });
      connectionId = connection.id;
      // The code was exchanged with the workspace's client secret and the PKCE verifier.
      const exchange = fake.requests.find(
        (r) => r.path === '/oauth/token' && r.form?.grant_type === 'authorization_code',
      )!;
      expect(exchange.form).toMatchObject({
        client_id: NOTES_APP.clientId,
        client_secret: NOTES_APP.clientSecret,
        code_verifier: expect.any(String),
      });
      const creds = await stored(connectionId);
      expect(creds).toMatchObject({
        accessToken: expect.stringMatching(/^at_/),
        refreshToken: expect.stringMatching(/^rt_/),
        expiresAt: expect.any(String),
      });
    });

    it('executes with the access token as a bearer token', async () => {
      const { accessToken } = await stored(connectionId);
      const read = await run(client, id, 'listNotes');
      expect(read.status, JSON.stringify(read.body)).toBe(200);
      expect(read.body.output).toEqual([{ id: 'n_1', text: 'First note', by: 'seed' }]);
      expect(lastBearer()).toBe(`Bearer ${accessToken}`);
      const write = await run(client, id, 'addNote', { text: 'via OAuth' });
      expect(write.status, JSON.stringify(write.body)).toBe(200);
      expect(write.body.output).toMatchObject({ text: 'via OAuth', by: 'user_1' });
    });

    it('refreshes a token about to expire before the call, keeping the refresh token (no rotation)', async () => {
      const before = await stored(connectionId);
      await expireSoon(connectionId);
      const refreshes = fake.tokenRequests.refresh_token ?? 0;
      const res = await run(client, id, 'listNotes');
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(fake.tokenRequests.refresh_token).toBe(refreshes + 1);
      const after = await stored(connectionId);
      expect(after.accessToken).not.toBe(before.accessToken);
      expect(after.refreshToken).toBe(before.refreshToken);
      expect(Number(after.expiresAt)).toBeGreaterThan(Date.now() + 3_000_000);
      expect(lastBearer()).toBe(`Bearer ${after.accessToken}`);
    });

    it('refreshes and runs the call again when the service says the token expired (401) before our clock does', async () => {
      fake.expireAccessTokens();
      const refreshes = fake.tokenRequests.refresh_token ?? 0;
      const res = await run(client, id, 'addNote', { text: 'after expiry' });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.output).toMatchObject({ text: 'after expiry' });
      expect(fake.tokenRequests.refresh_token).toBe(refreshes + 1);
      expect(fake.notes.filter((n) => n.text === 'after expiry')).toHaveLength(1);
      expect((await admin.get(`/v1/connections/${connectionId}`)).body.status).toBe('active');
    });

    it('marks the connection broken when the provider refuses the refresh (invalid_grant)', async () => {
      fake.revokeRefreshTokens();
      await expireSoon(connectionId);
      const res = await run(client, id, 'listNotes');
      expect(res.status, JSON.stringify(res.body)).toBe(409);
      expect(res.body.error.code).toBe('connection_broken');
      const connection = await admin.get(`/v1/connections/${connectionId}`);
      expect(connection.body).toMatchObject({
        status: 'broken',
        statusReason: expect.stringContaining('invalid_grant'),
      });
    });
  });

  describe('client credentials', () => {
    const id = 'custom-notes-machine';
    let client: ApiClient;
    let projectId: string;
    let connectionId: string;
    const tokenRequests = () => fake.tokenRequests.client_credentials ?? 0;
    const connect = (clientSecret: string) =>
      admin.post('/v1/connections', {
        connectorId: id,
        displayName: 'Machine',
        credentials: { clientId: NOTES_MACHINE.clientId, clientSecret },
        projectIds: [projectId],
      });

    beforeAll(async () => {
      const auth = {
        type: 'oauth2',
        grant: 'client_credentials',
        tokenUrl: `${fake.url}/oauth/token`,
        scopes: ['notes.read', 'notes.write'],
        clientAuthentication: 'basic',
      };
      const created = await admin.post('/v1/connectors', { definition: notesDefinition(fake.url, auth, { id }) });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toMatchObject({
        authType: 'oauth2',
        authFields: [
          { key: 'clientId', secret: false, required: true },
          { key: 'clientSecret', secret: true, required: true },
        ],
      });
      ({ client, projectId } = await projectClient());
    });

    it('has no sign-in page', async () => {
      const res = await admin.post(`/v1/oauth/${id}/authorize`, { displayName: 'x' });
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({
        code: 'unknown_connector',
        message: expect.stringContaining('client id and secret'),
      });
    });

    it('tests the client at creation: a client the token endpoint rejects is broken, a good one active', async () => {
      fake.reset();
      const rejected = await connect('not-the-secret-0000000000');
      seen.push(JSON.stringify(rejected.body));
      expect(rejected.status, JSON.stringify(rejected.body)).toBe(201);
      expect(rejected.body).toMatchObject({
        status: 'broken',
        statusReason: expect.stringContaining('invalid_client'),
      });
      expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /oauth/token']);
      await admin.delete(`/v1/connections/${rejected.body.id}`);

      fake.reset();
      const created = await connect(NOTES_MACHINE.clientSecret);
      seen.push(JSON.stringify(created.body));
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toMatchObject({
        status: 'active',
        credentialsHint: { clientId: NOTES_MACHINE.clientId, clientSecret: '…6789' },
      });
      connectionId = created.body.id;
      // The token request: the client as HTTP Basic, the definition's scopes; then the credential test with the token.
      const [tokenRequest, probe] = fake.requests;
      expect(tokenRequest).toMatchObject({
        path: '/oauth/token',
        form: { grant_type: 'client_credentials', scope: 'notes.read notes.write' },
      });
      expect(tokenRequest!.headers.authorization).toBe(
        `Basic ${Buffer.from(`${NOTES_MACHINE.clientId}:${NOTES_MACHINE.clientSecret}`).toString('base64')}`,
      );
      expect(tokenRequest!.form?.client_secret).toBeUndefined();
      const creds = await stored(connectionId);
      expect(probe).toMatchObject({ path: '/api/me', headers: { authorization: `Bearer ${creds.accessToken}` } });
      expect(creds).toMatchObject({
        clientId: NOTES_MACHINE.clientId,
        clientSecret: NOTES_MACHINE.clientSecret,
        accessToken: expect.stringMatching(/^at_/),
      });
    });

    it('answers 502 and stores nothing when the token endpoint cannot give a verdict', async () => {
      const before = (await admin.get(`/v1/connections?connectorId=${id}`)).body.data.length;
      fake.failNext(1, { status: 503, body: { error: 'temporarily_unavailable' } });
      const res = await connect(NOTES_MACHINE.clientSecret);
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe('upstream_unavailable');
      expect((await admin.get(`/v1/connections?connectorId=${id}`)).body.data.length).toBe(before);
    });

    it('sends the token as a bearer token and reuses it across calls until it nears expiry', async () => {
      const before = tokenRequests();
      const { accessToken } = await stored(connectionId);
      for (let i = 0; i < 3; i++) {
        const res = await run(client, id, 'listNotes');
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(lastBearer()).toBe(`Bearer ${accessToken}`);
      }
      const write = await run(client, id, 'addNote', { text: 'from the machine' });
      expect(write.body.output).toMatchObject({ by: `client:${NOTES_MACHINE.clientId}` });
      expect(tokenRequests()).toBe(before);

      await expireSoon(connectionId);
      const res = await run(client, id, 'listNotes');
      expect(res.status).toBe(200);
      expect(tokenRequests()).toBe(before + 1);
      const renewed = await stored(connectionId);
      expect(renewed.accessToken).not.toBe(accessToken);
      expect(lastBearer()).toBe(`Bearer ${renewed.accessToken}`);
      await run(client, id, 'listNotes');
      expect(tokenRequests()).toBe(before + 1);
    });

    it('fetches a new token and runs the call again when the service answers 401', async () => {
      fake.expireAccessTokens();
      const before = tokenRequests();
      const res = await run(client, id, 'addNote', { text: 'after a 401' });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(tokenRequests()).toBe(before + 1);
      expect(fake.notes.filter((n) => n.text === 'after a 401')).toHaveLength(1);
    });

    it('tests the connection with a new token, so a token the provider forgot does not break it', async () => {
      fake.expireAccessTokens();
      const before = tokenRequests();
      const tested = await admin.post(`/v1/connections/${connectionId}/test`);
      expect(tested.body).toMatchObject({ status: 'active' });
      expect(tokenRequests()).toBe(before + 1);
    });

    it('marks the connection broken when the token endpoint rejects its client (invalid_client), and a new secret restores it', async () => {
      fake.clients.set(NOTES_MACHINE.clientId, 'rotated-secret-0123456789');
      fake.expireAccessTokens();
      const res = await run(client, id, 'listNotes');
      expect(res.status, JSON.stringify(res.body)).toBe(409);
      expect(res.body.error.code).toBe('connection_broken');
      const broken = await admin.get(`/v1/connections/${connectionId}`);
      expect(broken.body).toMatchObject({ status: 'broken', statusReason: expect.stringContaining('invalid_client') });

      const updated = await admin.patch(`/v1/connections/${connectionId}`, {
        credentials: { clientId: NOTES_MACHINE.clientId, clientSecret: 'rotated-secret-0123456789' },
      });
      expect(updated.body).toMatchObject({ status: 'active' });
      expect((await run(client, id, 'listNotes')).status).toBe(200);
    });

    it('never shows a client secret or token in a response or a log line', async () => {
      const tokens = (await stored(connectionId)).accessToken!;
      for (const secret of [NOTES_MACHINE.clientSecret, NOTES_APP.clientSecret, 'rotated-secret-0123456789', tokens]) {
        for (const body of seen) expect(body).not.toContain(secret);
        expect(engine.logs()).not.toContain(secret);
      }
    });
  });
});
