import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace } from '../../shared/auth/workspaces.ts';
import { createDb } from '../../shared/db/database.ts';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';

/** The HTTP contract of docs/api.md: envelope, auth, tenancy, resources, idempotency. */
describe('HTTP contract', () => {
  let fake: ResendFake;
  let engine: Engine;
  let admin: ApiClient;
  let anon: ApiClient;
  let otherAdmin: ApiClient;
  const email = { from: 'a@example.com', to: 'b@example.com', subject: 'Hi', text: 'Hello' };

  beforeAll(async () => {
    fake = await startResendFake({ rateLimitPerSecond: 1000 });
    engine = await startEngine({ env: { RESEND_API_URL: fake.url, MAX_BODY_BYTES: '65536' } });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    anon = apiClient(engine.baseUrl);
    const db = createDb(engine.database.url, { max: 1 });
    const other = await createWorkspace(db, 'other');
    await db.destroy();
    otherAdmin = apiClient(engine.baseUrl, other.key);
  });

  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
  });

  describe('envelope and request ids', () => {
    it('echoes X-Request-Id, or makes one', async () => {
      const echoed = await admin.get('/v1/projects', { 'x-request-id': 'req-abc-123' });
      expect(echoed.headers.get('x-request-id')).toBe('req-abc-123');
      const made = await anon.get('/healthz');
      expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('answers health and readiness without a key', async () => {
      expect((await anon.get('/healthz')).body).toEqual({ status: 'ok' });
      expect((await anon.get('/readyz')).status).toBe(200);
    });

    it.each([
      ['no key', undefined],
      ['an unknown key', 'ck_ws_unknownunknownunknownunknownunknown123'],
      ['a malformed header', 'Basic abc'],
    ])('answers 401 unauthenticated to %s', async (_label, key) => {
      const res = await apiClient(engine.baseUrl, key).get('/v1/projects');
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: { code: 'unauthenticated', message: expect.any(String) } });
    });

    it('answers unknown routes with 404 in the envelope', async () => {
      const res = await admin.get('/v1/nothing-here');
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    });

    it('answers malformed JSON with 400 invalid_json and an oversized body with 413', async () => {
      const bad = await admin.request('POST', '/v1/projects', '{"displayName": ', {
        'content-type': 'application/json',
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('invalid_json');
      const big = await admin.post('/v1/projects', { displayName: 'x', metadata: { blob: 'x'.repeat(70_000) } });
      expect(big.status).toBe(413);
      expect(big.body.error.code).toBe('payload_too_large');
    });

    it('reads a plain JSON body as body-parser reads any other', async () => {
      // "application/json" is read by the api's own reader; the same type spelled without the space
      // before its charset goes through body-parser. Both must answer every body alike.
      const bodies = [
        '{"displayName":"plain"}',
        '\ufeff{"displayName":"after a byte-order mark"}',
        ' \n\t{"displayName":"after whitespace"}',
        '{"displayName":"ünïcödé ✓"}',
        '"a string"',
        '42',
        'null',
        '[]',
        '',
        '   ',
        '\ufeff',
        '{"displayName": ',
        '{"displayName":"x"} trailing',
      ];
      for (const body of bodies) {
        const answers = [];
        for (const type of ['application/json', 'application/json;charset=utf-8']) {
          const res = await admin.request('POST', '/v1/projects', body, { 'content-type': type });
          answers.push({ status: res.status, code: res.body.error?.code, name: res.body.displayName });
        }
        expect(answers[0], JSON.stringify(body)).toEqual(answers[1]);
      }
    });

    it('rejects unknown fields and wrong types with the failing paths', async () => {
      const res = await admin.post('/v1/projects', { displayName: 42, colour: 'red' });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_input');
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual(
        expect.arrayContaining(['displayName']),
      );
      expect(JSON.stringify(res.body.error.details)).toContain('colour');
    });
  });

  describe('projects and keys', () => {
    it('creates, finds by externalId, updates and deletes a project', async () => {
      const created = await admin.post('/v1/projects', {
        displayName: 'Shop',
        externalId: 'shop-42',
        metadata: { plan: 'pro' },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        id: expect.stringMatching(/^prj_/),
        displayName: 'Shop',
        externalId: 'shop-42',
        metadata: { plan: 'pro' },
        rateLimits: {},
      });
      expect((await admin.post('/v1/projects', { displayName: 'Again', externalId: 'shop-42' })).body.error.code).toBe(
        'conflict',
      );

      const found = await admin.get('/v1/projects?externalId=shop-42');
      expect(found.body.data.map((p: { id: string }) => p.id)).toEqual([created.body.id]);

      const patched = await admin.patch(`/v1/projects/${created.body.id}`, {
        displayName: 'Shop 2',
        rateLimits: { resend: 60 },
      });
      expect(patched.body).toMatchObject({
        displayName: 'Shop 2',
        rateLimits: { resend: 60 },
        metadata: { plan: 'pro' },
      });
      expect((await admin.patch(`/v1/projects/${created.body.id}`, { rateLimits: { nope: 5 } })).status).toBe(400);

      expect((await admin.delete(`/v1/projects/${created.body.id}`)).status).toBe(204);
      expect((await admin.get(`/v1/projects/${created.body.id}`)).status).toBe(404);
    });

    it('shows a project key once, lists it without the secret, and revokes it at once', async () => {
      const project = await admin.post('/v1/projects', { displayName: 'Keys' });
      const key = await admin.post(`/v1/projects/${project.body.id}/api-keys`, { name: 'ci' });
      expect(key.status).toBe(201);
      expect(key.body.key).toMatch(/^ck_pr_[A-Za-z0-9_-]{43}$/);
      expect(key.body.prefix).toBe(key.body.key.slice(0, 10));
      const listed = await admin.get(`/v1/projects/${project.body.id}/api-keys`);
      expect(listed.body.data).toEqual([
        { id: key.body.id, name: 'ci', prefix: key.body.prefix, createdAt: expect.any(String) },
      ]);

      const projectClient = apiClient(engine.baseUrl, key.body.key);
      expect((await projectClient.get('/v1/invocations')).status).toBe(200);
      expect((await projectClient.get('/v1/projects')).status).toBe(403);
      expect((await projectClient.get('/v1/projects')).body.error.code).toBe('forbidden');

      expect((await admin.delete(`/v1/projects/${project.body.id}/api-keys/${key.body.id}`)).status).toBe(204);
      expect((await projectClient.get('/v1/invocations')).status).toBe(401);
    });
  });

  describe('tenancy', () => {
    it('hides another workspace’s projects and connections behind 404', async () => {
      const { projectId, connectionId } = await setUpProject(admin, {
        connectorId: 'resend',
        credentials: { apiKey: RESEND_FAKE_FULL_KEY },
      });
      for (const path of [
        `/v1/projects/${projectId}`,
        `/v1/connections/${connectionId}`,
        `/v1/projects/${projectId}/connections`,
      ]) {
        const res = await otherAdmin.get(path);
        expect(res.status, path).toBe(404);
      }
      expect((await otherAdmin.delete(`/v1/connections/${connectionId}`)).status).toBe(404);
      expect(
        (
          await otherAdmin.post('/v1/executions', {
            projectId,
            connectorId: 'resend',
            actionId: 'sendEmail',
            input: email,
          })
        ).status,
      ).toBe(404);
      expect((await otherAdmin.get('/v1/connections')).body.data).toEqual([]);
    });

    it('answers 404 to ids of the wrong shape', async () => {
      for (const path of ['/v1/projects/..%2F..%2Fetc', '/v1/connections/1%20or%201=1', '/v1/invocations/inv_x']) {
        expect((await admin.get(path)).status, path).toBe(404);
      }
    });
  });

  describe('connections and bindings', () => {
    it('tests credentials, restores active with new ones, and keeps bindings idempotent', async () => {
      const project = await admin.post('/v1/projects', { displayName: 'Bindings' });
      const conn = await admin.post('/v1/connections', {
        connectorId: 'resend',
        displayName: 'R',
        credentials: { apiKey: 're_wrong_key_1234567' },
        externalId: 'user-7',
      });
      expect(conn.body).toMatchObject({
        status: 'broken',
        projectIds: [],
        externalId: 'user-7',
        credentialsHint: { apiKey: '…4567' },
      });

      const fixed = await admin.patch(`/v1/connections/${conn.body.id}`, {
        credentials: { apiKey: RESEND_FAKE_FULL_KEY },
      });
      expect(fixed.body).toMatchObject({ status: 'active', statusReason: null });
      expect(new Date(fixed.body.statusChangedAt) >= new Date(conn.body.statusChangedAt)).toBe(true);

      for (let i = 0; i < 2; i++)
        expect((await admin.put(`/v1/projects/${project.body.id}/connections/${conn.body.id}`)).status).toBe(204);
      expect((await admin.get(`/v1/connections/${conn.body.id}`)).body.projectIds).toEqual([project.body.id]);
      expect(
        (await admin.get(`/v1/projects/${project.body.id}/connections`)).body.data.map((c: { id: string }) => c.id),
      ).toEqual([conn.body.id]);
      expect(
        (await admin.get(`/v1/connections?externalId=user-7&projectId=${project.body.id}`)).body.data,
      ).toHaveLength(1);
      expect((await admin.get('/v1/connections?status=broken&externalId=user-7')).body.data).toHaveLength(0);

      fake.revokeKey(RESEND_FAKE_FULL_KEY);
      try {
        const retested = await admin.post(`/v1/connections/${conn.body.id}/test`);
        expect(retested.body.status).toBe('broken');
      } finally {
        fake.addKey(RESEND_FAKE_FULL_KEY, 'full');
      }
      expect((await admin.post(`/v1/connections/${conn.body.id}/test`)).body.status).toBe('active');

      expect((await admin.delete(`/v1/projects/${project.body.id}/connections/${conn.body.id}`)).status).toBe(204);
      expect((await admin.get(`/v1/connections/${conn.body.id}`)).body.projectIds).toEqual([]);
      expect((await admin.delete(`/v1/connections/${conn.body.id}`)).status).toBe(204);
      expect((await admin.get(`/v1/connections/${conn.body.id}`)).status).toBe(404);
    });

    it('treats a sending-only Resend key as valid', async () => {
      const conn = await admin.post('/v1/connections', {
        connectorId: 'resend',
        displayName: 'Send only',
        credentials: { apiKey: 're_test_sending_0987654321fedcba' },
      });
      expect(conn.body.status).toBe('active');
    });

    it('stores nothing and answers 502 upstream_unavailable when the upstream cannot give a verdict', async () => {
      const before = (await admin.get('/v1/connections?limit=100')).body.data.length;
      fake.failNext(1, { status: 500, name: 'application_error', message: 'down' });
      const res = await admin.post('/v1/connections', {
        connectorId: 'resend',
        displayName: 'X',
        credentials: { apiKey: RESEND_FAKE_FULL_KEY },
      });
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe('upstream_unavailable');
      expect((await admin.get('/v1/connections?limit=100')).body.data.length).toBe(before);
    });

    it('rejects credentials of the wrong shape and unknown connectors', async () => {
      const shape = await admin.post('/v1/connections', {
        connectorId: 'resend',
        displayName: 'X',
        credentials: { token: 'abc' },
      });
      expect(shape.status).toBe(400);
      expect(shape.body.error.code).toBe('invalid_credentials_shape');
      const unknown = await admin.post('/v1/connections', {
        connectorId: 'mailchimp',
        displayName: 'X',
        credentials: {},
      });
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('unknown_connector');
    });
  });

  describe('executions', () => {
    it('needs projectId with a workspace key, and runs with it', async () => {
      const { projectId } = await setUpProject(admin, {
        connectorId: 'resend',
        credentials: { apiKey: RESEND_FAKE_FULL_KEY },
      });
      const missing = await admin.post('/v1/executions', {
        connectorId: 'resend',
        actionId: 'sendEmail',
        input: email,
      });
      expect(missing.status).toBe(400);
      expect(missing.body.error.details).toEqual([{ path: 'projectId', message: expect.any(String) }]);
      const ok = await admin.post('/v1/executions', {
        projectId,
        connectorId: 'resend',
        actionId: 'sendEmail',
        input: email,
      });
      expect(ok.status).toBe(200);
    });

    it('answers unknown connectors and actions with their own 404 codes', async () => {
      const { projectKey } = await setUpProject(admin, {
        connectorId: 'resend',
        credentials: { apiKey: RESEND_FAKE_FULL_KEY },
      });
      const client = apiClient(engine.baseUrl, projectKey);
      expect(
        (await client.post('/v1/executions', { connectorId: 'nope', actionId: 'x', input: {} })).body.error.code,
      ).toBe('unknown_connector');
      expect(
        (await client.post('/v1/executions', { connectorId: 'resend', actionId: 'nope', input: {} })).body.error.code,
      ).toBe('unknown_action');
    });

    it('asks which connection when several are bound, and uses the one named', async () => {
      const { projectId, projectKey, connectionId } = await setUpProject(admin, {
        connectorId: 'resend',
        credentials: { apiKey: RESEND_FAKE_FULL_KEY },
      });
      await admin.post('/v1/connections', {
        connectorId: 'resend',
        displayName: 'Second',
        credentials: { apiKey: RESEND_FAKE_FULL_KEY },
        projectIds: [projectId],
      });
      const client = apiClient(engine.baseUrl, projectKey);
      const ambiguous = await client.post('/v1/executions', {
        connectorId: 'resend',
        actionId: 'sendEmail',
        input: email,
      });
      expect(ambiguous.status).toBe(409);
      expect(ambiguous.body.error.code).toBe('ambiguous_connection');
      const named = await client.post('/v1/executions', {
        connectorId: 'resend',
        actionId: 'sendEmail',
        input: email,
        connectionId,
      });
      expect(named.status).toBe(200);
      expect((await client.get(`/v1/invocations/${named.body.invocationId}`)).body.connectionId).toBe(connectionId);
    });

    it('replays an Idempotency-Key with one upstream call, and refuses it for a different body', async () => {
      const { projectKey } = await setUpProject(admin, {
        connectorId: 'resend',
        credentials: { apiKey: RESEND_FAKE_FULL_KEY },
      });
      const client = apiClient(engine.baseUrl, projectKey);
      const sendsBefore = fake.sentEmails.length;
      const headers = { 'idempotency-key': 'order-1001-confirmation' };
      const first = await client.post(
        '/v1/executions',
        { connectorId: 'resend', actionId: 'sendEmail', input: email },
        headers,
      );
      const again = await client.post(
        '/v1/executions',
        { connectorId: 'resend', actionId: 'sendEmail', input: email },
        headers,
      );
      expect(first.status).toBe(200);
      expect(again.body).toEqual(first.body);
      const asyncAgain = await client.post(
        '/v1/executions',
        { connectorId: 'resend', actionId: 'sendEmail', input: email },
        { ...headers, prefer: 'respond-async' },
      );
      expect(asyncAgain.body.invocationId).toBe(first.body.invocationId);
      expect(fake.sentEmails.length - sendsBefore).toBe(1);

      const different = await client.post(
        '/v1/executions',
        { connectorId: 'resend', actionId: 'sendEmail', input: { ...email, subject: 'Other' } },
        headers,
      );
      expect(different.status).toBe(422);
      expect(different.body.error.code).toBe('idempotency_key_reused');
      const tooLong = await client.post(
        '/v1/executions',
        { connectorId: 'resend', actionId: 'sendEmail', input: email },
        { 'idempotency-key': 'k'.repeat(256) },
      );
      expect(tooLong.status).toBe(400);
    });

    it('answers 504 timeout with the invocation id when the call outlives timeoutMs, and the call goes on', async () => {
      const { projectKey } = await setUpProject(admin, {
        connectorId: 'resend',
        credentials: { apiKey: RESEND_FAKE_FULL_KEY },
      });
      const client = apiClient(engine.baseUrl, projectKey);
      fake.setLatency(1_500);
      try {
        const res = await client.post('/v1/executions?timeoutMs=300', {
          connectorId: 'resend',
          actionId: 'sendEmail',
          input: email,
        });
        expect(res.status).toBe(504);
        expect(res.body.error.code).toBe('timeout');
        let status = '';
        for (let i = 0; i < 40 && status !== 'succeeded'; i++) {
          await new Promise((r) => setTimeout(r, 100));
          status = (await client.get(`/v1/invocations/${res.body.invocationId}`)).body.status;
        }
        expect(status).toBe('succeeded');
      } finally {
        fake.setLatency(0);
      }
      expect(
        (
          await client.post('/v1/executions?timeoutMs=999999', {
            connectorId: 'resend',
            actionId: 'sendEmail',
            input: email,
          })
        ).status,
      ).toBe(400);
    });
  });

  it('serves the connector catalog with JSON Schemas', async () => {
    const res = await anon.get('/v1/connectors/resend');
    expect(res.status).toBe(200);
    expect(res.body.actions.map((a: { id: string }) => a.id)).toEqual(['sendEmail', 'sendBatch', 'listDomains']);
    const send = res.body.actions[0];
    expect(send.sideEffects).toBe('write');
    expect(send.inputSchema).toMatchObject({
      type: 'object',
      required: expect.arrayContaining(['from', 'to', 'subject']),
    });
    expect((await anon.get('/v1/connectors/nope')).body.error.code).toBe('unknown_connector');
  });
});
