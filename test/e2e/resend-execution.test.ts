import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine, waitForLog } from '../support/engine.ts';
import { type ApiClient, type ApiResponse, apiClient, setUpProject } from '../support/http.ts';

/**
 * The vertical slice as production runs it: the api and two workers as separate OS processes,
 * Redis and Postgres for real, Resend as the local fake.
 */
describe('Resend through api, queue, two worker processes and the audit log', () => {
  let fake: ResendFake;
  let engine: Engine;
  let admin: ApiClient;
  let client: ApiClient;
  let projectId: string;
  let connectionId: string;

  const email = { from: 'Shop <orders@example.com>', to: ['ada@example.com'], subject: 'Your order', text: 'Thanks!' };

  beforeAll(async () => {
    fake = await startResendFake({ rateLimitPerSecond: 1000 });
    engine = await startEngine({ mode: 'processes', workers: 2, env: { RESEND_API_URL: fake.url } });
    await waitForLog(engine, /worker ready/, 2);
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    const setup = await setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: RESEND_FAKE_FULL_KEY } });
    expect(setup.connectionStatus).toBe('active');
    ({ projectId, connectionId } = setup);
    client = apiClient(engine.baseUrl, setup.projectKey);
  }, 90_000);

  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
  });

  it('sends an email synchronously and records the invocation', async () => {
    fake.reset();
    const res = await client.post('/v1/executions', { connectorId: 'resend', actionId: 'sendEmail', input: email });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      invocationId: expect.stringMatching(/^inv_/),
      output: { id: expect.any(String) },
    });
    expect(res.body.durationMs).toBeGreaterThanOrEqual(0);

    // The fake received exactly the request Resend documents, with the key injected server-side.
    const sends = fake.requests.filter((r) => r.path === '/emails');
    expect(sends).toHaveLength(1);
    expect(sends[0]!.method).toBe('POST');
    expect(sends[0]!.headers.authorization).toBe(`Bearer ${RESEND_FAKE_FULL_KEY}`);
    expect(sends[0]!.headers['user-agent']).toBeTruthy();
    expect(sends[0]!.headers['idempotency-key']).toBe(res.body.invocationId);
    expect(sends[0]!.json).toEqual({ from: email.from, to: email.to, subject: email.subject, text: email.text });
    expect(fake.sentEmails.at(-1)!.id).toBe(res.body.output.id);

    const inv = await client.get(`/v1/invocations/${res.body.invocationId}`);
    expect(inv.status).toBe(200);
    expect(inv.body).toMatchObject({
      id: res.body.invocationId,
      projectId,
      connectionId,
      connectorId: 'resend',
      actionId: 'sendEmail',
      status: 'succeeded',
      attempts: 1,
      output: res.body.output,
      errorCode: null,
    });
    expect(new Date(inv.body.finishedAt).getTime()).toBeGreaterThanOrEqual(new Date(inv.body.createdAt).getTime());
  });

  it('accepts an async execution at once and completes it in the background', async () => {
    const res = await client.post(
      '/v1/executions',
      { connectorId: 'resend', actionId: 'sendEmail', input: email },
      { prefer: 'respond-async' },
    );
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ invocationId: expect.stringMatching(/^inv_/), status: 'queued' });
    expect(res.headers.get('location')).toBe(`/v1/invocations/${res.body.invocationId}`);

    let inv: ApiResponse | undefined;
    for (let i = 0; i < 100; i++) {
      inv = await client.get(res.headers.get('location')!);
      if (inv.body.status === 'succeeded' || inv.body.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(inv!.body.status).toBe('succeeded');
    expect(fake.sentEmails.some((e) => e.id === inv!.body.output.id)).toBe(true);
  });

  it('spreads a burst of sync and async calls over both worker processes', async () => {
    const calls = Array.from({ length: 30 }, (_, i) =>
      client.post(
        '/v1/executions',
        { connectorId: 'resend', actionId: 'sendEmail', input: { ...email, subject: `burst ${i}` } },
        i % 2 ? { prefer: 'respond-async' } : {},
      ),
    );
    const results = await Promise.all(calls);
    expect(results.filter((r) => r.status === 200)).toHaveLength(15);
    expect(results.filter((r) => r.status === 202)).toHaveLength(15);
    const asyncIds = results.filter((r) => r.status === 202).map((r) => r.body.invocationId as string);
    for (let i = 0; i < 100; i++) {
      const statuses = await Promise.all(
        asyncIds.map(async (id) => (await client.get(`/v1/invocations/${id}`)).body.status),
      );
      if (statuses.every((s) => s === 'succeeded')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const subjects = fake.sentEmails.map((e) => (e.body as { subject: string }).subject);
    for (let i = 0; i < 30; i++) expect(subjects.filter((s) => s === `burst ${i}`)).toHaveLength(1);
    // Both worker processes took jobs.
    const pids = new Set(
      [...engine.logs().matchAll(/"pid":(\d+),"service":"worker"[^\n]*invocation succeeded/g)].map((m) => m[1]),
    );
    expect(pids.size).toBe(2);
  });

  it('logs JSON lines that name the request and the invocation, in the api and the worker', async () => {
    const res = await client.post(
      '/v1/executions',
      { connectorId: 'resend', actionId: 'sendEmail', input: email },
      { 'x-request-id': 'req-log-check-1' },
    );
    await waitForLog(engine, new RegExp(`"invocationId":"${res.body.invocationId}"[^\n]*invocation succeeded`));
    await waitForLog(engine, new RegExp(`"service":"api"[^\n]*"invocationId":"${res.body.invocationId}"`));
    const lines = engine
      .logs()
      .split('\n')
      .filter((l) => l.includes(res.body.invocationId))
      .map((l) => JSON.parse(l));
    const apiLine = lines.find((l) => l.service === 'api');
    expect(apiLine).toMatchObject({
      reqId: 'req-log-check-1',
      invocationId: res.body.invocationId,
      res: { statusCode: 200 },
    });
    expect(lines.find((l) => l.service === 'worker')).toMatchObject({
      invocationId: res.body.invocationId,
      msg: 'invocation succeeded',
    });
  });

  it('sends a batch as one JSON array with the validation mode and an Idempotency-Key', async () => {
    fake.reset();
    const emails = [
      { from: 'a@example.com', to: 'b@example.com', subject: 'one', text: '1', replyTo: 'help@example.com' },
      {
        from: 'a@example.com',
        to: ['c@example.com', 'd@example.com'],
        subject: 'two',
        html: '<p>2</p>',
        tags: [{ name: 'kind', value: 'receipt' }],
      },
    ];
    const res = await client.post('/v1/executions', {
      connectorId: 'resend',
      actionId: 'sendBatch',
      input: { emails, validation: 'permissive' },
    });
    expect(res.status).toBe(200);
    const req = fake.requests.find((r) => r.path === '/emails/batch')!;
    expect(req.method).toBe('POST');
    expect(req.headers.authorization).toBe(`Bearer ${RESEND_FAKE_FULL_KEY}`);
    expect(req.headers['content-type']).toMatch(/^application\/json/);
    expect(req.headers['x-batch-validation']).toBe('permissive');
    expect(req.headers['idempotency-key']).toBe(res.body.invocationId);
    expect(req.json).toEqual([
      { from: 'a@example.com', to: 'b@example.com', subject: 'one', text: '1', reply_to: 'help@example.com' },
      {
        from: 'a@example.com',
        to: ['c@example.com', 'd@example.com'],
        subject: 'two',
        html: '<p>2</p>',
        tags: [{ name: 'kind', value: 'receipt' }],
      },
    ]);
    expect(res.body.output).toEqual({ emails: [{ id: expect.any(String) }, { id: expect.any(String) }], errors: [] });
    expect(fake.sentEmails.map((e) => e.id)).toEqual(res.body.output.emails.map((e: { id: string }) => e.id));
  });

  it('lists domains with GET, limit and cursor, and ISO timestamps', async () => {
    fake.reset();
    const first = await client.post('/v1/executions', {
      connectorId: 'resend',
      actionId: 'listDomains',
      input: { limit: 1 },
    });
    expect(first.status).toBe(200);
    const req = fake.requests.find((r) => r.path === '/domains')!;
    expect(req.method).toBe('GET');
    expect(req.headers.authorization).toBe(`Bearer ${RESEND_FAKE_FULL_KEY}`);
    expect(req.query).toEqual({ limit: '1' });
    expect(first.body.output.domains).toHaveLength(1);
    expect(first.body.output.domains[0]).toEqual({
      id: fake.domains[0]!.id,
      name: fake.domains[0]!.name,
      status: fake.domains[0]!.status,
      region: fake.domains[0]!.region,
      createdAt: new Date(fake.domains[0]!.created_at.replace(' ', 'T').replace(/\+00$/, 'Z')).toISOString(),
      capabilities: fake.domains[0]!.capabilities,
    });
    expect(first.body.output.nextCursor).toBe(fake.domains[0]!.id);
    const second = await client.post('/v1/executions', {
      connectorId: 'resend',
      actionId: 'listDomains',
      input: { limit: 1, cursor: first.body.output.nextCursor },
    });
    expect(fake.requests.filter((r) => r.path === '/domains').at(-1)!.query).toEqual({
      limit: '1',
      after: first.body.output.nextCursor,
    });
    expect(second.body.output.domains[0].id).toBe(fake.domains[1]!.id);
  });

  it('lists the audit log newest first with a cursor', async () => {
    const first = await client.get('/v1/invocations?limit=5');
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(5);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const ids = first.body.data.map((i: { id: string }) => i.id);
    expect([...ids].sort().reverse()).toEqual(ids);
    const second = await client.get(`/v1/invocations?limit=5&cursor=${first.body.nextCursor}`);
    expect(second.body.data[0].id < ids[4]).toBe(true);
    const filtered = await client.get('/v1/invocations?actionId=sendEmail&status=succeeded&limit=100');
    expect(
      filtered.body.data.every(
        (i: { actionId: string; status: string }) => i.actionId === 'sendEmail' && i.status === 'succeeded',
      ),
    ).toBe(true);
  });

  it('gives a broken connection for an invalid key, and fails calls on it fast with 409 and no upstream call', async () => {
    const project = await admin.post('/v1/projects', { displayName: 'Broken' });
    const key = await admin.post(`/v1/projects/${project.body.id}/api-keys`, {});
    const conn = await admin.post('/v1/connections', {
      connectorId: 'resend',
      displayName: 'Revoked',
      credentials: { apiKey: 're_not_a_real_key_0000' },
      projectIds: [project.body.id],
    });
    expect(conn.status).toBe(201);
    expect(conn.body).toMatchObject({ status: 'broken', statusReason: expect.stringContaining('API key is invalid') });

    fake.reset();
    const res = await apiClient(engine.baseUrl, key.body.key).post('/v1/executions', {
      connectorId: 'resend',
      actionId: 'sendEmail',
      input: email,
    });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('connection_broken');
    expect(res.body.invocationId).toMatch(/^inv_/);
    expect(fake.requests.filter((r) => r.path === '/emails')).toHaveLength(0);
    const inv = await admin.get(`/v1/invocations/${res.body.invocationId}`);
    expect(inv.body).toMatchObject({ status: 'failed', errorCode: 'connection_broken', attempts: 0 });
  });

  it('answers 404 no_connection to a project with no Resend connection bound', async () => {
    const project = await admin.post('/v1/projects', { displayName: 'Unbound' });
    const key = await admin.post(`/v1/projects/${project.body.id}/api-keys`, {});
    const res = await apiClient(engine.baseUrl, key.body.key).post('/v1/executions', {
      connectorId: 'resend',
      actionId: 'sendEmail',
      input: email,
    });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('no_connection');
  });

  it('rejects invalid input with 400 invalid_input and the failing paths, queueing nothing', async () => {
    const before = (await client.get('/v1/invocations?limit=1')).body.data[0].id;
    const res = await client.post('/v1/executions', {
      connectorId: 'resend',
      actionId: 'sendEmail',
      input: { from: 'orders@example.com', to: Array(51).fill('a@example.com'), subject: 42, text: 'x' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_input');
    const paths = res.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['input.to', 'input.subject']));
    expect((await client.get('/v1/invocations?limit=1')).body.data[0].id).toBe(before);
  });

  it('reports an upstream error as 502 with the upstream status and code', async () => {
    fake.failNext(1, { status: 422, name: 'invalid_parameter', message: 'Invalid `from` field.' });
    const res = await client.post('/v1/executions', { connectorId: 'resend', actionId: 'sendEmail', input: email });
    expect(res.status).toBe(502);
    expect(res.body.error).toMatchObject({
      code: 'upstream_error',
      details: { status: 422, code: 'invalid_parameter' },
    });
    expect(res.body.invocationId).toMatch(/^inv_/);
  });
});
