import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  startTwilioFake,
  TWILIO_ERRORS,
  TWILIO_FAKE_ACCOUNT_SID,
  TWILIO_FAKE_AUTH_TOKEN,
  TWILIO_FAKE_FROM,
  TWILIO_FAKE_MESSAGING_SERVICE_SID,
  TWILIO_FAKE_OTHER_ACCOUNT_SID,
  TWILIO_FAKE_OTHER_AUTH_TOKEN,
  TWILIO_FAKE_TEST_ACCOUNT_SID,
  TWILIO_FAKE_TEST_AUTH_TOKEN,
  TWILIO_MAGIC_TO,
  type TwilioFake,
  type TwilioMessage,
} from '../fakes/twilio/twilio-fake.ts';
import {
  expectPublishedShape as expectFits,
  type Mode,
  publishedOutputSchemas,
  runAction,
} from '../support/actions.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';

/**
 * Every Twilio action through HTTP → queue → worker → fake, sync and async, with the exact request
 * Twilio receives (Basic auth, the SID in the path, form encoding with repeated MediaUrl), Twilio's
 * paging, and what its errors do to the invocation and the connection.
 */
describe('Twilio connector end to end', () => {
  let fake: TwilioFake;
  let engine: Engine;
  let admin: ApiClient;
  let client: ApiClient;
  let connectionId: string;
  let outputSchemas: Map<string, z.ZodType>;

  beforeAll(async () => {
    fake = await startTwilioFake();
    engine = await startEngine({ env: { TWILIO_API_URL: fake.url } });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    const setup = await setUpProject(admin, {
      connectorId: 'twilio',
      credentials: { accountSid: TWILIO_FAKE_ACCOUNT_SID, authToken: TWILIO_FAKE_AUTH_TOKEN },
    });
    expect(setup.connectionStatus).toBe('active');
    connectionId = setup.connectionId;
    client = apiClient(engine.baseUrl, setup.projectKey);
    const catalog = await apiClient(engine.baseUrl).get('/v1/connectors/twilio');
    expect(catalog.body).toMatchObject({
      authType: 'basic',
      authFields: [
        { key: 'accountSid', secret: false, required: true },
        { key: 'authToken', secret: true, required: true },
      ],
    });
    outputSchemas = await publishedOutputSchemas(engine.baseUrl, 'twilio');
  }, 90_000);
  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
  });
  beforeEach(() => fake.reset());

  /** Runs an action sync (200 with the output) or async (202, then polls the invocation). */
  const run = (mode: Mode, actionId: string, input: unknown, as = client) =>
    runAction(as, mode, { connectorId: 'twilio', actionId, input });
  const expectPublishedShape = (actionId: string, output: unknown) => expectFits(outputSchemas, actionId, output);
  const basic = (sid: string, token: string) => `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`;
  const messagesPath = `/2010-04-01/Accounts/${TWILIO_FAKE_ACCOUNT_SID}/Messages.json`;
  /** The projection the connector promises of a Message resource. */
  const projection = (m: TwilioMessage) => ({
    sid: m.sid,
    accountSid: m.account_sid,
    messagingServiceSid: m.messaging_service_sid,
    status: m.status,
    direction: m.direction,
    to: m.to,
    from: m.from,
    body: m.body,
    numSegments: m.num_segments === null ? null : Number(m.num_segments),
    numMedia: m.num_media === null ? null : Number(m.num_media),
    price: m.price,
    priceUnit: m.price_unit,
    errorCode: m.error_code,
    errorMessage: m.error_message,
    dateCreated: m.date_created && new Date(m.date_created).toISOString(),
    dateSent: m.date_sent && new Date(m.date_sent).toISOString(),
    dateUpdated: m.date_updated && new Date(m.date_updated).toISOString(),
  });
  const storedMessage = (sid: string, account = TWILIO_FAKE_ACCOUNT_SID) =>
    fake.account(account).messages.find((m) => m.sid === sid)!;

  describe.each(['sync', 'async'] as const)('%s', (mode) => {
    it('sendSms POSTs a form with repeated MediaUrl, Basic auth and the SID in the path', async () => {
      const input = {
        to: '+14155552671',
        from: TWILIO_FAKE_FROM,
        body: 'Your order #1001 has shipped & is on its way',
        mediaUrl: ['https://cdn.example.com/label.png', 'https://cdn.example.com/map.png'],
        statusCallback: 'https://hooks.example.com/twilio/status?shop=1',
      };
      const { output } = await run(mode, 'sendSms', input);

      const sends = fake.requests.filter((r) => r.method === 'POST');
      expect(sends).toHaveLength(1);
      const req = sends[0]!;
      expect(req.path).toBe(messagesPath);
      expect(req.headers.authorization).toBe(basic(TWILIO_FAKE_ACCOUNT_SID, TWILIO_FAKE_AUTH_TOKEN));
      expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(req.rawBody.toString()).toBe(
        'To=%2B14155552671&From=%2B15005550006&Body=Your+order+%231001+has+shipped+%26+is+on+its+way' +
          '&MediaUrl=https%3A%2F%2Fcdn.example.com%2Flabel.png&MediaUrl=https%3A%2F%2Fcdn.example.com%2Fmap.png' +
          '&StatusCallback=https%3A%2F%2Fhooks.example.com%2Ftwilio%2Fstatus%3Fshop%3D1',
      );

      expect(output.sid).toMatch(/^MM[0-9a-f]{32}$/);
      expect(output).toEqual(projection(storedMessage(output.sid)));
      expect(output).toMatchObject({
        status: 'queued',
        to: '+14155552671',
        from: TWILIO_FAKE_FROM,
        numMedia: 2,
        numSegments: 1,
        errorCode: null,
        price: null,
      });
      expect(output.dateCreated).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
      expectPublishedShape('sendSms', output);
    });

    it('sendSms through a Messaging Service sends MessagingServiceSid and no From', async () => {
      const { output } = await run(mode, 'sendSms', {
        to: '+14155552672',
        messagingServiceSid: TWILIO_FAKE_MESSAGING_SERVICE_SID,
        body: 'Hi',
      });
      const req = fake.requests.find((r) => r.method === 'POST')!;
      expect(req.rawBody.toString()).toBe(
        `To=%2B14155552672&MessagingServiceSid=${TWILIO_FAKE_MESSAGING_SERVICE_SID}&Body=Hi`,
      );
      expect(output).toMatchObject({
        status: 'accepted',
        from: null,
        numSegments: 0,
        messagingServiceSid: TWILIO_FAKE_MESSAGING_SERVICE_SID,
      });
      expectPublishedShape('sendSms', output);
    });

    it('listMessages GETs one page with PageSize and filters, and follows next_page_uri with the cursor', async () => {
      const first = await run(mode, 'listMessages', { to: '+14155552671', limit: 1 });
      const stored = fake.account().messages.filter((m) => m.to === '+14155552671');
      expect(first.output).toEqual({ messages: [projection(stored[0]!)], nextCursor: expect.any(String) });
      expectPublishedShape('listMessages', first.output);
      let req = fake.requests.at(-1)!;
      expect(req.method).toBe('GET');
      expect(req.path).toBe(messagesPath);
      expect(req.headers.authorization).toBe(basic(TWILIO_FAKE_ACCOUNT_SID, TWILIO_FAKE_AUTH_TOKEN));
      expect(req.query).toEqual({ To: '+14155552671', PageSize: '1' });

      // Same filters again with the cursor, as callers loop: exactly Twilio's next_page_uri.
      const second = await run(mode, 'listMessages', { to: '+14155552671', limit: 1, cursor: first.output.nextCursor });
      req = fake.requests.at(-1)!;
      expect(req.path).toBe(messagesPath);
      expect(req.query).toEqual({ To: '+14155552671', PageSize: '1', Page: '1', PageToken: `PA${stored[0]!.sid}` });
      expect(second.output).toEqual({ messages: [projection(stored[1]!)], nextCursor: null });
      expectPublishedShape('listMessages', second.output);
    });

    it('getMessage GETs the message by SID under the account', async () => {
      const sid = fake.account().messages[1]!.sid;
      fake.updateMessage(sid, {
        status: 'undelivered',
        error_code: 30003,
        error_message: 'Unreachable destination handset',
      });
      const { output } = await run(mode, 'getMessage', { sid });
      const req = fake.requests.at(-1)!;
      expect(req.method).toBe('GET');
      expect(req.path).toBe(`/2010-04-01/Accounts/${TWILIO_FAKE_ACCOUNT_SID}/Messages/${sid}.json`);
      expect(req.headers.authorization).toBe(basic(TWILIO_FAKE_ACCOUNT_SID, TWILIO_FAKE_AUTH_TOKEN));
      expect(output).toEqual(projection(storedMessage(sid)));
      expect(output).toMatchObject({ status: 'undelivered', errorCode: 30003, price: '-0.00790', priceUnit: 'USD' });
      expectPublishedShape('getMessage', output);
    });
  });

  it('listMessages sends the day filters under their Twilio names and pages the cursor alone', async () => {
    const first = await run('sync', 'listMessages', {
      dateSentOnOrAfter: '2024-05-21',
      dateSentOnOrBefore: '2024-05-23',
      limit: 2,
    });
    expect(fake.requests.at(-1)!.query).toEqual({
      'DateSent>': '2024-05-21',
      'DateSent<': '2024-05-23',
      PageSize: '2',
    });
    expect(first.output.messages.map((m: { body: string }) => m.body)).toEqual(['Your code is 481516', 'STOP']);
    const second = await run('sync', 'listMessages', { cursor: first.output.nextCursor });
    expect(fake.requests.at(-1)!.query).toMatchObject({
      'DateSent>': '2024-05-21',
      'DateSent<': '2024-05-23',
      PageSize: '2',
      Page: '1',
    });
    expect(second.output).toEqual({
      messages: [expect.objectContaining({ body: 'Reminder: your appointment is tomorrow at 10:00.' })],
      nextCursor: null,
    });
  });

  it.each([
    [
      'both from and messagingServiceSid',
      'sendSms',
      { to: '+14155552671', from: TWILIO_FAKE_FROM, messagingServiceSid: TWILIO_FAKE_MESSAGING_SERVICE_SID, body: 'x' },
      'input.from',
    ],
    ['neither from nor messagingServiceSid', 'sendSms', { to: '+14155552671', body: 'x' }, 'input.from'],
    ['a To that is not E.164', 'sendSms', { to: '415 555 2671', from: TWILIO_FAKE_FROM, body: 'x' }, 'input.to'],
    [
      'eleven media URLs',
      'sendSms',
      {
        to: '+14155552671',
        from: TWILIO_FAKE_FROM,
        body: 'x',
        mediaUrl: Array(11).fill('https://cdn.example.com/a.png'),
      },
      'input.mediaUrl',
    ],
    ['a cursor that is not ours', 'listMessages', { cursor: 'not-a-cursor' }, 'input.cursor'],
    ['a message SID of another kind', 'getMessage', { sid: TWILIO_FAKE_ACCOUNT_SID }, 'input.sid'],
  ])('answers 400 invalid_input to %s, calling nothing', async (_what, actionId, input, path) => {
    const res = await client.post('/v1/executions', { connectorId: 'twilio', actionId, input });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_input');
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses a cursor with other filters than the listing it continues', async () => {
    const first = await run('sync', 'listMessages', { to: '+14155552671', limit: 1 });
    const res = await client.post('/v1/executions', {
      connectorId: 'twilio',
      actionId: 'listMessages',
      input: { to: '+14155552672', cursor: first.output.nextCursor },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'input.to', message: expect.stringContaining('cursor') }),
      ]),
    );
  });

  it.each([
    [TWILIO_MAGIC_TO.invalid, '21211'],
    [TWILIO_MAGIC_TO.blocked, '21610'],
    [TWILIO_MAGIC_TO.notSmsCapable, '21614'],
  ])(
    "reports Twilio's refusal of To %s (%s) as 502 upstream_error, and the connection stays active",
    async (to, code) => {
      const res = await client.post('/v1/executions', {
        connectorId: 'twilio',
        actionId: 'sendSms',
        input: { to, from: TWILIO_FAKE_FROM, body: 'x' },
      });
      expect(res.status).toBe(502);
      expect(res.body.error).toMatchObject({ code: 'upstream_error', details: { status: 400, code } });
      expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
      expect((await admin.get(`/v1/connections/${connectionId}`)).body.status).toBe('active');
    },
  );

  it('never repeats a send after a 5xx: the invocation fails and Twilio saw one request', async () => {
    fake.failNext(1, TWILIO_ERRORS.serverError);
    const res = await client.post('/v1/executions', {
      connectorId: 'twilio',
      actionId: 'sendSms',
      input: { to: '+14155552671', from: TWILIO_FAKE_FROM, body: 'only once' },
    });
    expect(res.status).toBe(502);
    expect(res.body.error).toMatchObject({ code: 'upstream_error', details: { status: 500, code: '20500' } });
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect((await client.get(`/v1/invocations/${res.body.invocationId}`)).body).toMatchObject({
      status: 'failed',
      attempts: 1,
    });
    expect((await admin.get(`/v1/connections/${connectionId}`)).body.status).toBe('active');
  });

  it('never repeats a send whose answer was lost: Twilio sent it once, the invocation fails', async () => {
    fake.dropNextConnections(1, { afterProcessing: true });
    const res = await client.post('/v1/executions', {
      connectorId: 'twilio',
      actionId: 'sendSms',
      input: { to: '+14155552671', from: TWILIO_FAKE_FROM, body: 'lost answer' },
    });
    // The engine reports a reset connection as upstream_unavailable (whether or not the upstream acted).
    expect(res.status).toBe(502);
    expect(['upstream_unavailable', 'outcome_unknown', 'upstream_error']).toContain(res.body.error.code);
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(fake.sent).toHaveLength(1);
    expect((await client.get(`/v1/invocations/${res.body.invocationId}`)).body).toMatchObject({
      status: 'failed',
      attempts: 1,
    });
  });

  it('retries a send refused with 429 20429 (never processed) and sends it once', async () => {
    fake.failNext(1, TWILIO_ERRORS.rateLimited);
    const res = await client.post('/v1/executions', {
      connectorId: 'twilio',
      actionId: 'sendSms',
      input: { to: '+14155552671', from: TWILIO_FAKE_FROM, body: 'after a 429' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(2);
    expect(fake.sent).toHaveLength(1);
    expect((await client.get(`/v1/invocations/${res.body.invocationId}`)).body).toMatchObject({
      status: 'succeeded',
      attempts: 2,
    });
  });

  it('breaks the connection on 20003 (the token was rotated): 409 connection_broken, nothing sent', async () => {
    const setup = await setUpProject(admin, {
      connectorId: 'twilio',
      credentials: { accountSid: TWILIO_FAKE_OTHER_ACCOUNT_SID, authToken: TWILIO_FAKE_OTHER_AUTH_TOKEN },
    });
    expect(setup.connectionStatus).toBe('active');
    const other = apiClient(engine.baseUrl, setup.projectKey);
    expect(
      (await other.post('/v1/executions', { connectorId: 'twilio', actionId: 'listMessages', input: {} })).status,
    ).toBe(200);
    expect(fake.requests.at(-1)!.path).toBe(`/2010-04-01/Accounts/${TWILIO_FAKE_OTHER_ACCOUNT_SID}/Messages.json`);

    fake.rotateAuthToken(TWILIO_FAKE_OTHER_ACCOUNT_SID);
    const res = await other.post('/v1/executions', {
      connectorId: 'twilio',
      actionId: 'sendSms',
      input: { to: '+14155552671', from: TWILIO_FAKE_FROM, body: 'x' },
    });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'connection_broken', details: { status: 401, code: '20003' } });
    expect(fake.sent).toHaveLength(0);
    const conn = (await admin.get(`/v1/connections/${setup.connectionId}`)).body;
    expect(conn).toMatchObject({ status: 'broken', statusReason: expect.stringContaining('Authenticate') });
    expect(JSON.stringify(conn)).not.toContain(TWILIO_FAKE_OTHER_AUTH_TOKEN);

    // Calls on the broken connection fail at once, without reaching Twilio.
    const before = fake.requests.length;
    expect(
      (
        await other.post('/v1/executions', {
          connectorId: 'twilio',
          actionId: 'getMessage',
          input: { sid: `SM${'0'.repeat(32)}` },
        })
      ).status,
    ).toBe(409);
    expect(fake.requests).toHaveLength(before);
  });

  it('accepts test credentials (Twilio refuses them reads with 403 20008) without breaking them', async () => {
    const setup = await setUpProject(admin, {
      connectorId: 'twilio',
      credentials: { accountSid: TWILIO_FAKE_TEST_ACCOUNT_SID, authToken: TWILIO_FAKE_TEST_AUTH_TOKEN },
    });
    expect(setup.connectionStatus).toBe('active');
    const test = apiClient(engine.baseUrl, setup.projectKey);
    const sent = await run('sync', 'sendSms', { to: '+14155552671', from: TWILIO_FAKE_FROM, body: 'test' }, test);
    expect(sent.output).toMatchObject({ accountSid: TWILIO_FAKE_TEST_ACCOUNT_SID, status: 'queued' });
    const read = await test.post('/v1/executions', {
      connectorId: 'twilio',
      actionId: 'getMessage',
      input: { sid: sent.output.sid },
    });
    expect(read.status).toBe(502);
    expect(read.body.error).toMatchObject({ code: 'upstream_error', details: { status: 403, code: '20008' } });
    expect((await admin.get(`/v1/connections/${setup.connectionId}`)).body.status).toBe('active');
  });
});
