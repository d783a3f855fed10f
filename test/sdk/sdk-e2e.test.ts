import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  AuthenticationError,
  Client,
  ConflictError,
  ConnectionBrokenError,
  type ConnectorEngineError,
  NotFoundError,
  PermissionError,
  type Project,
  RateLimitedError,
  UpstreamError,
  ValidationError,
  WebhookVerificationError,
  webhooks,
} from '../../sdk/src/index.ts';
import {
  SLACK_FAKE_BOT_TOKEN,
  SLACK_FAKE_CLIENT_ID,
  SLACK_FAKE_CLIENT_SECRET,
  type SlackFake,
  startSlackFake,
} from '../fakes/slack/slack-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { eventually, startRecordingReceiver } from '../support/webhooks.ts';

/**
 * The SDK against the real engine (api + worker in this process, real Postgres and Redis) and the
 * Slack fake. Every set-up step goes through the SDK too, with the workspace key.
 */
describe('SDK end to end (engine + Slack fake)', () => {
  let fake: SlackFake;
  let engine: Engine;
  let admin: Client;
  let connectionId: string;
  let client: Client;
  let project: Project;

  const caught = async (promise: Promise<unknown>) =>
    promise.then(
      () => expect.fail('expected a rejection'),
      (err: unknown) => err as ConnectorEngineError,
    );
  const slackToken = (n: number) => `xoxb-fake-7777-${n}-sdktestsdktest`;

  /** A project with its own key, bound to the shared Slack connection unless told otherwise. */
  async function newProject(
    name: string,
    bindTo: string | undefined = connectionId,
  ): Promise<{ project: Project; client: Client }> {
    const created = await admin.projects.create({ displayName: name });
    const key = await admin.projects.apiKeys.create(created.id, { name: 'backend' });
    if (bindTo) await admin.connections.bind(bindTo, created.id);
    return { project: created, client: new Client({ apiKey: key.key, baseUrl: engine.baseUrl }) };
  }

  beforeAll(async () => {
    fake = await startSlackFake();
    engine = await startEngine({
      env: {
        SLACK_API_URL: `${fake.url}/api`,
        SLACK_OAUTH_AUTHORIZE_URL: `${fake.url}/oauth/v2/authorize`,
        SLACK_CLIENT_ID: SLACK_FAKE_CLIENT_ID,
        SLACK_CLIENT_SECRET: SLACK_FAKE_CLIENT_SECRET,
      },
    });
    admin = new Client({ apiKey: engine.workspaceKey, baseUrl: engine.baseUrl });
    const connection = await admin.connections.create({
      connectorId: 'slack',
      displayName: 'Shared Slack',
      credentials: { botToken: SLACK_FAKE_BOT_TOKEN },
    });
    expect(connection).toMatchObject({ status: 'active', projectIds: [] });
    connectionId = connection.id;
    ({ project, client } = await newProject('Shop'));
  });
  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('runs the README example as written', async () => {
    const shop = await admin.projects.create({ displayName: 'My shop', externalId: 'shop-readme' });
    const key = await admin.projects.apiKeys.create(shop.id, { name: 'backend' });
    const slack = await admin.connections.create({
      connectorId: 'slack',
      displayName: 'Acme Slack',
      credentials: { botToken: SLACK_FAKE_BOT_TOKEN },
      projectIds: [shop.id],
    });
    expect(slack.status).toBe('active');
    vi.stubEnv('CONNECTORS_API_KEY', key.key);
    vi.stubEnv('CONNECTORS_API_URL', engine.baseUrl);

    const client = new Client({ apiKey: process.env.CONNECTORS_API_KEY });
    const result = await client.connectors.execute({
      connectorId: 'slack',
      actionId: 'postMessage',
      input: { channel: '#general', text: 'New order' },
    });

    expect(Object.keys(result).sort()).toEqual(['durationMs', 'invocationId', 'output']);
    expect(result.invocationId).toMatch(/^inv_/);
    expect(result.durationMs).toEqual(expect.any(Number));
    // The fake resolves "#general" to its id, as Slack does.
    expect(result.output).toMatchObject({
      channel: 'C0FAKEGEN01',
      ts: expect.stringMatching(/^\d+\.\d+$/),
      message: { text: 'New order' },
    });
    expect(fake.postedMessages.at(-1)).toMatchObject({
      channel: 'C0FAKEGEN01',
      ts: result.output.ts,
      args: { text: 'New order' },
    });
  });

  it('executes asynchronously and waits for the invocation', async () => {
    const accepted = await client.connectors.executeAsync({
      connectorId: 'slack',
      actionId: 'postMessage',
      input: { channel: 'C0FAKEGEN01', text: 'later' },
    });
    expect(accepted).toEqual({ invocationId: expect.stringMatching(/^inv_/), status: 'queued' });
    const invocation = await client.invocations.wait(accepted.invocationId, { pollIntervalMs: 50, timeoutMs: 15_000 });
    expect(invocation).toMatchObject({
      id: accepted.invocationId,
      status: 'succeeded',
      projectId: project.id,
      connectionId,
      attempts: 1,
    });
    if (invocation.connectorId !== 'slack' || invocation.actionId !== 'postMessage') throw new Error('narrowing');
    expect(invocation.output?.ts).toBe(fake.postedMessages.at(-1)!.ts);
  });

  it('throws a failed invocation as a typed error, from wait and from the sync call alike', async () => {
    const input = { channel: 'C0FAKEANN01', text: 'not a member there' };
    const { invocationId } = await client.connectors.executeAsync({
      connectorId: 'slack',
      actionId: 'postMessage',
      input,
    });
    const waited = await caught(client.invocations.wait(invocationId, { pollIntervalMs: 50 }));
    expect(waited).toBeInstanceOf(UpstreamError);
    expect(waited).toMatchObject({ code: 'upstream_error', status: 502, invocationId });
    expect((waited as UpstreamError).upstream).toMatchObject({ status: 200, code: 'not_in_channel' });
    expect(await client.invocations.wait(invocationId, { throwOnFailure: false })).toMatchObject({
      status: 'failed',
      errorCode: 'upstream_error',
    });

    const sync = await caught(client.connectors.execute({ connectorId: 'slack', actionId: 'postMessage', input }));
    expect(sync).toBeInstanceOf(UpstreamError);
    expect(sync).toMatchObject({
      code: 'upstream_error',
      details: { code: 'not_in_channel' },
      invocationId: expect.stringMatching(/^inv_/),
      requestId: expect.any(String),
    });
  });

  it('pages through invocations with the cursor, newest first', async () => {
    const paging = await newProject('Paging');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push(
        (await paging.client.connectors.execute({ connectorId: 'slack', actionId: 'listUsers', input: { limit: 2 } }))
          .invocationId,
      );

    const first = await paging.client.invocations.list({ limit: 2 });
    expect(first.data.map((i) => i.id)).toEqual([ids[4], ids[3]]);
    expect(first.hasMore).toBe(true);
    expect((await first.nextPage())!.data.map((i) => i.id)).toEqual([ids[2], ids[1]]);

    const all: string[] = [];
    for await (const invocation of paging.client.invocations.list({
      limit: 2,
      actionId: 'listUsers',
      status: 'succeeded',
    }))
      all.push(invocation.id);
    expect(all).toEqual([...ids].reverse());
    const pageSizes: number[] = [];
    for await (const page of first.pages()) pageSizes.push(page.data.length);
    expect(pageSizes).toEqual([2, 2, 1]);
    // The workspace key sees them too, filtered by project.
    expect((await admin.invocations.list({ projectId: paging.project.id, limit: 100 })).data).toHaveLength(5);
  });

  it('reports invalid input as a ValidationError with the paths', async () => {
    const err = await caught(
      client.connectors.execute({ connectorId: 'slack', actionId: 'postMessage', input: { channel: '#general' } }),
    );
    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toMatchObject({ code: 'invalid_input', status: 400, invocationId: undefined });
    expect((err as ValidationError).issues).toContainEqual({
      path: 'input.text',
      message: expect.stringContaining('required'),
    });
    const unknown = await caught(
      client.connectors.execute({ connectorId: 'slack', actionId: 'nope' as 'listUsers', input: {} }),
    );
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect(unknown.code).toBe('unknown_action');
  });

  it('reports a project over its rate limit as RateLimitedError with retryAfter, without waiting a minute', async () => {
    const limited = await newProject('Limited');
    expect((await admin.projects.update(limited.project.id, { rateLimits: { slack: 1 } })).rateLimits).toEqual({
      slack: 1,
    });
    await limited.client.connectors.execute({ connectorId: 'slack', actionId: 'listUsers', input: {} });
    const started = Date.now();
    // Default retry settings: a Retry-After of about a minute is over maxRetryDelayMs, so it is not waited out.
    const err = await caught(
      limited.client.connectors.execute({ connectorId: 'slack', actionId: 'listUsers', input: {}, timeoutMs: 1_000 }),
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err).toMatchObject({ code: 'rate_limited', status: 429, details: { limitPerMinute: 1 } });
    expect(err.retryAfter).toBeGreaterThan(1);
    expect(err.retryAfter).toBeLessThanOrEqual(61);
  });

  it('reports a broken connection as ConnectionBrokenError naming the invocation, and recovers with new credentials', async () => {
    fake.addToken(slackToken(1), { scopes: ['chat:write', 'users:read'] });
    const broken = await admin.connections.create({
      connectorId: 'slack',
      displayName: 'Soon revoked',
      credentials: { botToken: slackToken(1) },
    });
    const revoked = await newProject('Revoked', broken.id);
    fake.revokeToken(slackToken(1), 'token_revoked');

    const first = await caught(
      revoked.client.connectors.execute({ connectorId: 'slack', actionId: 'listUsers', input: {} }),
    );
    expect(first).toBeInstanceOf(ConnectionBrokenError);
    expect(first).toMatchObject({
      code: 'connection_broken',
      status: 409,
      invocationId: expect.stringMatching(/^inv_/),
    });
    expect(await admin.invocations.get(first.invocationId!)).toMatchObject({
      status: 'failed',
      errorCode: 'connection_broken',
    });
    expect(await admin.connections.get(broken.id)).toMatchObject({
      status: 'broken',
      statusReason: expect.stringContaining('token_revoked'),
    });

    // Now it fails fast, still with an invocation of its own.
    const again = await caught(
      revoked.client.connectors.execute({ connectorId: 'slack', actionId: 'listUsers', input: {} }),
    );
    expect(again).toBeInstanceOf(ConnectionBrokenError);
    expect(again.invocationId).not.toBe(first.invocationId);

    fake.addToken(slackToken(2), { scopes: ['chat:write', 'users:read'] });
    expect((await admin.connections.update(broken.id, { credentials: { botToken: slackToken(2) } })).status).toBe(
      'active',
    );
    expect((await admin.connections.test(broken.id)).status).toBe('active');
    expect(
      (await revoked.client.connectors.execute({ connectorId: 'slack', actionId: 'listUsers', input: {} })).output.users
        .length,
    ).toBeGreaterThan(0);
  });

  it('calls the upstream once per Idempotency-Key, and refuses the key for another request', async () => {
    const before = fake.postedMessages.length;
    const params = {
      connectorId: 'slack',
      actionId: 'postMessage',
      input: { channel: 'C0FAKEGEN01', text: 'exactly once' },
      idempotencyKey: 'order-1001-posted',
    } as const;
    const first = await client.connectors.execute(params);
    const second = await client.connectors.execute(params);
    expect(second).toEqual(first);
    expect(await client.connectors.executeAsync(params)).toEqual({
      invocationId: first.invocationId,
      status: 'succeeded',
    });
    expect(fake.postedMessages.length).toBe(before + 1);

    const reused = await caught(
      client.connectors.execute({ ...params, input: { channel: 'C0FAKEGEN01', text: 'something else' } }),
    );
    expect(reused).toBeInstanceOf(ConflictError);
    expect(reused).toMatchObject({ code: 'idempotency_key_reused', status: 422 });
  });

  it('executes with the workspace key for a named project', async () => {
    const result = await admin.connectors.execute({
      connectorId: 'slack',
      actionId: 'listChannels',
      input: { limit: 2 },
      projectId: project.id,
      connectionId,
    });
    expect(result.output.channels).toHaveLength(2);
    expect((await admin.invocations.get(result.invocationId)).projectId).toBe(project.id);
  });

  it('rejects unknown, revoked and under-privileged keys with typed errors', async () => {
    const stranger = new Client({ apiKey: 'ck_pr_unknownunknownunknownunknownunknown', baseUrl: engine.baseUrl });
    expect(await caught(stranger.invocations.list())).toBeInstanceOf(AuthenticationError);
    expect(await caught(client.projects.list())).toBeInstanceOf(PermissionError);

    const temp = await admin.projects.apiKeys.create(project.id, { name: 'temporary' });
    const keys = await admin.projects.apiKeys.list(project.id);
    expect(keys.data.find((k) => k.id === temp.id)).toEqual({
      id: temp.id,
      name: 'temporary',
      prefix: temp.key.slice(0, 10),
      createdAt: temp.createdAt,
    });
    await admin.projects.apiKeys.revoke(project.id, temp.id);
    const revoked = new Client({ apiKey: temp.key, baseUrl: engine.baseUrl });
    expect(await caught(revoked.invocations.list())).toMatchObject({ code: 'unauthenticated', status: 401 });
  });

  it('manages projects, connections, bindings and OAuth with the workspace key', async () => {
    const created = await admin.projects.create({
      displayName: 'Managed',
      externalId: 'managed-1',
      metadata: { plan: 'pro' },
    });
    expect(await caught(admin.projects.create({ displayName: 'Dup', externalId: 'managed-1' }))).toBeInstanceOf(
      ConflictError,
    );
    expect((await admin.projects.list({ externalId: 'managed-1' })).data.map((p) => p.id)).toEqual([created.id]);
    expect(await admin.projects.update(created.id, { displayName: 'Managed 2' })).toMatchObject({
      displayName: 'Managed 2',
      metadata: { plan: 'pro' },
    });
    expect((await admin.projects.get(created.id)).displayName).toBe('Managed 2');

    const key = await admin.projects.apiKeys.create(created.id);
    const managed = new Client({ apiKey: key.key, baseUrl: engine.baseUrl });
    const listUsers = () => managed.connectors.execute({ connectorId: 'slack', actionId: 'listUsers', input: {} });
    expect((await caught(listUsers())).code).toBe('no_connection');
    await admin.connections.bind(connectionId, created.id);
    await admin.connections.bind(connectionId, created.id); // idempotent
    expect(
      (await admin.connections.list({ connectorId: 'slack', projectId: created.id })).data.map((c) => c.id),
    ).toEqual([connectionId]);
    expect((await listUsers()).output.users.length).toBeGreaterThan(0);
    await admin.connections.unbind(connectionId, created.id);
    expect(await caught(listUsers())).toBeInstanceOf(NotFoundError);

    const extra = await admin.connections.create({
      connectorId: 'slack',
      displayName: 'Extra',
      credentials: { botToken: SLACK_FAKE_BOT_TOKEN },
      externalId: 'extra-1',
    });
    expect(await admin.connections.update(extra.id, { displayName: 'Renamed' })).toMatchObject({
      displayName: 'Renamed',
      credentialsHint: { botToken: expect.stringMatching(/^…/) },
    });
    await admin.connections.delete(extra.id);
    expect(await caught(admin.connections.get(extra.id))).toBeInstanceOf(NotFoundError);

    const authorization = await admin.oauth.authorize('slack', { displayName: 'Via OAuth', projectIds: [created.id] });
    expect(new URL(authorization.authorizeUrl).searchParams.get('state')).toBe(authorization.state);
    expect(authorization.authorizeUrl.startsWith(`${fake.url}/oauth/v2/authorize?`)).toBe(true);

    await admin.projects.delete(created.id);
    expect(await caught(admin.projects.get(created.id))).toBeInstanceOf(NotFoundError);
  });

  it('reads the catalog', async () => {
    const catalog = await client.connectors.list();
    expect(catalog.map((c) => c.id)).toEqual([
      'resend',
      'slack',
      'elevenlabs',
      'twilio',
      'sendgrid',
      'gmail',
      'googlesheets',
    ]);
    const slack = await client.connectors.get('slack');
    expect(slack.actions.map((a) => a.id)).toEqual([
      'postMessage',
      'listChannels',
      'listUsers',
      'reactToMessage',
      'getThread',
    ]);
    expect(slack.actions[0]!.inputSchema).toMatchObject({ type: 'object', required: ['channel'] });
  });

  it("lists the project's tools, and refuses the workspace key", async () => {
    const tools = await client.tools.list();
    const post = tools.find((t) => t.name === 'slack_postMessage');
    expect(post).toMatchObject({
      connectorId: 'slack',
      actionId: 'postMessage',
      connectionId,
      connections: [{ id: connectionId, displayName: 'Shared Slack' }],
      sideEffects: 'write',
    });
    expect(post!.inputSchema).toMatchObject({ type: 'object', required: expect.arrayContaining(['channel']) });
    expect(post!.request).toMatchObject({
      method: 'POST',
      path: '/v1/executions',
      body: { connectorId: 'slack', actionId: 'postMessage' },
    });
    expect(tools.every((t) => t.connectorId === 'slack')).toBe(true);
    expect(await caught(admin.tools.list())).toBeInstanceOf(PermissionError);
  });

  it("verifies the engine's own webhook deliveries with webhooks.verify, before and after a rotation", async () => {
    const receiver = await startRecordingReceiver();
    try {
      const created = await admin.request<{ id: string; secret: string }>('POST', '/v1/webhooks', {
        body: { url: receiver.url, events: ['connection.broken'] },
      });
      /** Breaks a fresh Slack connection and returns the delivery of its connection.broken. */
      const nextDelivery = async (n: number) => {
        fake.addToken(slackToken(n), { scopes: ['chat:write'] });
        const doomed = await admin.connections.create({
          connectorId: 'slack',
          displayName: `Doomed ${n}`,
          credentials: { botToken: slackToken(n) },
        });
        fake.revokeToken(slackToken(n), 'token_revoked');
        expect((await admin.connections.test(doomed.id)).status).toBe('broken');
        return eventually(() => receiver.received.find((d) => d.body.data?.connection?.id === doomed.id));
      };

      const first = await nextDelivery(11);
      const event = webhooks.verify(first.raw, first.headers, created.secret);
      expect(event).toMatchObject({
        id: first.headers['webhook-id'],
        type: 'connection.broken',
        data: { connection: { status: 'broken' } },
      });
      expect(() => admin.webhooks.verify(first.raw.replace('broken', 'active'), first.headers, created.secret)).toThrow(
        WebhookVerificationError,
      );

      const { secret: rotated } = await admin.request<{ secret: string }>(
        'POST',
        `/v1/webhooks/${created.id}/rotate-secret`,
      );
      const second = await nextDelivery(12);
      expect(second.headers['webhook-signature']!.split(' ')).toHaveLength(2);
      expect(webhooks.verify(second.raw, second.headers, rotated).type).toBe('connection.broken');
      expect(webhooks.verify(second.raw, second.headers, created.secret).type).toBe('connection.broken');
      await admin.request('DELETE', `/v1/webhooks/${created.id}`);
    } finally {
      await receiver.close();
    }
  }, 60_000);
});
