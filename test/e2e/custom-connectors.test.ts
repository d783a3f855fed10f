import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace } from '../../shared/auth/workspaces.ts';
import { createDb, type Db } from '../../shared/db/database.ts';
import { itemsDefinition, waitForTerminal } from '../fakes/items/items-definition.ts';
import { ITEMS_FAKE_KEY, type ItemsFake, startItemsFake } from '../fakes/items/items-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient } from '../support/http.ts';

describe('custom connectors: a workspace brings its own API', () => {
  let fake: ItemsFake;
  let engine: Engine;
  let admin: ApiClient;
  let db: Db;

  beforeAll(async () => {
    fake = await startItemsFake();
    engine = await startEngine();
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    db = createDb(engine.database.url, { max: 2 });
  });
  afterAll(async () => {
    await db?.destroy();
    await engine?.stop();
    await fake?.close();
  });

  async function project(connectionKey: string) {
    const p = await admin.post('/v1/projects', { displayName: 'Items project' });
    const key = await admin.post(`/v1/projects/${p.body.id}/api-keys`, { name: 'test' });
    const conn = await admin.post('/v1/connections', {
      connectorId: 'custom-items',
      displayName: 'Items',
      credentials: { apiKey: connectionKey },
      projectIds: [p.body.id],
    });
    return { projectId: p.body.id as string, client: apiClient(engine.baseUrl, key.body.key), connection: conn };
  }

  it('runs a posted definition like a built-in: credential test, sync and async reads and writes, the wire requests, one invocation row per call', async () => {
    const created = await admin.post('/v1/connectors', { definition: itemsDefinition(fake.url) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      id: 'custom-items',
      source: 'custom',
      version: 1,
      authType: 'api_key',
      authFields: [{ key: 'apiKey', secret: true }],
    });
    expect(created.body.actions.map((a: { id: string }) => a.id)).toEqual(['getItem', 'listItems', 'createItem']);
    expect(created.body.actions[0].inputSchema).toMatchObject({ type: 'object', required: ['id'] });
    // The catalog lists it for this workspace's keys, not without a key.
    expect((await admin.get('/v1/connectors')).body.data.map((c: { id: string }) => c.id)).toContain('custom-items');
    expect(
      (await apiClient(engine.baseUrl).get('/v1/connectors')).body.data.map((c: { id: string }) => c.id),
    ).not.toContain('custom-items');

    // A key the service rejects: broken. A good one: active.
    const rejected = await project('items_key_revoked_000000');
    expect(rejected.connection.body).toMatchObject({ status: 'broken' });
    expect(rejected.connection.body.statusReason).toContain('The API key is invalid.');
    fake.reset();
    const { client, connection } = await project(ITEMS_FAKE_KEY);
    expect(connection.status).toBe(201);
    expect(connection.body).toMatchObject({ status: 'active', connectorId: 'custom-items' });
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/me']);

    // A read, sync.
    fake.reset();
    const read = await client.post('/v1/executions', {
      connectorId: 'custom-items',
      actionId: 'getItem',
      input: { id: 'it_2' },
    });
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    expect(read.body.output).toEqual({ id: 'it_2', name: 'Second' });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({
      method: 'GET',
      path: '/v1/items/it_2',
      headers: { 'x-api-key': ITEMS_FAKE_KEY },
    });

    // A write, sync: the JSON body from the input, the idempotency header the definition names.
    fake.reset();
    const write = await client.post('/v1/executions', {
      connectorId: 'custom-items',
      actionId: 'createItem',
      input: { name: 'Fourth' },
    });
    expect(write.status, JSON.stringify(write.body)).toBe(200);
    expect(write.body.output).toEqual({ id: 'it_4', name: 'Fourth' });
    expect(fake.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/items',
      json: { name: 'Fourth' },
      headers: { 'idempotency-key': write.body.invocationId, 'content-type': 'application/json' },
    });

    // A read and a write, async; the read pages with a cursor.
    fake.reset();
    const asyncRead = await client.post(
      '/v1/executions',
      { connectorId: 'custom-items', actionId: 'listItems', input: { limit: 2, cursor: '1' } },
      { prefer: 'respond-async' },
    );
    const asyncWrite = await client.post(
      '/v1/executions',
      { connectorId: 'custom-items', actionId: 'createItem', input: { name: 'Fifth' } },
      { prefer: 'respond-async' },
    );
    expect([asyncRead.status, asyncWrite.status]).toEqual([202, 202]);
    expect(await waitForTerminal(client, asyncRead.body.invocationId)).toMatchObject({
      status: 'succeeded',
      connectorVersion: 1,
      output: {
        data: [
          { id: 'it_2', name: 'Second' },
          { id: 'it_3', name: 'Third' },
        ],
        nextCursor: null,
      },
    });
    expect(await waitForTerminal(client, asyncWrite.body.invocationId)).toMatchObject({
      status: 'succeeded',
      output: { id: 'it_4', name: 'Fifth' },
    });
    const listRequest = fake.requests.find((r) => r.method === 'GET');
    expect(listRequest).toMatchObject({ path: '/v1/items', query: { limit: '2', cursor: '1' } });

    // Input is validated at the edge by the definition's JSON Schema, with paths.
    const invalid = await client.post('/v1/executions', {
      connectorId: 'custom-items',
      actionId: 'createItem',
      input: { name: '', extra: 1 },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe('invalid_input');
    expect(invalid.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'input.extra',
      'input.name',
    ]);

    // One invocation row per accepted call (4), each on version 1.
    const rows = await db
      .selectFrom('invocations')
      .select(['connector_version', 'status'])
      .where('connector_id', '=', 'custom-items')
      .execute();
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.connector_version === 1 && r.status === 'succeeded')).toBe(true);

    // Tools list it for the project.
    const tools = await client.get('/v1/tools');
    expect(tools.body.data.map((t: { name: string }) => t.name)).toEqual(
      expect.arrayContaining(['custom-items_getItem', 'custom-items_createItem']),
    );
  });

  it('is invisible to another workspace: not listed, not readable, not callable, not connectable', async () => {
    const other = await createWorkspace(db, 'Other');
    const b = apiClient(engine.baseUrl, other.key);
    expect((await b.get('/v1/connectors')).body.data.map((c: { id: string }) => c.id)).not.toContain('custom-items');
    expect((await b.get('/v1/connectors/custom-items')).body.error.code).toBe('unknown_connector');
    const conn = await b.post('/v1/connections', {
      connectorId: 'custom-items',
      displayName: 'x',
      credentials: { apiKey: ITEMS_FAKE_KEY },
    });
    expect(conn.status).toBe(404);
    expect(conn.body.error.code).toBe('unknown_connector');
    const p = await b.post('/v1/projects', { displayName: 'B' });
    const exec = await b.post('/v1/executions', {
      projectId: p.body.id,
      connectorId: 'custom-items',
      actionId: 'getItem',
      input: { id: 'it_1' },
    });
    expect(exec.status).toBe(404);
    expect(exec.body.error.code).toBe('unknown_connector');
    expect(
      (await b.request('PUT', '/v1/connectors/custom-items', { definition: itemsDefinition(fake.url) })).status,
    ).toBe(404);
    expect((await b.delete('/v1/connectors/custom-items')).status).toBe(404);
    // The same id is free in that workspace: its own connector, unrelated to the first.
    expect(
      (await b.post('/v1/connectors', { definition: itemsDefinition(fake.url, { displayName: 'B items' }) })).status,
    ).toBe(201);
    expect((await admin.get('/v1/connectors/custom-items')).body.displayName).toBe('Items');
  });

  it('refuses a built-in id, an id without the custom- form, and a second POST of the same id', async () => {
    for (const id of ['resend', 'custom', 'Custom-x', 'custom-a_b']) {
      const res = await admin.post('/v1/connectors', { definition: itemsDefinition(fake.url, { id }) });
      expect(res.status, id).toBe(400);
      expect(res.body.error.details[0].path).toBe('definition.id');
    }
    const again = await admin.post('/v1/connectors', { definition: itemsDefinition(fake.url) });
    expect(again.status).toBe(409);
  });

  it('deletes a connector only once no connection uses it', async () => {
    expect(
      (await admin.post('/v1/connectors', { definition: itemsDefinition(fake.url, { id: 'custom-spare' }) })).status,
    ).toBe(201);
    const p = await admin.post('/v1/projects', { displayName: 'spare' });
    const conn = await admin.post('/v1/connections', {
      connectorId: 'custom-spare',
      displayName: 'spare',
      credentials: { apiKey: ITEMS_FAKE_KEY },
      projectIds: [p.body.id],
    });
    expect((await admin.delete('/v1/connectors/custom-spare')).status).toBe(409);
    expect((await admin.delete(`/v1/connections/${conn.body.id}`)).status).toBe(204);
    expect((await admin.delete('/v1/connectors/custom-spare')).status).toBe(204);
    expect((await admin.get('/v1/connectors/custom-spare')).status).toBe(404);
  });
});

