// Checks the Twilio fake with the official `twilio` client (twilio-node v6) pointed at it, so that
// the fake stays something real clients parse. twilio-node has no base-URL option: each API domain
// object carries its own `baseUrl` ("https://api.twilio.com" for `client.api`, lib/rest/ApiBase.js),
// which Domain.absoluteUrl prefixes to every path, and list paging resolves `next_page_uri` against
// the same domain (lib/base/Page.js). Setting `client.api.baseUrl` therefore points every Messages
// and Accounts call at the fake. Errors surface as RestException {status, code, moreInfo, message}.
import twilio from 'twilio';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
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
} from './twilio-fake.ts';

const { RestException } = twilio;

let fake: TwilioFake;
function client(accountSid = TWILIO_FAKE_ACCOUNT_SID, authToken = TWILIO_FAKE_AUTH_TOKEN) {
  const c = twilio(accountSid, authToken, { autoRetry: false });
  c.api.baseUrl = fake.url;
  return c;
}

beforeAll(async () => {
  fake = await startTwilioFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

/** Awaits a rejection and returns the error (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

const basic = (sid: string, token: string) => `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`;
const messagesPath = `/2010-04-01/Accounts/${TWILIO_FAKE_ACCOUNT_SID}/Messages.json`;

describe('messages.create (POST …/Messages.json)', () => {
  it('sends a form with repeated MediaUrl under Basic auth and answers 201 with a queued message', async () => {
    const media = ['https://example.com/a.png', 'https://example.com/b.png'];
    const msg = await client().messages.create({
      to: '+14155552671',
      from: TWILIO_FAKE_FROM,
      body: 'Hello! 👍',
      mediaUrl: media,
      statusCallback: 'https://hooks.example.com/twilio',
    });

    expect(msg.sid).toMatch(/^MM[0-9a-f]{32}$/);
    expect(msg).toMatchObject({
      accountSid: TWILIO_FAKE_ACCOUNT_SID,
      to: '+14155552671',
      from: TWILIO_FAKE_FROM,
      body: 'Hello! 👍',
      status: 'queued',
      direction: 'outbound-api',
      numMedia: '2',
      numSegments: '1',
      errorCode: null,
      price: null,
    });
    // The SDK parses RFC 2822 with the exact "+0000" suffix; an unparseable date would be Invalid Date.
    expect(msg.dateCreated).toBeInstanceOf(Date);
    expect(Number.isNaN(msg.dateCreated.getTime())).toBe(false);
    expect(Math.abs(msg.dateCreated.getTime() - Date.now())).toBeLessThan(5_000);

    const req = fake.requests.at(-1)!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe(messagesPath);
    expect(req.headers.authorization).toBe(basic(TWILIO_FAKE_ACCOUNT_SID, TWILIO_FAKE_AUTH_TOKEN));
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(req.headers['user-agent']).toMatch(/^twilio-node\//);
    expect([...new URLSearchParams(req.rawBody.toString()).getAll('MediaUrl')]).toEqual(media);
    expect(fake.sent.at(-1)).toMatchObject({
      sid: msg.sid,
      params: { To: ['+14155552671'], MediaUrl: media },
      statusCallback: 'https://hooks.example.com/twilio',
    });
  });

  it('without From, a Messaging Service send is accepted with no sender yet', async () => {
    const msg = await client().messages.create({
      to: '+14155552671',
      messagingServiceSid: TWILIO_FAKE_MESSAGING_SERVICE_SID,
      body: 'Hi',
    });
    expect(msg).toMatchObject({
      sid: expect.stringMatching(/^SM/),
      from: null,
      status: 'accepted',
      messagingServiceSid: TWILIO_FAKE_MESSAGING_SERVICE_SID,
      numSegments: '0',
    });
  });

  it('counts segments: 161 GSM-7 characters are 2, 71 UCS-2 characters are 2', async () => {
    expect(
      (await client().messages.create({ to: '+14155552671', from: TWILIO_FAKE_FROM, body: 'x'.repeat(161) }))
        .numSegments,
    ).toBe('2');
    expect(
      (await client().messages.create({ to: '+14155552671', from: TWILIO_FAKE_FROM, body: 'é'.repeat(71) }))
        .numSegments,
    ).toBe('2');
  });

  it.each([
    [TWILIO_MAGIC_TO.invalid, 21211],
    ['555-1234', 21211],
    [TWILIO_MAGIC_TO.unroutable, 21612],
    [TWILIO_MAGIC_TO.noGeoPermission, 21408],
    [TWILIO_MAGIC_TO.blocked, 21610],
    [TWILIO_MAGIC_TO.notSmsCapable, 21614],
  ])('refuses To %s with RestException %i (HTTP 400), sending nothing', async (to, code) => {
    const err = await rejection(client().messages.create({ to, from: TWILIO_FAKE_FROM, body: 'x' }));
    expect(err).toBeInstanceOf(RestException);
    expect(err).toMatchObject({ status: 400, code, moreInfo: `https://www.twilio.com/docs/errors/${code}` });
    expect(fake.sent).toHaveLength(0);
  });

  it('refuses a From the account does not own (21606) and a missing To (21604)', async () => {
    expect(
      await rejection(client().messages.create({ to: '+14155552671', from: '+14155550000', body: 'x' })),
    ).toMatchObject({ status: 400, code: 21606 });
    const res = await fetch(`${fake.url}${messagesPath}`, {
      method: 'POST',
      headers: {
        authorization: basic(TWILIO_FAKE_ACCOUNT_SID, TWILIO_FAKE_AUTH_TOKEN),
        'content-type': 'application/json',
      },
      body: JSON.stringify({ To: '+14155552671', From: TWILIO_FAKE_FROM, Body: 'x' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      code: 21604,
      message: "A 'To' phone number is required.",
      more_info: 'https://www.twilio.com/docs/errors/21604',
      status: 400,
    });
  });
});

describe('messages.list and messages.page (GET …/Messages.json)', () => {
  it('follows next_page_uri across pages until it is null', async () => {
    const all = await client().messages.list({ pageSize: 2 });
    expect(all.map((m) => m.sid)).toEqual(fake.account().messages.map((m) => m.sid));
    expect(all).toHaveLength(5);
    const lists = fake.requests.filter((r) => r.method === 'GET' && r.path === messagesPath);
    expect(lists).toHaveLength(3);
    expect(lists[0]!.query).toEqual({ PageSize: '2' });
    expect(lists[1]!.query).toEqual({ PageSize: '2', Page: '1', PageToken: `PA${all[1]!.sid}` });
    expect(lists[2]!.query).toEqual({ PageSize: '2', Page: '2', PageToken: `PA${all[3]!.sid}` });
  });

  it('pages by hand: the page carries next_page_uri, and the last page has none', async () => {
    const first = await client().messages.page({ pageSize: 3 });
    expect(first.instances).toHaveLength(3);
    expect(first.nextPageUrl).toBe(
      `${fake.url}${messagesPath}?PageSize=3&Page=1&PageToken=PA${first.instances[2]!.sid}`,
    );
    const second = await first.nextPage();
    expect(second!.instances.map((m) => m.sid)).toEqual(
      fake
        .account()
        .messages.slice(3)
        .map((m) => m.sid),
    );
    expect(second!.nextPageUrl).toBeUndefined();
    expect(await second!.nextPage()).toBeUndefined();
  });

  it('filters by To, From and the day sent, keeping the filters in next_page_uri', async () => {
    expect((await client().messages.list({ to: '+14155552671' })).map((m) => m.body)).toEqual([
      'Your order #1001 has shipped.',
      'Reminder: your appointment is tomorrow at 10:00.',
    ]);
    expect(
      (await client().messages.list({ from: TWILIO_FAKE_FROM, dateSentAfter: new Date('2024-05-23T00:00:00Z') })).map(
        (m) => m.to,
      ),
    ).toEqual(['+14155552671', '+14155552672']);
    expect((await client().messages.list({ dateSent: new Date('2024-05-22T00:00:00Z') })).map((m) => m.body)).toEqual([
      'STOP',
    ]);
    expect(fake.requests.at(-1)!.query).toMatchObject({ DateSent: '2024-05-22T00:00:00Z' });

    const page = await client().messages.page({ to: '+14155552671', pageSize: 1 });
    expect(page.nextPageUrl).toContain('To=%2B14155552671');
    expect((await page.nextPage())!.instances[0]!.body).toBe('Reminder: your appointment is tomorrow at 10:00.');
  });

  it("lists only the authenticated account's messages", async () => {
    const other = await client(TWILIO_FAKE_OTHER_ACCOUNT_SID, TWILIO_FAKE_OTHER_AUTH_TOKEN).messages.list();
    expect(other).toHaveLength(2);
    expect(other.every((m) => m.accountSid === TWILIO_FAKE_OTHER_ACCOUNT_SID)).toBe(true);
  });
});

describe('messages(sid).fetch (GET …/Messages/{Sid}.json)', () => {
  it('returns the message, later delivery failures included', async () => {
    const sent = await client().messages.create({ to: '+14155552671', from: TWILIO_FAKE_FROM, body: 'Hi' });
    fake.updateMessage(sent.sid, {
      status: 'undelivered',
      error_code: 30003,
      error_message: 'Unreachable destination handset',
    });
    const msg = await client().messages(sent.sid).fetch();
    expect(msg).toMatchObject({
      sid: sent.sid,
      status: 'undelivered',
      errorCode: 30003,
      errorMessage: 'Unreachable destination handset',
      body: 'Hi',
    });
    expect(fake.requests.at(-1)).toMatchObject({
      method: 'GET',
      path: `/2010-04-01/Accounts/${TWILIO_FAKE_ACCOUNT_SID}/Messages/${sent.sid}.json`,
    });
  });

  it('answers 404 for an unknown SID', async () => {
    const err = await rejection(
      client()
        .messages(`SM${'f'.repeat(32)}`)
        .fetch(),
    );
    expect(err).toBeInstanceOf(RestException);
    expect(err.status).toBe(404);
  });
});

describe('accounts(sid).fetch (the credential test)', () => {
  it('returns the account, echoing its auth token', async () => {
    const account = await client().api.v2010.accounts(TWILIO_FAKE_ACCOUNT_SID).fetch();
    expect(account).toMatchObject({
      sid: TWILIO_FAKE_ACCOUNT_SID,
      status: 'active',
      type: 'Full',
      authToken: TWILIO_FAKE_AUTH_TOKEN,
    });
    expect(account.dateCreated).toEqual(new Date('2024-01-15T10:00:00Z'));
  });
});

describe('authentication and errors', () => {
  it('surfaces a wrong token as RestException 20003 (HTTP 401) with a Basic challenge', async () => {
    const err = await rejection(
      client(TWILIO_FAKE_ACCOUNT_SID, 'deadbeefdeadbeefdeadbeefdeadbeef').messages.create({
        to: '+14155552671',
        from: TWILIO_FAKE_FROM,
        body: 'x',
      }),
    );
    expect(err).toBeInstanceOf(RestException);
    expect(err).toMatchObject({
      status: 401,
      code: 20003,
      message: 'Authenticate',
      moreInfo: 'https://www.twilio.com/docs/errors/20003',
    });
    expect(fake.sent).toHaveLength(0);
    const raw = await fetch(`${fake.url}${messagesPath}`);
    expect(raw.status).toBe(401);
    expect(raw.headers.get('www-authenticate')).toMatch(/^Basic /);
  });

  it("answers 20003 to another account's credentials, and after the token is rotated", async () => {
    const foreign = twilio(TWILIO_FAKE_OTHER_ACCOUNT_SID, TWILIO_FAKE_OTHER_AUTH_TOKEN, { autoRetry: false });
    foreign.api.baseUrl = fake.url;
    expect(await rejection(foreign.api.v2010.accounts(TWILIO_FAKE_ACCOUNT_SID).messages.list())).toMatchObject({
      status: 401,
      code: 20003,
    });

    fake.rotateAuthToken();
    expect(await rejection(client().messages.list())).toMatchObject({ status: 401, code: 20003 });
  });

  it('lets test credentials send but not read (403 20008)', async () => {
    const test = client(TWILIO_FAKE_TEST_ACCOUNT_SID, TWILIO_FAKE_TEST_AUTH_TOKEN);
    expect(await test.messages.create({ to: '+14155552671', from: TWILIO_FAKE_FROM, body: 'x' })).toMatchObject({
      status: 'queued',
    });
    expect(await rejection(test.messages.list())).toMatchObject({ status: 403, code: 20008 });
    expect(await rejection(test.api.v2010.accounts(TWILIO_FAKE_TEST_ACCOUNT_SID).fetch())).toMatchObject({
      status: 403,
      code: 20008,
    });
  });

  it('answers 429 20429 past the concurrency limit, and only then', async () => {
    fake.setConcurrencyLimit(1);
    fake.setLatency(300);
    const results = await Promise.allSettled([
      client().messages.list({ limit: 1 }),
      client().messages.list({ limit: 1 }),
    ]);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).toBeInstanceOf(RestException);
    expect(rejected[0]!.reason).toMatchObject({ status: 429, code: 20429 });
    fake.setLatency(0);
    expect(await client().messages.list({ limit: 1 })).toHaveLength(1);
  });

  it('injects outages and permission refusals as RestException', async () => {
    fake.failNext(1, TWILIO_ERRORS.serverError);
    expect(await rejection(client().messages.list())).toMatchObject({ status: 500, code: 20500 });
    fake.failNext(1, TWILIO_ERRORS.suspended);
    expect(
      await rejection(client().messages.create({ to: '+14155552671', from: TWILIO_FAKE_FROM, body: 'x' })),
    ).toMatchObject({ status: 403, code: 20403 });
    expect(fake.sent).toHaveLength(0);
  });
});
