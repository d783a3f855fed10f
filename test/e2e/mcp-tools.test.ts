import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASK_AFTER_MS } from '../../api/mcp/engine-mcp-server.ts';
import {
  ELEVENLABS_FAKE_KEY,
  type ElevenLabsFake,
  RACHEL_VOICE_ID,
  startElevenLabsFake,
} from '../fakes/elevenlabs/elevenlabs-fake.ts';
import {
  RESEND_FAKE_FULL_KEY,
  RESEND_FAKE_SENDING_KEY,
  type ResendFake,
  startResendFake,
} from '../fakes/resend/resend-fake.ts';
import { SLACK_FAKE_BOT_TOKEN, type SlackFake, startSlackFake } from '../fakes/slack/slack-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';

/**
 * AI agents: GET /v1/tools and the MCP server at POST /v1/mcp, driven by the official clients: the
 * v2 client (revision 2026-07-28) and the 1.x SDK (2025-era `initialize`). Each tool call runs
 * through the one execution service and leaves one invocation row with `via: "mcp"`.
 */
describe('tools for AI agents', () => {
  let resend: ResendFake;
  let slack: SlackFake;
  let eleven: ElevenLabsFake;
  let engine: Engine;
  let admin: ApiClient;
  let projectA: { projectId: string; projectKey: string; connectionId: string };
  let projectB: { projectId: string; projectKey: string; connectionId: string };

  const mcpUrl = () => new URL(`${engine.baseUrl}/v1/mcp`);
  async function connect(key: string, name = 'engine-tests') {
    // Pinned to the current revision (the v2 client speaks the 2025 handshake unless told otherwise).
    const client = new Client({ name, version: '1.2.3' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(
      new StreamableHTTPClientTransport(mcpUrl(), { requestInit: { headers: { authorization: `Bearer ${key}` } } }),
    );
    return client;
  }

  beforeAll(async () => {
    resend = await startResendFake({ rateLimitPerSecond: 1000 });
    slack = await startSlackFake();
    eleven = await startElevenLabsFake();
    engine = await startEngine({
      env: { RESEND_API_URL: resend.url, SLACK_API_URL: `${slack.url}/api`, ELEVENLABS_API_URL: eleven.url },
    });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    projectA = await setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: RESEND_FAKE_FULL_KEY } });
    projectB = await setUpProject(admin, { connectorId: 'slack', credentials: { botToken: SLACK_FAKE_BOT_TOKEN } });
  }, 60_000);
  afterAll(async () => {
    await engine?.stop();
    await resend?.close();
    await slack?.close();
    await eleven?.close();
  });

  it("GET /v1/tools lists the project's callable actions with schemas and the exact execution request", async () => {
    const res = await apiClient(engine.baseUrl, projectA.projectKey).get('/v1/tools');
    expect(res.status).toBe(200);
    expect(res.body.data.map((t: { name: string }) => t.name)).toEqual([
      'resend_sendEmail',
      'resend_sendBatch',
      'resend_listDomains',
    ]);
    const send = res.body.data[0];
    expect(send).toMatchObject({
      connectorId: 'resend',
      actionId: 'sendEmail',
      connectionId: projectA.connectionId,
      sideEffects: 'write',
    });
    expect(send.inputSchema).toMatchObject({ type: 'object' });
    expect(send.outputSchema).toMatchObject({ type: 'object', properties: { id: { type: 'string' } } });
    for (const tool of res.body.data) expect(tool.name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    // The request it documents is one the engine accepts, as it is.
    const run = await apiClient(engine.baseUrl, projectA.projectKey).post(send.request.path, send.request.body);
    expect(run.status).toBe(200);
    // A workspace key is not a project's.
    expect((await admin.get('/v1/tools')).status).toBe(403);
  });

  it('over MCP: lists the tools with annotations and output schemas, and calls a read and a write', async () => {
    const client = await connect(projectA.projectKey);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['resend_sendEmail', 'resend_sendBatch', 'resend_listDomains']);
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect(byName.get('resend_listDomains')!.annotations).toMatchObject({ readOnlyHint: true });
    expect(byName.get('resend_sendEmail')!.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: true,
    });
    const ajv = new Ajv2020({ strict: false });

    const read = await client.callTool({ name: 'resend_listDomains', arguments: { limit: 5 } });
    expect(read.isError).toBeFalsy();
    expect(
      ajv.validate(byName.get('resend_listDomains')!.outputSchema!, read.structuredContent),
      JSON.stringify(ajv.errors),
    ).toBe(true);
    const write = await client.callTool({
      name: 'resend_sendEmail',
      arguments: { from: 'orders@mail.example.com', to: 'ada@example.com', subject: 'Hi', text: 'Hello' },
    });
    expect(write.isError).toBeFalsy();
    expect(ajv.validate(byName.get('resend_sendEmail')!.outputSchema!, write.structuredContent)).toBe(true);
    const invocationId = (write._meta as { invocationId: string }).invocationId;
    const row = await apiClient(engine.baseUrl, projectA.projectKey).get(`/v1/invocations/${invocationId}`);
    expect(row.body).toMatchObject({
      status: 'succeeded',
      via: 'mcp',
      client: { name: 'engine-tests', version: '1.2.3' },
      actionId: 'sendEmail',
    });
    await client.close();
  });

  it('reports failures as isError results with the API error code: bad input, and an upstream 403', async () => {
    const client = await connect(projectA.projectKey);
    const bad = await client.callTool({ name: 'resend_sendEmail', arguments: { from: 'x@mail.example.com', to: [] } });
    expect(bad.isError).toBe(true);
    expect(JSON.parse((bad.content as { text: string }[])[0]!.text).error.code).toBe('invalid_input');

    const restricted = await setUpProject(admin, {
      connectorId: 'resend',
      credentials: { apiKey: RESEND_FAKE_SENDING_KEY },
    });
    const limited = await connect(restricted.projectKey);
    // A sending-only key may not list domains: Resend answers 401 restricted_api_key, a permission error.
    const denied = await limited.callTool({ name: 'resend_listDomains', arguments: {} });
    expect(denied.isError).toBe(true);
    const body = JSON.parse((denied.content as { text: string }[])[0]!.text);
    expect(body.error.code).toBe('upstream_error');
    expect(body.invocationId).toMatch(/^inv_/);
    // An upstream 403 (Resend refusing a recipient on a testing domain): the tool's error, with the upstream's status.
    resend.failNext(1, {
      status: 403,
      name: 'validation_error',
      message: 'You can only send testing emails to your own email address',
    });
    const refused = await client.callTool({
      name: 'resend_sendEmail',
      arguments: { from: 'orders@mail.example.com', to: 'eve@example.com', subject: 'x', text: 'y' },
    });
    expect(refused.isError).toBe(true);
    const refusal = JSON.parse((refused.content as { text: string }[])[0]!.text);
    expect(refusal).toMatchObject({
      error: { code: 'upstream_error', details: { status: 403, code: 'validation_error' } },
      invocationId: expect.stringMatching(/^inv_/),
    });
    await client.close();
    await limited.close();
  });

  it('a replayed idempotency key calls the upstream once and answers the first result', async () => {
    const client = await connect(projectA.projectKey);
    const before = resend.requests.filter((r) => r.path === '/emails').length;
    const args = {
      name: 'resend_sendEmail',
      arguments: { from: 'orders@mail.example.com', to: 'bob@example.com', subject: 'Once', text: 'x' },
      _meta: { idempotencyKey: 'mcp-once-1' },
    };
    const first = await client.callTool(args);
    const second = await client.callTool(args);
    expect(second.structuredContent).toEqual(first.structuredContent);
    expect((second._meta as { invocationId: string }).invocationId).toBe(
      (first._meta as { invocationId: string }).invocationId,
    );
    expect(resend.requests.filter((r) => r.path === '/emails').length).toBe(before + 1);
    await client.close();
  });

  it("a project's key sees only its own tools and cannot reach another project's connections", async () => {
    const a = await connect(projectA.projectKey);
    expect((await a.listTools()).tools.some((t) => t.name.startsWith('slack_'))).toBe(false);
    const call = await a
      .callTool({ name: 'slack_postMessage', arguments: { channel: '#general', text: 'x' } })
      .catch((err: Error) => err);
    // Unknown to this project's server: a protocol error, not a call.
    expect(call instanceof Error || (call as { isError?: boolean }).isError).toBeTruthy();
    await a.close();
  });

  it('refuses a workspace key, no key and a made-up key with 401, and a foreign Origin with 403', async () => {
    const post = (headers: Record<string, string>) =>
      fetch(mcpUrl(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      });
    for (const headers of [
      {} as Record<string, string>,
      { authorization: `Bearer ${engine.workspaceKey}` },
      { authorization: 'Bearer ck_made_up_0000000000000000000000000000' },
    ]) {
      const res = await post(headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    expect(
      (await post({ authorization: `Bearer ${projectA.projectKey}`, origin: 'https://evil.example.com' })).status,
    ).toBe(403);
    expect(
      (await post({ authorization: `Bearer ${projectA.projectKey}`, origin: 'http://localhost.evil.example.com:8080' }))
        .status,
    ).toBe(403);
    // A page of this machine (a local agent UI) may call it, whatever its port.
    const local = await post({
      authorization: `Bearer ${projectA.projectKey}`,
      origin: 'http://localhost:5173',
      'mcp-protocol-version': '2025-06-18',
    });
    expect(local.status).not.toBe(403);
  });

  it("tools follow the bindings: a new binding shows on the next list, a broken connection's tools are gone", async () => {
    await admin.put(`/v1/projects/${projectA.projectId}/connections/${projectB.connectionId}`);
    const client = await connect(projectA.projectKey);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('slack_postMessage');
    await admin.delete(`/v1/projects/${projectA.projectId}/connections/${projectB.connectionId}`);
    expect((await client.listTools()).tools.map((t) => t.name)).not.toContain('slack_postMessage');

    // A connection whose credentials the service rejects takes its tools with it until it is fixed.
    const other = await setUpProject(admin, {
      connectorId: 'resend',
      credentials: { apiKey: 're_test_other_00000000000000' },
    });
    expect(other.connectionStatus).toBe('broken');
    const broken = await connect(other.projectKey);
    expect((await broken.listTools()).tools).toEqual([]);
    expect((await apiClient(engine.baseUrl, other.projectKey).get('/v1/tools')).body.data).toEqual([]);
    await broken.close();
    await client.close();
  });

  it('hands audio back as a resource link to the artifact, downloadable with the same key', async () => {
    const speech = await setUpProject(admin, {
      connectorId: 'elevenlabs',
      credentials: { apiKey: ELEVENLABS_FAKE_KEY },
    });
    const client = await connect(speech.projectKey);
    const result = await client.callTool({
      name: 'elevenlabs_textToSpeech',
      arguments: { voiceId: RACHEL_VOICE_ID, text: 'Hello.' },
    });
    expect(result.isError).toBeFalsy();
    const link = (result.content as { type: string; uri?: string; mimeType?: string; name?: string }[]).find(
      (c) => c.type === 'resource_link',
    );
    expect(link).toMatchObject({ name: 'audio', mimeType: 'audio/mpeg' });
    expect(link!.uri).toBe(
      `http://127.0.0.1:${new URL(engine.baseUrl).port}${(result.structuredContent as { audio: { url: string } }).audio.url}`,
    );
    const download = await fetch(link!.uri!, { headers: { authorization: `Bearer ${speech.projectKey}` } });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('audio/mpeg');
    await client.close();
  });

  it('with two connections of one connector: one tool per action, and the caller picks a connection', async () => {
    const two = await setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: RESEND_FAKE_FULL_KEY } });
    const second = await admin.post('/v1/connections', {
      connectorId: 'resend',
      displayName: 'Second',
      credentials: { apiKey: RESEND_FAKE_FULL_KEY },
      projectIds: [two.projectId],
    });
    const tools = (await apiClient(engine.baseUrl, two.projectKey).get('/v1/tools')).body.data;
    expect(tools.map((t: { name: string }) => t.name)).toEqual([
      'resend_sendEmail',
      'resend_sendBatch',
      'resend_listDomains',
    ]);
    expect(tools[0].connectionId).toBeUndefined();
    expect(tools[0].connections.map((c: { id: string }) => c.id).sort()).toEqual(
      [two.connectionId, second.body.id].sort(),
    );
    expect(tools[0].request.body.connectionId).toBeDefined();

    const client = await connect(two.projectKey);
    const listed = (await client.listTools()).tools.find((t) => t.name === 'resend_listDomains')!;
    expect(listed.inputSchema.required).toContain('connectionId');
    expect((listed.inputSchema.properties as Record<string, { enum?: string[] }>).connectionId!.enum!.sort()).toEqual(
      [two.connectionId, second.body.id].sort(),
    );
    const chosen = await client.callTool({
      name: 'resend_listDomains',
      arguments: { connectionId: second.body.id, limit: 1 },
    });
    expect(chosen.isError).toBeFalsy();
    const row = await apiClient(engine.baseUrl, two.projectKey).get(
      `/v1/invocations/${(chosen._meta as { invocationId: string }).invocationId}`,
    );
    expect(row.body.connectionId).toBe(second.body.id);
    const unchosen = await client.callTool({ name: 'resend_listDomains', arguments: { limit: 1 } });
    expect(unchosen.isError).toBe(true);
    expect(JSON.parse((unchosen.content as { text: string }[])[0]!.text).error.code).toBe('ambiguous_connection');
    await client.close();
  });

  it("answers a long call of a client that takes tasks with a task, polled by tasks/get to the invocation's result", async () => {
    // A modern request on the wire, as a client of revision 2026-07-28 sends it.
    let id = 0;
    const rpc = async (
      method: string,
      params: Record<string, unknown>,
      capabilities: Record<string, unknown> = {},
      key = projectA.projectKey,
    ) => {
      const res = await fetch(mcpUrl(), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${key}`,
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': method,
          // Mcp-Name mirrors the tool's name, or the task's id.
          ...(typeof (params.name ?? params.taskId) === 'string'
            ? { 'mcp-name': String(params.name ?? params.taskId) }
            : {}),
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: ++id,
          method,
          params: {
            ...params,
            _meta: {
              'io.modelcontextprotocol/protocolVersion': '2026-07-28',
              'io.modelcontextprotocol/clientCapabilities': capabilities,
              'io.modelcontextprotocol/clientInfo': { name: 'task-tests', version: '0.0.1' },
              ...(params._meta as object),
            },
          },
        }),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const takesTasks = { extensions: { 'io.modelcontextprotocol/tasks': {} } };

    const discover = await rpc('server/discover', {});
    expect(discover.body.result.capabilities.extensions).toHaveProperty(['io.modelcontextprotocol/tasks']);

    resend.setLatency(TASK_AFTER_MS + 1_500);
    try {
      // Without the extension the call is answered when it ends, never with a task.
      const plain = await rpc('tools/call', { name: 'resend_listDomains', arguments: {} });
      expect(plain.body.result.resultType).toBe('complete');
      expect(plain.body.result.isError).toBeFalsy();
      expect(plain.body.result.structuredContent).toBeTypeOf('object');

      const started = Date.now();
      const created = await rpc('tools/call', { name: 'resend_listDomains', arguments: {} }, takesTasks);
      expect(created.status).toBe(200);
      const task = created.body.result;
      expect(task).toMatchObject({
        resultType: 'task',
        status: 'working',
        pollIntervalMs: expect.any(Number),
        ttlMs: expect.any(Number),
      });
      expect(Date.now() - started).toBeLessThan(TASK_AFTER_MS + 1_000);
      // The task is the invocation: durable, readable at once.
      expect((await admin.get(`/v1/invocations/${task.taskId}`)).body).toMatchObject({
        via: 'mcp',
        status: expect.stringMatching(/queued|running/),
      });

      const working = await rpc('tasks/get', { taskId: task.taskId }, takesTasks);
      expect(working.body.result).toMatchObject({ resultType: 'complete', taskId: task.taskId, status: 'working' });
      let done: any;
      for (let i = 0; i < 60 && done?.status !== 'completed'; i++) {
        await new Promise((r) => setTimeout(r, 250));
        done = (await rpc('tasks/get', { taskId: task.taskId }, takesTasks)).body.result;
      }
      expect(done.status).toBe('completed');
      // Exactly what the call would have returned.
      expect(done.result.structuredContent).toEqual(plain.body.result.structuredContent);
      expect(done.result._meta.invocationId).toBe(task.taskId);

      // Another project's key, or an id that is no task, names nothing.
      const foreign = await rpc('tasks/get', { taskId: task.taskId }, takesTasks, projectB.projectKey);
      expect(foreign.body.error.code).toBe(-32602);
      expect((await rpc('tasks/get', { taskId: 'inv_nope' }, takesTasks)).body.error.code).toBe(-32602);
      expect((await rpc('tasks/cancel', { taskId: task.taskId }, takesTasks)).body.result).toMatchObject({
        resultType: 'complete',
      });
    } finally {
      resend.setLatency(0);
    }

    // An upstream failure ends the task completed, with the isError result the call would have had.
    resend.failNext(1, {
      status: 403,
      name: 'restricted_api_key',
      message: 'This API key is restricted to only send emails',
    });
    resend.setLatency(TASK_AFTER_MS + 500);
    try {
      const created = await rpc('tools/call', { name: 'resend_listDomains', arguments: {} }, takesTasks);
      expect(created.body.result.resultType).toBe('task');
      let done: any;
      for (let i = 0; i < 60 && done?.status !== 'completed'; i++) {
        await new Promise((r) => setTimeout(r, 250));
        done = (await rpc('tasks/get', { taskId: created.body.result.taskId }, takesTasks)).body.result;
      }
      expect(done.result.isError).toBe(true);
      expect(done.result._meta.error.code).toBe('upstream_error');
    } finally {
      resend.setLatency(0);
    }
  }, 60_000);

  it('a 2025-06-18 client (the 1.x SDK) lists and calls tools too', async () => {
    const client = new LegacyClient({ name: 'legacy-agent', version: '0.9.0' });
    await client.connect(
      new LegacyTransport(mcpUrl(), { requestInit: { headers: { authorization: `Bearer ${projectA.projectKey}` } } }),
    );
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('resend_listDomains');
    const result = await client.callTool({ name: 'resend_listDomains', arguments: { limit: 1 } });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ domains: expect.any(Array) });
    await client.close();
  });
});
