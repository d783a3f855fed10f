import { randomBytes } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../shared/db/database.ts';
import { newId } from '../../shared/ids.ts';
import { purgeExpiredEventPayloads } from '../../shared/inbound/inbound-events.ts';
import { retentionCutoff } from '../../shared/invocations/retention.ts';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { SLACK_FAKE_BOT_TOKEN, type SlackFake, startSlackFake } from '../fakes/slack/slack-fake.ts';
import {
  startTwilioFake,
  TWILIO_FAKE_ACCOUNT_SID,
  TWILIO_FAKE_AUTH_TOKEN,
  type TwilioFake,
} from '../fakes/twilio/twilio-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';
import { slackHeaders, twilioSignature } from '../support/inbound-signers.ts';
import { eventually, type RecordedDelivery, standardHeaders, startRecordingReceiver } from '../support/webhooks.ts';

/**
 * POST /v1/inbound/{connectorId}/{connectionId}: each service's real signature scheme, computed here
 * from its documented algorithm (Resend's with the `svix` package), and the delivery of accepted
 * events to a webhook out, checked with the `standardwebhooks` package as a receiver would.
 */

const PUBLIC_URL = 'https://engine.example.com';
const SLACK_SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const RESEND_WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('base64')}`;

describe('inbound events', () => {
  let slackFake: SlackFake;
  let resendFake: ResendFake;
  let twilioFake: TwilioFake;
  let receiver: Awaited<ReturnType<typeof startRecordingReceiver>>;
  let engine: Engine;
  let admin: ApiClient;
  let webhookSecret: string;
  let webhookId: string;
  const conn = { slack: '', resend: '', twilio: '' };
  let project: { projectId: string; projectKey: string };

  const post = (path: string, body: string, headers: Record<string, string>) =>
    fetch(`${engine.baseUrl}${path}`, { method: 'POST', headers, body });
  const eventsOf = async (connectionId: string) =>
    (await admin.get(`/v1/events?connectionId=${connectionId}&limit=100`)).body.data as Array<{
      id: string;
      type: string;
      payload: any;
    }>;
  const deliveriesOf = (eventId: string) => receiver.received.filter((d) => d.body.id === eventId);
  /**
   * The first webhook's delivery of an event, verified by the Standard Webhooks library with its
   * secret. (A later test subscribes a second webhook to every type: its deliveries carry another
   * secret's signature, and may arrive first.)
   */
  const verifiedDelivery = async (eventId: string): Promise<RecordedDelivery> => {
    const verifies = (d: RecordedDelivery) => {
      try {
        new StandardWebhook(webhookSecret).verify(d.raw, standardHeaders(d));
        return true;
      } catch {
        return false;
      }
    };
    const delivery = await eventually(() => deliveriesOf(eventId).find(verifies));
    expect(new StandardWebhook(webhookSecret).verify(delivery.raw, standardHeaders(delivery))).toEqual(delivery.body);
    return delivery;
  };

  beforeAll(async () => {
    [slackFake, resendFake, twilioFake, receiver] = await Promise.all([
      startSlackFake(),
      startResendFake({ rateLimitPerSecond: 10_000 }),
      startTwilioFake(),
      startRecordingReceiver(),
    ]);
    engine = await startEngine({
      env: {
        SLACK_API_URL: `${slackFake.url}/api`,
        RESEND_API_URL: resendFake.url,
        TWILIO_API_URL: twilioFake.url,
        SLACK_SIGNING_SECRET,
        PUBLIC_URL,
        MAINTENANCE_TICK_MS: '1000',
      },
    });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    const hook = await admin.post('/v1/webhooks', {
      url: receiver.url,
      events: ['slack.message', 'resend.email.delivered', 'twilio.message.status'],
    });
    expect(hook.status).toBe(201);
    expect(hook.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    ({ secret: webhookSecret, id: webhookId } = hook.body);
    const slack = await setUpProject(admin, { connectorId: 'slack', credentials: { botToken: SLACK_FAKE_BOT_TOKEN } });
    project = slack;
    conn.slack = slack.connectionId;
    conn.resend = (
      await setUpProject(admin, {
        connectorId: 'resend',
        credentials: { apiKey: RESEND_FAKE_FULL_KEY, webhookSecret: RESEND_WEBHOOK_SECRET },
      })
    ).connectionId;
    conn.twilio = (
      await setUpProject(admin, {
        connectorId: 'twilio',
        credentials: { accountSid: TWILIO_FAKE_ACCOUNT_SID, authToken: TWILIO_FAKE_AUTH_TOKEN },
      })
    ).connectionId;
  }, 120_000);
  afterAll(async () => {
    await engine?.stop();
    await Promise.all([slackFake?.close(), resendFake?.close(), twilioFake?.close(), receiver?.close()]);
  });

  it('shows each connection that accepts events its inboundUrl, built from PUBLIC_URL', async () => {
    for (const [connectorId, id] of Object.entries(conn)) {
      expect((await admin.get(`/v1/connections/${id}`)).body.inboundUrl).toBe(
        `${PUBLIC_URL}/v1/inbound/${connectorId}/${id}`,
      );
    }
    const listed = (await admin.get('/v1/connections?connectorId=twilio')).body.data;
    expect(listed[0].inboundUrl).toBe(`${PUBLIC_URL}/v1/inbound/twilio/${conn.twilio}`);
  });

  describe('Slack Events API', () => {
    const path = () => `/v1/inbound/slack/${conn.slack}`;
    const envelope = (eventId: string, text = 'hello') =>
      JSON.stringify({
        token: 'Jhj5dZrVaK7ZwHHjRyZWjbDl',
        team_id: 'T1H9RESGL',
        api_app_id: 'A2H9RFS1A',
        event: { type: 'message', channel: 'C2147483705', user: 'U2147483697', text, ts: '1355517523.000005' },
        type: 'event_callback',
        event_id: eventId,
        event_time: 1355517523,
        authed_users: ['U2147483697'],
      });

    it('answers url_verification with the challenge, and stores nothing', async () => {
      const body = JSON.stringify({
        token: 'Jhj5dZrVaK7ZwHHjRyZWjbDl',
        challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P',
        type: 'url_verification',
      });
      const res = await post(path(), body, slackHeaders(SLACK_SIGNING_SECRET, body));
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' });
      // The handshake is signed too: unsigned, it is refused.
      expect((await post(path(), body, { 'content-type': 'application/json' })).status).toBe(401);
    });

    it('stores a signed event and delivers it to the subscribed webhook', async () => {
      const body = envelope('Ev0SLACKOK1');
      const res = await post(path(), body, slackHeaders(SLACK_SIGNING_SECRET, body));
      expect(res.status).toBe(200);
      const [stored] = (await eventsOf(conn.slack)).filter((e) => e.payload.event_id === 'Ev0SLACKOK1');
      expect(stored).toMatchObject({
        id: expect.stringMatching(/^evt_/),
        connectionId: conn.slack,
        connectorId: 'slack',
        type: 'slack.message',
        receivedAt: expect.any(String),
        payload: JSON.parse(body),
      });
      const delivery = await verifiedDelivery(stored!.id);
      expect(delivery.body).toMatchObject({ id: stored!.id, type: 'slack.message', data: { event: stored } });
      expect(delivery.headers['webhook-id']).toBe(stored!.id);
    });

    it('refuses a wrong secret, a stale timestamp and a tampered body with 401, storing nothing', async () => {
      const body = envelope('Ev0SLACKBAD');
      const stale = Math.floor(Date.now() / 1000) - 6 * 60;
      const attempts = [
        post(path(), body, slackHeaders('not-the-signing-secret-000000000', body)),
        post(path(), body, slackHeaders(SLACK_SIGNING_SECRET, body, stale)),
        post(path(), body.replace('hello', 'HELLO'), slackHeaders(SLACK_SIGNING_SECRET, body)),
        post(path(), body, { 'content-type': 'application/json' }),
      ];
      for (const res of await Promise.all(attempts)) {
        expect(res.status).toBe(401);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthenticated');
      }
      expect((await eventsOf(conn.slack)).filter((e) => e.payload.event_id === 'Ev0SLACKBAD')).toEqual([]);
    });

    it('keeps one event and one delivery when Slack retries (X-Slack-Retry-Num)', async () => {
      const body = envelope('Ev0SLACKDUP');
      const first = await post(path(), body, slackHeaders(SLACK_SIGNING_SECRET, body));
      // Retries carry a fresh timestamp and signature, and the same event_id.
      const retries = await Promise.all(
        [1, 2, 3].map((n) =>
          post(path(), body, {
            ...slackHeaders(SLACK_SIGNING_SECRET, body),
            'x-slack-retry-num': String(n),
            'x-slack-retry-reason': 'http_timeout',
          }),
        ),
      );
      expect([first, ...retries].map((r) => r.status)).toEqual([200, 200, 200, 200]);
      const stored = (await eventsOf(conn.slack)).filter((e) => e.payload.event_id === 'Ev0SLACKDUP');
      expect(stored).toHaveLength(1);
      await verifiedDelivery(stored[0]!.id);
      await settle();
      expect(deliveriesOf(stored[0]!.id)).toHaveLength(1);
      expect(
        (await admin.get(`/v1/webhooks/${webhookId}/deliveries?limit=100`)).body.data.filter(
          (d: { eventId: string }) => d.eventId === stored[0]!.id,
        ),
      ).toHaveLength(1);
    });
  });

  describe('Resend webhooks (Svix)', () => {
    const path = () => `/v1/inbound/resend/${conn.resend}`;
    const event = (to: string) =>
      JSON.stringify({
        type: 'email.delivered',
        created_at: '2023-10-06T23:47:56.678Z',
        data: {
          email_id: '49a3999c-0ce1-4ea6-ab68-afcd6dc2e794',
          created_at: '2023-10-06T23:47:56.678Z',
          from: 'Acme <onboarding@resend.dev>',
          to: [to],
          subject: 'Hello',
        },
      });
    const svixHeaders = (secret: string, msgId: string, body: string, at = new Date()) => ({
      'content-type': 'application/json',
      'svix-id': msgId,
      'svix-timestamp': String(Math.floor(at.getTime() / 1000)),
      'svix-signature': new SvixWebhook(secret).sign(msgId, at, body),
    });

    it('stores an event signed by svix and delivers it', async () => {
      const body = event('delivered@resend.dev');
      const res = await post(path(), body, svixHeaders(RESEND_WEBHOOK_SECRET, 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W', body));
      expect(res.status).toBe(200);
      const [stored] = await eventsOf(conn.resend);
      expect(stored).toMatchObject({
        connectorId: 'resend',
        type: 'resend.email.delivered',
        payload: JSON.parse(body),
      });
      expect((await verifiedDelivery(stored!.id)).body.data.event).toEqual(stored);
    });

    it('refuses a wrong secret, a stale timestamp and a tampered body with 401, storing nothing', async () => {
      const body = event('bad@resend.dev');
      const other = `whsec_${randomBytes(24).toString('base64')}`;
      const attempts = [
        post(path(), body, svixHeaders(other, 'msg_bad1', body)),
        post(path(), body, svixHeaders(RESEND_WEBHOOK_SECRET, 'msg_bad2', body, new Date(Date.now() - 6 * 60_000))),
        post(path(), body.replace('bad@', 'evil@'), svixHeaders(RESEND_WEBHOOK_SECRET, 'msg_bad3', body)),
      ];
      for (const res of await Promise.all(attempts)) expect(res.status).toBe(401);
      expect((await eventsOf(conn.resend)).filter((e) => e.payload.data.to[0] !== 'delivered@resend.dev')).toEqual([]);
    });

    it('keeps one event and one delivery for a redelivered svix-id', async () => {
      const body = event('twice@resend.dev');
      const sent = await Promise.all(
        [0, 1, 2].map(() => post(path(), body, svixHeaders(RESEND_WEBHOOK_SECRET, 'msg_sameidtwice', body))),
      );
      expect(sent.map((r) => r.status)).toEqual([200, 200, 200]);
      const stored = (await eventsOf(conn.resend)).filter((e) => e.payload.data.to[0] === 'twice@resend.dev');
      expect(stored).toHaveLength(1);
      await verifiedDelivery(stored[0]!.id);
      await settle();
      expect(deliveriesOf(stored[0]!.id)).toHaveLength(1);
    });
  });

  describe('Twilio status callbacks', () => {
    const path = () => `/v1/inbound/twilio/${conn.twilio}`;
    const url = () => `${PUBLIC_URL}${path()}`;
    const callback = (sid: string, status: string) => ({
      AccountSid: TWILIO_FAKE_ACCOUNT_SID,
      MessageSid: sid,
      SmsSid: sid,
      MessageStatus: status,
      SmsStatus: status,
      To: '+15558675310',
      From: '+15005550006',
      ApiVersion: '2010-04-01',
    });
    const send = (params: Record<string, string>, headers: Record<string, string>) =>
      post(path(), new URLSearchParams(params).toString(), {
        'content-type': 'application/x-www-form-urlencoded',
        ...headers,
      });

    it('stores a signed status callback, answers with empty TwiML, and delivers it', async () => {
      const params = callback('SM0000000000000000000000000000ok01', 'delivered');
      const res = await send(params, {
        'x-twilio-signature': twilioSignature(TWILIO_FAKE_AUTH_TOKEN, url(), params),
        'i-twilio-idempotency-token': 'tok-ok-1',
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
      expect(await res.text()).toContain('<Response></Response>');
      const [stored] = await eventsOf(conn.twilio);
      expect(stored).toMatchObject({ connectorId: 'twilio', type: 'twilio.message.status', payload: params });
      expect((await verifiedDelivery(stored!.id)).body.data.event).toEqual(stored);
    });

    it('refuses a wrong auth token, another URL and a tampered field with 401, storing nothing', async () => {
      const params = callback('SM0000000000000000000000000000bad1', 'failed');
      const attempts = [
        send(params, { 'x-twilio-signature': twilioSignature('0fa4e0000000000000000000deadbeef', url(), params) }),
        send(params, {
          'x-twilio-signature': twilioSignature(TWILIO_FAKE_AUTH_TOKEN, 'https://elsewhere.example.com/hook', params),
        }),
        send(
          { ...params, MessageStatus: 'delivered' },
          { 'x-twilio-signature': twilioSignature(TWILIO_FAKE_AUTH_TOKEN, url(), params) },
        ),
        send(params, {}),
      ];
      for (const res of await Promise.all(attempts)) expect(res.status).toBe(401);
      expect((await eventsOf(conn.twilio)).filter((e) => e.payload.MessageSid === params.MessageSid)).toEqual([]);
    });

    it('keeps one event and one delivery for a retried callback (I-Twilio-Idempotency-Token)', async () => {
      const params = callback('SM0000000000000000000000000000dup1', 'undelivered');
      const headers = {
        'x-twilio-signature': twilioSignature(TWILIO_FAKE_AUTH_TOKEN, url(), params),
        'i-twilio-idempotency-token': 'tok-dup-1',
      };
      const sent = await Promise.all([send(params, headers), send(params, headers)]);
      expect(sent.map((r) => r.status)).toEqual([200, 200]);
      const stored = (await eventsOf(conn.twilio)).filter((e) => e.payload.MessageSid === params.MessageSid);
      expect(stored).toHaveLength(1);
      await verifiedDelivery(stored[0]!.id);
      await settle();
      expect(deliveriesOf(stored[0]!.id)).toHaveLength(1);
    });
  });

  it('answers 404 for an unknown connection, a connector that takes no events, or a mismatch, reading no body', async () => {
    const body = JSON.stringify({ type: 'event_callback' });
    const headers = slackHeaders(SLACK_SIGNING_SECRET, body);
    for (const p of [
      '/v1/inbound/slack/conn_01jzzzzzzzzzzzzzzzzzzzzzzz',
      '/v1/inbound/slack/nonsense',
      `/v1/inbound/elevenlabs/${conn.slack}`,
      `/v1/inbound/nosuch/${conn.slack}`,
      `/v1/inbound/twilio/${conn.slack}`,
    ]) {
      const res = await post(p, body, headers);
      expect(res.status, p).toBe(404);
    }
  });

  it('refuses a body over INBOUND_MAX_BODY_BYTES with 413', async () => {
    const body = JSON.stringify({ type: 'event_callback', pad: 'x'.repeat(300 * 1024) });
    const res = await post(`/v1/inbound/slack/${conn.slack}`, body, slackHeaders(SLACK_SIGNING_SECRET, body));
    expect(res.status).toBe(413);
  });

  it('lists events with filters and pages; a project key sees only its connections', async () => {
    const all = (await admin.get('/v1/events?limit=100')).body.data as Array<{
      id: string;
      connectionId: string;
      type: string;
    }>;
    expect(new Set(all.map((e) => e.connectionId))).toEqual(new Set(Object.values(conn)));
    const byType = (await admin.get('/v1/events?type=resend.email.delivered')).body.data;
    expect(byType.length).toBeGreaterThan(0);
    expect(byType.every((e: { type: string }) => e.type === 'resend.email.delivered')).toBe(true);
    const byProject = (await admin.get(`/v1/events?projectId=${project.projectId}&limit=100`)).body.data;
    expect(byProject.length).toBeGreaterThan(0);
    expect(byProject.every((e: { connectionId: string }) => e.connectionId === conn.slack)).toBe(true);

    const firstPage = await admin.get('/v1/events?limit=2');
    expect(firstPage.body.data).toHaveLength(2);
    const secondPage = await admin.get(`/v1/events?limit=2&cursor=${firstPage.body.nextCursor}`);
    expect(secondPage.body.data[0].id < firstPage.body.data[1].id).toBe(true);

    const projectClient = apiClient(engine.baseUrl, project.projectKey);
    const own = (await projectClient.get('/v1/events?limit=100')).body.data;
    expect(own.map((e: { id: string }) => e.id).sort()).toEqual(byProject.map((e: { id: string }) => e.id).sort());
    const foreign = all.find((e) => e.connectionId === conn.resend)!;
    expect((await projectClient.get(`/v1/events/${foreign.id}`)).status).toBe(404);
    expect((await projectClient.get(`/v1/events?connectionId=${conn.resend}`)).body.data).toEqual([]);
    expect((await projectClient.get(`/v1/events/${own[0].id}`)).body).toEqual(own[0]);
    expect((await admin.get(`/v1/events/${foreign.id}`)).body.id).toBe(foreign.id);
  });

  it('delivers every type to a webhook subscribed to *, and refuses unknown types', async () => {
    expect((await admin.post('/v1/webhooks', { url: receiver.url, events: ['nosuch.thing'] })).status).toBe(400);
    expect((await admin.post('/v1/webhooks', { url: receiver.url, events: ['elevenlabs.voice.created'] })).status).toBe(
      400,
    );
    const all = await admin.post('/v1/webhooks', { url: `${receiver.url}/all`, events: ['*'] });
    expect(all.status).toBe(201);
    const body = JSON.stringify({
      token: 't',
      team_id: 'T1',
      api_app_id: 'A1',
      event: { type: 'reaction_added', user: 'U1', reaction: 'thumbsup' },
      type: 'event_callback',
      event_id: 'Ev0STAR0001',
      event_time: 1,
    });
    expect((await post(`/v1/inbound/slack/${conn.slack}`, body, slackHeaders(SLACK_SIGNING_SECRET, body))).status).toBe(
      200,
    );
    const [stored] = (await eventsOf(conn.slack)).filter((e) => e.payload.event_id === 'Ev0STAR0001');
    expect(stored!.type).toBe('slack.reaction_added');
    const delivery = await eventually(() => receiver.received.find((d) => d.body.id === stored!.id));
    expect(new StandardWebhook(all.body.secret).verify(delivery.raw, standardHeaders(delivery))).toMatchObject({
      type: 'slack.reaction_added',
    });
    // The first webhook did not subscribe to slack.reaction_added.
    await settle();
    expect(deliveriesOf(stored!.id)).toHaveLength(1);
  });

  it('fans out an event whose queueing was lost, from the maintenance tick', async () => {
    // As if Redis had refused the enqueue after the row was stored.
    const db = createDb(engine.database.url, { max: 2 });
    const { workspace_id } = await db
      .selectFrom('connections')
      .select('workspace_id')
      .where('id', '=', conn.slack)
      .executeTakeFirstOrThrow();
    const id = newId('event');
    const payload = { type: 'event_callback', event_id: 'Ev0LOSTQUEUE', event: { type: 'message', text: 'late' } };
    await db
      .insertInto('inbound_events')
      .values({
        id,
        workspace_id,
        connection_id: conn.slack,
        connector_id: 'slack',
        upstream_event_id: 'Ev0LOSTQUEUE',
        type: 'slack.message',
        payload: JSON.stringify(payload),
        received_at: new Date(Date.now() - 120_000),
      })
      .execute();
    try {
      const delivery = await verifiedDelivery(id);
      expect(delivery.body.data.event.payload).toEqual(payload);
    } finally {
      await db.destroy();
    }
  }, 30_000);

  it('removes payloads past retention; the event row and its dedupe stay', async () => {
    const body = JSON.stringify({
      token: 't',
      team_id: 'T1',
      api_app_id: 'A1',
      event: { type: 'message', text: 'old' },
      type: 'event_callback',
      event_id: 'Ev0RETAINED',
      event_time: 1,
    });
    expect((await post(`/v1/inbound/slack/${conn.slack}`, body, slackHeaders(SLACK_SIGNING_SECRET, body))).status).toBe(
      200,
    );
    const [stored] = (await eventsOf(conn.slack)).filter((e) => e.payload?.event_id === 'Ev0RETAINED');
    await eventually(() => deliveriesOf(stored!.id)[0]);
    const db = createDb(engine.database.url, { max: 2 });
    try {
      await db
        .updateTable('inbound_events')
        .set({ received_at: new Date(Date.now() - 31 * 24 * 3600_000) })
        .where('id', '=', stored!.id)
        .execute();
      expect(await purgeExpiredEventPayloads(db, retentionCutoff(30))).toBeGreaterThanOrEqual(1);
    } finally {
      await db.destroy();
    }
    expect((await admin.get(`/v1/events/${stored!.id}`)).body).toMatchObject({
      id: stored!.id,
      type: 'slack.message',
      payload: null,
    });
    // A late redelivery of the same event is still recognised.
    expect((await post(`/v1/inbound/slack/${conn.slack}`, body, slackHeaders(SLACK_SIGNING_SECRET, body))).status).toBe(
      200,
    );
    expect(
      (await eventsOf(conn.slack)).filter((e) => e.id === stored!.id || e.payload?.event_id === 'Ev0RETAINED'),
    ).toHaveLength(1);
  });

  it('counts inbound events in /metrics and never logs a secret', async () => {
    const metrics = await (await fetch(`${engine.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/connector_engine_inbound_events_total\{connector="slack",outcome="accepted"\} [1-9]/);
    expect(metrics).toMatch(/connector_engine_inbound_events_total\{connector="slack",outcome="duplicate"\} [1-9]/);
    expect(metrics).toMatch(/connector_engine_inbound_events_total\{connector="resend",outcome="rejected"\} [1-9]/);
    const logs = engine.logs();
    for (const secret of [SLACK_SIGNING_SECRET, RESEND_WEBHOOK_SECRET, TWILIO_FAKE_AUTH_TOKEN, webhookSecret])
      expect(logs).not.toContain(secret);
  });
});

/** Time for a second delivery to show up, were one (wrongly) queued. */
const settle = () => new Promise((r) => setTimeout(r, 1_500));
