import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ELEVENLABS_FAKE_KEY,
  type ElevenLabsFake,
  RACHEL_VOICE_ID,
  startElevenLabsFake,
} from '../fakes/elevenlabs/elevenlabs-fake.ts';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { SLACK_FAKE_BOT_TOKEN, type SlackFake, startSlackFake } from '../fakes/slack/slack-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';

/** Retries follow side effects; only current credentials that fail definitively break a connection. */
describe('retries, idempotency and broken detection', () => {
  let resend: ResendFake;
  let slack: SlackFake;
  let elevenlabs: ElevenLabsFake;
  let engine: Engine;
  let admin: ApiClient;
  const email = { from: 'a@example.com', to: 'b@example.com', subject: 'Receipt', text: 'Thanks' };

  beforeAll(async () => {
    resend = await startResendFake({ rateLimitPerSecond: 10_000 });
    slack = await startSlackFake();
    elevenlabs = await startElevenLabsFake();
    engine = await startEngine({
      env: {
        RESEND_API_URL: resend.url,
        SLACK_API_URL: `${slack.url}/api`,
        ELEVENLABS_API_URL: elevenlabs.url,
        UPSTREAM_TIMEOUT_MS: '1000',
      },
    });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
  });
  afterAll(async () => {
    await engine?.stop();
    await resend?.close();
    await slack?.close();
    await elevenlabs?.close();
  });

  async function waitForTerminal(client: ApiClient, id: string) {
    for (let i = 0; i < 100; i++) {
      const inv = await client.get(`/v1/invocations/${id}`);
      if (inv.body.status === 'succeeded' || inv.body.status === 'failed') return inv.body;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('invocation did not finish');
  }

  it('retries a Resend send after a 500 with the same Idempotency-Key, and records the attempts', async () => {
    const { projectKey } = await setUpProject(admin, {
      connectorId: 'resend',
      credentials: { apiKey: RESEND_FAKE_FULL_KEY },
    });
    const client = apiClient(engine.baseUrl, projectKey);
    resend.reset();
    resend.failNext(2, { status: 500, name: 'application_error', message: 'Internal server error' });
    const res = await client.post('/v1/executions', { connectorId: 'resend', actionId: 'sendEmail', input: email });
    expect(res.status).toBe(200);
    const sends = resend.requests.filter((r) => r.path === '/emails');
    expect(sends).toHaveLength(3);
    expect(new Set(sends.map((r) => r.headers['idempotency-key']))).toEqual(new Set([res.body.invocationId]));
    expect(resend.sentEmails).toHaveLength(1);
    expect((await client.get(`/v1/invocations/${res.body.invocationId}`)).body.attempts).toBe(3);
  });

  it('sends once when the answer to a send is lost and the retry replays it', async () => {
    const { projectKey } = await setUpProject(admin, {
      connectorId: 'resend',
      credentials: { apiKey: RESEND_FAKE_FULL_KEY },
    });
    const client = apiClient(engine.baseUrl, projectKey);
    resend.reset();
    resend.dropNextConnections(1, { afterProcessing: true });
    const res = await client.post('/v1/executions', { connectorId: 'resend', actionId: 'sendEmail', input: email });
    expect(res.status).toBe(200);
    expect(resend.requests.filter((r) => r.path === '/emails')).toHaveLength(2);
    expect(resend.sentEmails).toHaveLength(1);
    expect(res.body.output.id).toBe(resend.sentEmails[0]!.id);
  });

  it('never retries a Slack postMessage after a timeout', async () => {
    const { projectKey } = await setUpProject(admin, {
      connectorId: 'slack',
      credentials: { botToken: SLACK_FAKE_BOT_TOKEN },
    });
    const client = apiClient(engine.baseUrl, projectKey);
    slack.requests.length = 0;
    slack.setLatency(1_500);
    try {
      const res = await client.post('/v1/executions', {
        connectorId: 'slack',
        actionId: 'postMessage',
        input: { channel: 'C0FAKEGEN01', text: 'exactly once' },
      });
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe('upstream_unavailable');
      await new Promise((r) => setTimeout(r, 2_000));
      expect(slack.requests.filter((r) => r.path === '/api/chat.postMessage')).toHaveLength(1);
      expect((await client.get(`/v1/invocations/${res.body.invocationId}`)).body).toMatchObject({
        status: 'failed',
        attempts: 1,
      });
    } finally {
      slack.setLatency(0);
    }
  });

  it('retries a Slack read after a timeout', async () => {
    const { projectKey } = await setUpProject(admin, {
      connectorId: 'slack',
      credentials: { botToken: SLACK_FAKE_BOT_TOKEN },
    });
    const client = apiClient(engine.baseUrl, projectKey);
    slack.requests.length = 0;
    slack.setLatency(1_500);
    const res = client.post('/v1/executions', { connectorId: 'slack', actionId: 'listUsers', input: {} });
    // The first attempt times out; the retry finds Slack fast again.
    await new Promise((r) => setTimeout(r, 300));
    slack.setLatency(0);
    const done = await res;
    expect(done.status).toBe(200);
    expect(slack.requests.filter((r) => r.path === '/api/users.list').length).toBeGreaterThanOrEqual(2);
  });

  it('keeps the connection active when a call fails with credentials replaced while it ran', async () => {
    const oldKey = 're_race_old_key_00000000001';
    resend.addKey(oldKey, 'full');
    const { projectKey, connectionId } = await setUpProject(admin, {
      connectorId: 'resend',
      credentials: { apiKey: oldKey },
    });
    const client = apiClient(engine.baseUrl, projectKey);
    resend.reset();
    resend.revokeKey(oldKey);

    // The call with the old key is held in flight at the upstream (within the 1 s upstream timeout)...
    resend.setLatency(800);
    const call = await client.post(
      '/v1/executions',
      { connectorId: 'resend', actionId: 'sendEmail', input: email },
      { prefer: 'respond-async' },
    );
    for (let i = 0; i < 50 && !resend.requests.some((r) => r.path === '/emails'); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(resend.requests.some((r) => r.path === '/emails')).toBe(true);
    resend.setLatency(0);
    // ...while the credentials are replaced with good ones.
    const updated = await admin.patch(`/v1/connections/${connectionId}`, {
      credentials: { apiKey: RESEND_FAKE_FULL_KEY },
    });
    expect(updated.body.status).toBe('active');

    const inv = await waitForTerminal(client, call.body.invocationId);
    expect(inv).toMatchObject({
      status: 'failed',
      errorCode: 'upstream_error',
      errorDetails: { status: 403, code: 'invalid_api_key' },
    });
    expect((await admin.get(`/v1/connections/${connectionId}`)).body.status).toBe('active');
    expect(
      (await client.post('/v1/executions', { connectorId: 'resend', actionId: 'sendEmail', input: email })).status,
    ).toBe(200);
  });

  it('fails fast on a broken connection with no upstream call, and heals with new credentials', async () => {
    const key = 're_to_be_revoked_000000001';
    resend.addKey(key, 'full');
    const { projectKey, connectionId } = await setUpProject(admin, {
      connectorId: 'resend',
      credentials: { apiKey: key },
    });
    const client = apiClient(engine.baseUrl, projectKey);
    resend.revokeKey(key);
    expect(
      (await client.post('/v1/executions', { connectorId: 'resend', actionId: 'sendEmail', input: email })).body.error
        .code,
    ).toBe('connection_broken');
    expect((await admin.get(`/v1/connections/${connectionId}`)).body.status).toBe('broken');

    resend.reset();
    const fast = await client.post('/v1/executions', { connectorId: 'resend', actionId: 'sendEmail', input: email });
    expect(fast.status).toBe(409);
    expect(resend.requests).toHaveLength(0);

    expect(
      (await admin.patch(`/v1/connections/${connectionId}`, { credentials: { apiKey: RESEND_FAKE_FULL_KEY } })).body
        .status,
    ).toBe('active');
    expect(
      (await client.post('/v1/executions', { connectorId: 'resend', actionId: 'sendEmail', input: email })).status,
    ).toBe(200);
  });

  it('retries an ElevenLabs 429 that carries no Retry-After, with backoff', async () => {
    const { projectKey } = await setUpProject(admin, {
      connectorId: 'elevenlabs',
      credentials: { apiKey: ELEVENLABS_FAKE_KEY },
    });
    const client = apiClient(engine.baseUrl, projectKey);
    elevenlabs.rateLimitNext(1);
    const res = await client.post('/v1/executions', {
      connectorId: 'elevenlabs',
      actionId: 'textToSpeech',
      input: { voiceId: RACHEL_VOICE_ID, text: 'Hello' },
    });
    expect(res.status).toBe(200);
    expect((await client.get(`/v1/invocations/${res.body.invocationId}`)).body.attempts).toBe(2);
    // Rejected with 429, so generated (and billed) once.
    expect(elevenlabs.generated.filter((g) => g.text === 'Hello')).toHaveLength(1);
  });

  it('holds back the project’s later calls after an upstream 429 with Retry-After', async () => {
    const { projectKey } = await setUpProject(admin, {
      connectorId: 'slack',
      credentials: { botToken: SLACK_FAKE_BOT_TOKEN },
    });
    const client = apiClient(engine.baseUrl, projectKey);
    slack.rateLimitNext(1, { retryAfterSeconds: 2 });
    slack.calls.length = 0;
    const first = client.post('/v1/executions', { connectorId: 'slack', actionId: 'listUsers', input: {} });
    await new Promise((r) => setTimeout(r, 300));
    // A new call of the same project during the cooldown reaches Slack only after it.
    const started = Date.now();
    const second = await client.post('/v1/executions', { connectorId: 'slack', actionId: 'listChannels', input: {} });
    expect(second.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    expect((await first).status).toBe(200);
    const times = slack.calls.map((c) => c.method);
    expect(times[0]).toBe('users.list');
  });
});