describe('custom connectors: error rules, Retry-After, and versions of queued calls', () => {
  let fake: ItemsFake;
  let engine: Engine;
  let admin: ApiClient;

  beforeAll(async () => {
    fake = await startItemsFake();
    // One call at a time, so later calls wait in the queue while the first runs.
    engine = await startEngine({ env: { WORKER_CONCURRENCY: '1', EXECUTION_RESERVE_SLOTS: '0' } });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
  });
  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
  });

  async function connect(connectorId: string) {
    const p = await admin.post('/v1/projects', { displayName: connectorId });
    const key = await admin.post(`/v1/projects/${p.body.id}/api-keys`, {});
    const conn = await admin.post('/v1/connections', {
      connectorId,
      displayName: connectorId,
      credentials: { apiKey: ITEMS_FAKE_KEY },
      projectIds: [p.body.id],
    });
    expect(conn.body.status).toBe('active');
    return { client: apiClient(engine.baseUrl, key.body.key), connectionId: conn.body.id as string };
  }

  it('breaks the connection on a 401 when the error rules say 401 means invalid credentials', async () => {
    expect(
      (await admin.post('/v1/connectors', { definition: itemsDefinition(fake.url, { id: 'custom-breaks' }) })).status,
    ).toBe(201);
    const { client, connectionId } = await connect('custom-breaks');
    fake.keys.delete(ITEMS_FAKE_KEY);
    try {
      const res = await client.post('/v1/executions', {
        connectorId: 'custom-breaks',
        actionId: 'getItem',
        input: { id: 'it_1' },
      });
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('connection_broken');
      const conn = await admin.get(`/v1/connections/${connectionId}`);
      expect(conn.body).toMatchObject({ status: 'broken' });
      expect(conn.body.statusReason).toContain('The API key is invalid.');
    } finally {
      fake.reset();
    }
  });

  it('retries a read after a 429, waiting as long as the header the definition names says', async () => {
    const definition = itemsDefinition(fake.url, {
      id: 'custom-waits',
      errors: {
        codePointer: '/error/code',
        rules: [{ code: 'slow_down', means: 'rate_limited' }],
        retryAfter: { header: 'X-Wait-Seconds', unit: 'seconds' },
      },
    });
    expect((await admin.post('/v1/connectors', { definition })).status).toBe(201);
    const { client } = await connect('custom-waits');
    fake.reset();
    fake.failNext(1, {
      status: 429,
      headers: { 'x-wait-seconds': '2' },
      body: { error: { code: 'slow_down', message: 'Too many requests.' } },
    });
    const res = await client.post('/v1/executions', {
      connectorId: 'custom-waits',
      actionId: 'getItem',
      input: { id: 'it_1' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.output).toEqual({ id: 'it_1', name: 'First' });
    const calls = fake.requests.filter((r) => r.path === '/v1/items/it_1');
    expect(calls).toHaveLength(2);
    // The retry came no sooner than the 2 seconds the upstream asked for.
    expect(calls[1]!.receivedAt.getTime() - calls[0]!.receivedAt.getTime()).toBeGreaterThanOrEqual(1_900);
    expect((await client.get(`/v1/invocations/${res.body.invocationId}`)).body.attempts).toBe(2);
  });

  it('PUT a new version while calls are queued: the queued calls finish on their version, new calls run on the new one', async () => {
    const v1 = itemsDefinition(fake.url, { id: 'custom-versions' }) as ReturnType<typeof itemsDefinition> & {
      actions: Record<string, unknown>[];
    };
    v1.actions[0]!.headers = { 'X-Definition': 'one' };
    expect((await admin.post('/v1/connectors', { definition: v1 })).status).toBe(201);
    const { client } = await connect('custom-versions');
    fake.reset();
    fake.setLatency(1_500);
    const accepted = [];
    for (let i = 0; i < 3; i++) {
      const res = await client.post(
        '/v1/executions',
        { connectorId: 'custom-versions', actionId: 'getItem', input: { id: 'it_1' } },
        { prefer: 'respond-async' },
      );
      expect(res.status).toBe(202);
      accepted.push(res.body.invocationId as string);
    }

    const v2 = structuredClone(v1);
    v2.actions[0]!.headers = { 'X-Definition': 'two' };
    v2.actions[0]!.path = '/items/{input.id}';
    v2.displayName = 'Items v2';
    const put = await admin.put('/v1/connectors/custom-versions', { definition: v2 });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body).toMatchObject({ version: 2, displayName: 'Items v2' });
    // With one worker slot and a slow upstream, the last call is still queued when the new version lands.
    expect((await client.get(`/v1/invocations/${accepted[2]}`)).body.status).toBe('queued');

    for (const id of accepted)
      expect(await waitForTerminal(client, id)).toMatchObject({ status: 'succeeded', connectorVersion: 1 });
    expect(fake.requests.map((r) => r.headers['x-definition'])).toEqual(['one', 'one', 'one']);

    fake.setLatency(0);
    const after = await client.post('/v1/executions', {
      connectorId: 'custom-versions',
      actionId: 'getItem',
      input: { id: 'it_1' },
    });
    expect(after.status).toBe(200);
    expect(fake.requests.at(-1)!.headers['x-definition']).toBe('two');
    expect((await client.get(`/v1/invocations/${after.body.invocationId}`)).body.connectorVersion).toBe(2);
    expect((await admin.get('/v1/connectors/custom-versions')).body).toMatchObject({
      version: 2,
      displayName: 'Items v2',
    });
  });
});
