import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  SLACK_FAKE_BOT_TOKEN,
  SLACK_FAKE_READONLY_TOKEN,
  type SlackFake,
  startSlackFake,
} from '../fakes/slack/slack-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';

/** Every Slack action through HTTP → queue → worker → fake, the wire rules, and the error table. */
describe('Slack connector end to end (bot token)', () => {
  let fake: SlackFake;
  let engine: Engine;
  let admin: ApiClient;
  let client: ApiClient;
  let connectionId: string;

  beforeAll(async () => {
    fake = await startSlackFake();
    engine = await startEngine({ env: { SLACK_API_URL: `${fake.url}/api` } });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    const setup = await setUpProject(admin, { connectorId: 'slack', credentials: { botToken: SLACK_FAKE_BOT_TOKEN } });
    expect(setup.connectionStatus).toBe('active');
    connectionId = setup.connectionId;
    client = apiClient(engine.baseUrl, setup.projectKey);
  });
  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.calls.length = 0;
  });

  const execute = (actionId: string, input: unknown) =>
    client.post('/v1/executions', { connectorId: 'slack', actionId, input });
  const only = (method: string) => {
    const calls = fake.calls.filter((c) => c.method === method);
    expect(calls).toHaveLength(1);
    const request = fake.requests.find((r) => r.path === `/api/${method}`)!;
    return { call: calls[0]!, request };
  };

  it('postMessage posts JSON with the token in the header', async () => {
    const res = await execute('postMessage', { channel: 'C0FAKEGEN01', text: 'New order #1001', unfurlLinks: false });
    expect(res.status).toBe(200);
    const { call, request } = only('chat.postMessage');
    expect(request.method).toBe('POST');
    expect(request.headers.authorization).toBe(`Bearer ${SLACK_FAKE_BOT_TOKEN}`);
    expect(request.headers['content-type']).toMatch(/^application\/json/);
    expect(call.bodyKind).toBe('json');
    expect(request.json).toEqual({ channel: 'C0FAKEGEN01', text: 'New order #1001', unfurl_links: false });
    expect(res.body.output).toMatchObject({
      channel: 'C0FAKEGEN01',
      ts: expect.stringMatching(/^\d+\.\d{6}$/),
      message: { text: 'New order #1001' },
    });
    expect(fake.postedMessages.at(-1)).toMatchObject({
      channel: 'C0FAKEGEN01',
      ts: res.body.output.ts,
      token: SLACK_FAKE_BOT_TOKEN,
      args: { text: 'New order #1001' },
    });
  });

  it('listChannels reads with GET and pages with cursor/limit', async () => {
    const first = await execute('listChannels', { limit: 2, types: ['public_channel', 'private_channel'] });
    expect(first.status).toBe(200);
    const { call, request } = only('conversations.list');
    expect(request.method).toBe('GET');
    expect(request.headers.authorization).toBe(`Bearer ${SLACK_FAKE_BOT_TOKEN}`);
    expect(call.bodyKind).toBe('none');
    expect(request.query).toMatchObject({ limit: '2', types: 'public_channel,private_channel' });
    expect(first.body.output.channels).toHaveLength(2);
    expect(first.body.output.channels[0]).toMatchObject({
      id: expect.any(String),
      name: expect.any(String),
      isPrivate: expect.any(Boolean),
      isMember: expect.any(Boolean),
    });
    expect(first.body.output.nextCursor).toEqual(expect.any(String));

    const seen = new Set(first.body.output.channels.map((c: { id: string }) => c.id));
    let cursor = first.body.output.nextCursor;
    while (cursor) {
      const page = await execute('listChannels', { limit: 2, cursor, types: ['public_channel', 'private_channel'] });
      for (const c of page.body.output.channels) {
        expect(seen.has(c.id)).toBe(false);
        seen.add(c.id);
      }
      cursor = page.body.output.nextCursor;
    }
    expect(seen.has('C0FAKEGEN01')).toBe(true);
  });

  it('listUsers reads with GET and always sends a limit', async () => {
    const res = await execute('listUsers', {});
    expect(res.status).toBe(200);
    const { request } = only('users.list');
    expect(request.method).toBe('GET');
    expect(request.query).toMatchObject({ limit: '200' });
    expect(res.body.output.users[0]).toMatchObject({ id: expect.any(String), isBot: expect.any(Boolean) });
    expect(res.body.output).toHaveProperty('nextCursor');
  });

  it('reactToMessage posts JSON, and reacting twice is not an error', async () => {
    const input = { channel: 'C0FAKEGEN01', timestamp: '1700000000.000100', name: 'tada' };
    const first = await execute('reactToMessage', input);
    expect(first.status).toBe(200);
    const { call, request } = only('reactions.add');
    expect(request.method).toBe('POST');
    expect(call.bodyKind).toBe('json');
    expect(request.json).toEqual(input);
    expect(first.body.output).toEqual({ reacted: true, alreadyReacted: false });
    expect((await execute('reactToMessage', input)).body.output).toEqual({ reacted: true, alreadyReacted: true });
  });

  it('getThread reads the parent and replies with GET', async () => {
    const res = await execute('getThread', { channel: 'C0FAKEGEN01', ts: '1700000000.000100' });
    expect(res.status).toBe(200);
    const { request } = only('conversations.replies');
    expect(request.method).toBe('GET');
    expect(request.query).toMatchObject({ channel: 'C0FAKEGEN01', ts: '1700000000.000100' });
    expect(res.body.output.messages.map((m: { text: string }) => m.text)).toEqual([
      'Is the deploy done?',
      'Almost, running migrations',
      'Looks good from here',
      'Done :tada:',
    ]);
    expect(res.body.output.messages[1]).toMatchObject({ threadTs: '1700000000.000100', user: 'U0FAKEGRC01' });
  });

  it('reports a Slack error (HTTP 200 ok:false) as 502 with its code, without breaking the connection', async () => {
    const res = await execute('postMessage', { channel: 'C0FAKEANN01', text: 'hi' });
    expect(res.status).toBe(502);
    expect(res.body.error).toMatchObject({ code: 'upstream_error', details: { status: 200, code: 'not_in_channel' } });
    expect((await admin.get(`/v1/connections/${connectionId}`)).body.status).toBe('active');
  });

  it('does not break a connection on missing_scope', async () => {
    const ro = await setUpProject(admin, {
      connectorId: 'slack',
      credentials: { botToken: SLACK_FAKE_READONLY_TOKEN },
    });
    const res = await apiClient(engine.baseUrl, ro.projectKey).post('/v1/executions', {
      connectorId: 'slack',
      actionId: 'postMessage',
      input: { channel: 'C0FAKEGEN01', text: 'x' },
    });
    expect(res.body.error.details).toMatchObject({ code: 'missing_scope' });
    expect((await admin.get(`/v1/connections/${ro.connectionId}`)).body.status).toBe('active');
  });

  it('retries a read after a 429 with Retry-After, and never retries a write after a 5xx', async () => {
    fake.rateLimitNext(1, { retryAfterSeconds: 1 });
    const read = await execute('listUsers', {});
    expect(read.status).toBe(200);
    expect(fake.calls.filter((c) => c.method === 'users.list')).toHaveLength(2);
    expect((await client.get(`/v1/invocations/${read.body.invocationId}`)).body.attempts).toBe(2);

    fake.failNext(1, { status: 503 });
    const write = await execute('postMessage', { channel: 'C0FAKEGEN01', text: 'only once' });
    expect(write.status).toBe(502);
    expect(fake.requests.filter((r) => r.path === '/api/chat.postMessage')).toHaveLength(1);
    expect((await client.get(`/v1/invocations/${write.body.invocationId}`)).body).toMatchObject({
      status: 'failed',
      attempts: 1,
    });
  });

  it('breaks the connection on invalid_auth delivered as HTTP 200', async () => {
    const token = 'xoxb-fake-9999-8888-soontoberevoked';
    fake.addToken(token, { scopes: ['chat:write'] });
    const setup = await setUpProject(admin, { connectorId: 'slack', credentials: { botToken: token } });
    fake.revokeToken(token, 'invalid_auth');
    const res = await apiClient(engine.baseUrl, setup.projectKey).post('/v1/executions', {
      connectorId: 'slack',
      actionId: 'postMessage',
      input: { channel: 'C0FAKEGEN01', text: 'x' },
    });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('connection_broken');
    expect((await admin.get(`/v1/connections/${setup.connectionId}`)).body).toMatchObject({
      status: 'broken',
      statusReason: expect.stringContaining('invalid_auth'),
    });
  });

  it('lists the seven built-in connectors and their 21 actions with input and output JSON Schemas in the catalog', async () => {
    const res = await apiClient(engine.baseUrl).get('/v1/connectors');
    expect(res.body.data.map((c: { id: string }) => c.id)).toEqual([
      'resend',
      'slack',
      'elevenlabs',
      'twilio',
      'sendgrid',
      'gmail',
      'googlesheets',
    ]);
    expect(res.body.data.map((c: { authType: string }) => c.authType)).toEqual([
      'api_key',
      'oauth2',
      'api_key',
      'basic',
      'api_key',
      'oauth2',
      'oauth2',
    ]);
    const actions = res.body.data.flatMap(
      (c: { actions: { id: string; inputSchema: { type: string }; outputSchema: { type: string } }[] }) => c.actions,
    );
    expect(actions).toHaveLength(21);
    for (const a of actions) {
      expect(a.inputSchema.type).toBe('object');
      expect(a.outputSchema.type).toBe('object');
    }
    expect(res.body.data[1]).toMatchObject({
      authType: 'oauth2',
      authFields: [{ key: 'botToken', secret: true, required: true }],
    });
  });
});
