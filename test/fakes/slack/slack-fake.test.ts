// Checks the Slack fake against the OFFICIAL client (@slack/web-api), plus raw fetch
// checks for the wire rules the SDK never exercises (JSON bodies, tokens, authorize page).
// The SDK always POSTs application/x-www-form-urlencoded with the token in the
// Authorization header, throws WebAPIPlatformError for `ok:false`, and (with
// rejectRateLimitedCalls) WebAPIRateLimitedError for a 429 carrying Retry-After.
import {
  ErrorCode,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
} from '@slack/web-api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  SLACK_FAKE_APP_ID,
  SLACK_FAKE_BOT_SCOPES,
  SLACK_FAKE_BOT_TOKEN,
  SLACK_FAKE_BOT_USER_ID,
  SLACK_FAKE_CLIENT_ID,
  SLACK_FAKE_CLIENT_SECRET,
  SLACK_FAKE_READONLY_TOKEN,
  SLACK_FAKE_TEAM_ID,
  type SlackFake,
  startSlackFake,
} from './slack-fake.ts';

const TS = /^\d{10}\.\d{6}$/;
const GENERAL = 'C0FAKEGEN01';
const THREAD = '1700000000.000100';

let fake: SlackFake;
const client = (token: string | undefined = SLACK_FAKE_BOT_TOKEN, opts: { rejectRateLimitedCalls?: boolean } = {}) =>
  new WebClient(token, { slackApiUrl: `${fake.url}/api/`, retryConfig: { retries: 0 }, ...opts });

beforeAll(async () => {
  fake = await startSlackFake();
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

async function api(
  method: string,
  init: {
    httpMethod?: string;
    headers?: Record<string, string>;
    body?: string | Uint8Array;
    query?: Record<string, string>;
  } = {},
): Promise<{ status: number; headers: Headers; json: any }> {
  const qs = init.query ? `?${new URLSearchParams(init.query)}` : '';
  const res = await fetch(`${fake.url}/api/${method}${qs}`, {
    method: init.httpMethod ?? 'POST',
    headers: init.headers,
    body: init.body,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, json };
}
const bearer = (token = SLACK_FAKE_BOT_TOKEN) => ({ authorization: `Bearer ${token}` });
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_CT = { 'content-type': 'application/json; charset=utf-8' };
const form = (o: Record<string, string>) => new URLSearchParams(o).toString();

describe('auth', () => {
  it('auth.test identifies the bot (no scope needed)', async () => {
    const res = await client().auth.test();
    expect(res).toMatchObject({
      ok: true,
      team_id: SLACK_FAKE_TEAM_ID,
      user_id: SLACK_FAKE_BOT_USER_ID,
      bot_id: 'B0FAKEBOT01',
      url: 'https://fake-workspace.slack.com/',
    });
    expect(res.expires_in).toBeUndefined(); // not a rotating token
    expect(res.response_metadata?.scopes).toEqual([...SLACK_FAKE_BOT_SCOPES]); // from x-oauth-scopes
    expect(fake.requests[0]?.headers.authorization).toBe(`Bearer ${SLACK_FAKE_BOT_TOKEN}`);
    expect(fake.calls[0]).toMatchObject({ method: 'auth.test', bodyKind: 'form', tokenSource: 'header' });
  });

  it('an unknown token is the SDK platform error invalid_auth, sent as HTTP 200', async () => {
    const err = await rejection(client('xoxb-nope').auth.test());
    expect(err).toBeInstanceOf(WebAPIPlatformError);
    expect(err.code).toBe(ErrorCode.PlatformError);
    expect(err.data).toMatchObject({ ok: false, error: 'invalid_auth' });
    const raw = await api('auth.test', { headers: bearer('xoxb-nope') });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(raw.json).toEqual({ ok: false, error: 'invalid_auth' });
  });

  it('no token → not_authed; a query-string token does not count', async () => {
    expect((await api('auth.test')).json).toEqual({ ok: false, error: 'not_authed' });
    expect((await api('auth.test', { httpMethod: 'GET', query: { token: SLACK_FAKE_BOT_TOKEN } })).json.error).toBe(
      'not_authed',
    );
  });

  it('a form `token` param is accepted', async () => {
    const res = await api('auth.test', { headers: FORM, body: form({ token: SLACK_FAKE_BOT_TOKEN }) });
    expect(res.json).toMatchObject({ ok: true, user_id: SLACK_FAKE_BOT_USER_ID });
    expect(fake.calls[0]?.tokenSource).toBe('form');
  });

  it('revoked tokens answer token_revoked / account_inactive', async () => {
    fake.revokeToken(SLACK_FAKE_BOT_TOKEN);
    expect((await rejection(client().auth.test())).data.error).toBe('token_revoked');
    fake.revokeToken(SLACK_FAKE_BOT_TOKEN, 'account_inactive');
    expect((await rejection(client().conversations.list())).data.error).toBe('account_inactive');
  });

  it('missing_scope carries needed and provided', async () => {
    const err = await rejection(client(SLACK_FAKE_READONLY_TOKEN).chat.postMessage({ channel: GENERAL, text: 'hi' }));
    expect(err).toBeInstanceOf(WebAPIPlatformError);
    expect(err.data).toMatchObject({
      ok: false,
      error: 'missing_scope',
      needed: 'chat:write',
      provided: 'channels:read,users:read',
    });
    expect(fake.postedMessages).toHaveLength(0);
  });

  it('addToken registers custom tokens with their scopes and team', async () => {
    fake.addToken('xoxb-custom-1', { scopes: ['users:read'], teamId: 'T0OTHER0001' });
    const me = await client('xoxb-custom-1').auth.test();
    expect(me.team_id).toBe('T0OTHER0001');
    expect((await client('xoxb-custom-1').users.list({ limit: 1 })).ok).toBe(true);
    expect(
      (await rejection(client('xoxb-custom-1').reactions.add({ channel: GENERAL, timestamp: THREAD, name: 'eyes' })))
        .data.needed,
    ).toBe('reactions:write');
  });
});

describe('chat.postMessage', () => {
  it('posts and returns channel, a fresh ts and the message; the fake stores it', async () => {
    const res = await client().chat.postMessage({ channel: GENERAL, text: 'Hello from the connector' });
    expect(res).toMatchObject({
      ok: true,
      channel: GENERAL,
      message: {
        type: 'message',
        text: 'Hello from the connector',
        bot_id: 'B0FAKEBOT01',
        user: SLACK_FAKE_BOT_USER_ID,
      },
    });
    expect(res.ts).toMatch(TS);
    expect(res.message?.ts).toBe(res.ts);
    expect(fake.postedMessages).toHaveLength(1);
    expect(fake.postedMessages[0]).toMatchObject({
      channel: GENERAL,
      ts: res.ts,
      token: SLACK_FAKE_BOT_TOKEN,
      args: { text: 'Hello from the connector' },
    });
    const again = await client().chat.postMessage({ channel: GENERAL, text: 'again' });
    expect(Number(again.ts)).toBeGreaterThan(Number(res.ts));
  });

  it('accepts a channel name and blocks (a JSON string in the form body)', async () => {
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*bold*' } }];
    const res = await client().chat.postMessage({ channel: '#random', blocks, text: 'fallback' });
    expect(res.channel).toBe('C0FAKERND01');
    expect(res.message?.blocks).toEqual(blocks);
    expect(new URLSearchParams(fake.requests[0]!.rawBody.toString()).get('blocks')).toBe(JSON.stringify(blocks));
    expect(fake.postedMessages[0]?.args.blocks).toEqual(blocks);
  });

  it('requires one of text/blocks/attachments/markdown_text → no_text', async () => {
    const err = await rejection(client().apiCall('chat.postMessage', { channel: GENERAL }));
    expect(err.data.error).toBe('no_text');
  });

  it('channel_not_found, not_in_channel, is_archived, invalid_blocks', async () => {
    const post = (channel: string, extra: Record<string, unknown> = {}) =>
      rejection(client().chat.postMessage({ channel, text: 'x', ...extra } as never));
    expect((await post('C0NOPE00000')).data.error).toBe('channel_not_found');
    expect((await post('C0FAKESEC01')).data.error).toBe('channel_not_found'); // private, bot not in it: invisible
    expect((await post('C0FAKEANN01')).data.error).toBe('not_in_channel');
    expect((await post('C0FAKEOLD01')).data.error).toBe('is_archived');
    expect((await post(GENERAL, { blocks: [{ type: 'bogus' }] })).data.error).toBe('invalid_blocks');
    expect(fake.postedMessages).toHaveLength(0);
  });

  it('chat:write.public lets a bot post to public channels it is not in', async () => {
    fake.addToken('xoxb-public', { scopes: ['chat:write', 'chat:write.public'] });
    expect((await client('xoxb-public').chat.postMessage({ channel: 'C0FAKEANN01', text: 'hi' })).ok).toBe(true);
  });

  it('a reply with thread_ts shows up in conversations.replies', async () => {
    const reply = await client().chat.postMessage({ channel: GENERAL, text: 'Confirmed', thread_ts: THREAD });
    expect(reply.message).toMatchObject({ thread_ts: THREAD, parent_user_id: 'U0FAKEADA01' });
    const thread = await client().conversations.replies({ channel: GENERAL, ts: THREAD });
    expect(thread.messages?.at(-1)).toMatchObject({ ts: reply.ts, text: 'Confirmed', thread_ts: THREAD });
    expect(thread.messages?.[0]).toMatchObject({ ts: THREAD, reply_count: 4, latest_reply: reply.ts });
  });
});

describe('conversations.list', () => {
  it('paginates with opaque base64 cursors and "" on the last page', async () => {
    const ids: string[] = [];
    const cursors: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client().conversations.list({ limit: 2, cursor });
      expect(page.channels!.length).toBeLessThanOrEqual(2);
      ids.push(...page.channels!.map((c) => c.id!));
      cursor = page.response_metadata?.next_cursor;
      cursors.push(cursor ?? 'MISSING');
    } while (cursor);
    // default types=public_channel: public channels, archived included
    expect(ids).toEqual(['C0FAKEGEN01', 'C0FAKERND01', 'C0FAKEANN01', 'C0FAKEOLD01']);
    expect(cursors.at(-1)).toBe('');
    expect(Buffer.from(cursors[0]!, 'base64').toString()).toBe('team:C0FAKEANN01');
  });

  it('the SDK paginator walks every page', async () => {
    const all: string[] = [];
    for await (const page of client().paginate('conversations.list', {
      limit: 1,
      types: 'public_channel,private_channel',
      exclude_archived: true,
    })) {
      all.push(...((page as { channels?: { id: string }[] }).channels ?? []).map((c) => c.id));
    }
    expect(all).toEqual(['C0FAKEGEN01', 'C0FAKERND01', 'C0FAKEENG01', 'C0FAKEANN01']); // secret-plans invisible, archived excluded
  });

  it('returns the documented channel shape, and channels are settable', async () => {
    fake.channels = [
      { id: 'C0SET000001', name: 'only-one', created: 1, is_channel: true, is_private: false, is_member: true },
    ];
    const res = await client().conversations.list();
    expect(res.channels).toEqual([
      { id: 'C0SET000001', name: 'only-one', created: 1, is_channel: true, is_private: false, is_member: true },
    ]);
    expect(res.response_metadata?.next_cursor).toBe('');
  });

  it('types=im lists the bot DMs; invalid types/cursor/limit are errors', async () => {
    expect((await client().conversations.list({ types: 'im' })).channels?.map((c) => c.id)).toEqual(['D0FAKEADA01']);
    expect((await rejection(client().conversations.list({ types: 'bogus' as never }))).data.error).toBe(
      'invalid_types',
    );
    expect((await rejection(client().conversations.list({ cursor: 'not-a-cursor!' }))).data.error).toBe(
      'invalid_cursor',
    );
    expect(
      (await rejection(client().conversations.list({ cursor: Buffer.from('user:U1').toString('base64') }))).data.error,
    ).toBe('invalid_cursor');
    expect((await rejection(client().conversations.list({ limit: 1001 }))).data.error).toBe('invalid_limit');
    expect((await rejection(client().apiCall('conversations.list', { limit: 'ten' }))).data.error).toBe(
      'invalid_limit',
    );
  });

  it('private types need groups:read', async () => {
    const err = await rejection(
      client(SLACK_FAKE_READONLY_TOKEN).conversations.list({ types: 'public_channel,private_channel' }),
    );
    expect(err.data).toMatchObject({
      error: 'missing_scope',
      needed: 'groups:read',
      provided: 'channels:read,users:read',
    });
    expect((await client(SLACK_FAKE_READONLY_TOKEN).conversations.list()).ok).toBe(true);
  });
});

describe('users.list', () => {
  it('paginates users', async () => {
    const first = await client().users.list({ limit: 4 });
    expect(first.members).toHaveLength(4);
    expect(first.members?.[1]).toMatchObject({
      id: 'U0FAKEADA01',
      name: 'ada',
      team_id: SLACK_FAKE_TEAM_ID,
      is_bot: false,
      profile: { email: 'ada@example.com' },
    });
    expect(typeof first.cache_ts).toBe('number');
    const next = await client().users.list({ limit: 4, cursor: first.response_metadata!.next_cursor! });
    expect(next.members?.map((m) => m.id)).toEqual(['U0FAKEKEN01', SLACK_FAKE_BOT_USER_ID]);
    expect(next.response_metadata?.next_cursor).toBe('');
    expect(next.members?.[0]?.deleted).toBe(true);
  });

  it('without users:read.email the profile has no email', async () => {
    const res = await client(SLACK_FAKE_READONLY_TOKEN).users.list({});
    expect(res.members).toHaveLength(6);
    expect(res.members?.every((m) => m.profile?.email === undefined)).toBe(true);
  });
});

describe('reactions.add', () => {
  it('adds a reaction; it is recorded and shown by conversations.replies', async () => {
    expect(await client().reactions.add({ channel: GENERAL, timestamp: THREAD, name: 'eyes' })).toMatchObject({
      ok: true,
    });
    expect(fake.reactions).toEqual([
      expect.objectContaining({ channel: GENERAL, timestamp: THREAD, name: 'eyes', user: SLACK_FAKE_BOT_USER_ID }),
    ]);
    const thread = await client().conversations.replies({ channel: GENERAL, ts: THREAD });
    expect(thread.messages?.[0]?.reactions).toEqual([{ name: 'eyes', users: [SLACK_FAKE_BOT_USER_ID], count: 1 }]);
  });

  it('already_reacted, message_not_found, invalid_name, no_item_specified, bad_timestamp', async () => {
    const add = (args: Record<string, string>) => rejection(client().apiCall('reactions.add', args));
    await client().reactions.add({ channel: GENERAL, timestamp: THREAD, name: 'thumbsup' });
    expect((await add({ channel: GENERAL, timestamp: THREAD, name: '+1' })).data.error).toBe('already_reacted'); // same emoji (alias)
    expect((await add({ channel: GENERAL, timestamp: '1700000000.999999', name: 'eyes' })).data.error).toBe(
      'message_not_found',
    );
    expect((await add({ channel: GENERAL, timestamp: THREAD, name: ':eyes:' })).data.error).toBe('invalid_name');
    expect((await add({ channel: GENERAL, timestamp: THREAD, name: 'not_an_emoji_xyz' })).data.error).toBe(
      'invalid_name',
    );
    expect((await add({ channel: GENERAL, timestamp: THREAD })).data.error).toBe('invalid_name');
    expect((await add({ channel: GENERAL, name: 'eyes' })).data.error).toBe('no_item_specified');
    expect((await add({ channel: GENERAL, timestamp: 'yesterday', name: 'eyes' })).data.error).toBe('bad_timestamp');
    expect((await add({ channel: 'C0NOPE00000', timestamp: THREAD, name: 'eyes' })).data.error).toBe(
      'channel_not_found',
    );
    expect(fake.reactions).toHaveLength(1);
  });
});

describe('conversations.replies', () => {
  it('returns the parent first, then replies, with has_more and cursors', async () => {
    const first = await client().conversations.replies({ channel: GENERAL, ts: THREAD, limit: 2 });
    expect(first.messages?.map((m) => m.ts)).toEqual([THREAD, '1700000060.000200']);
    expect(first.messages?.[0]).toMatchObject({ thread_ts: THREAD, reply_count: 3, reply_users_count: 2 });
    expect(first.messages?.[1]).toMatchObject({ thread_ts: THREAD, parent_user_id: 'U0FAKEADA01' });
    expect(first.has_more).toBe(true);
    const next = await client().conversations.replies({
      channel: GENERAL,
      ts: THREAD,
      limit: 2,
      cursor: first.response_metadata!.next_cursor!,
    });
    expect(next.messages?.map((m) => m.ts)).toEqual(['1700000120.000300', '1700000180.000400']);
    expect(next.has_more).toBe(false);
    expect(next.response_metadata?.next_cursor).toBe('');
  });

  it('a reply ts gives the whole thread; a message without replies gives just itself', async () => {
    expect((await client().conversations.replies({ channel: GENERAL, ts: '1700000120.000300' })).messages).toHaveLength(
      4,
    );
    const single = await client().conversations.replies({ channel: 'C0FAKERND01', ts: '1700000200.000500' });
    expect(single.messages).toEqual([
      { type: 'message', user: 'U0FAKELIN01', text: 'Coffee anyone?', ts: '1700000200.000500' },
    ]);
    expect(single.has_more).toBe(false);
  });

  it('thread_not_found / channel_not_found; messages are settable', async () => {
    expect(
      (await rejection(client().conversations.replies({ channel: GENERAL, ts: '1600000000.000001' }))).data.error,
    ).toBe('thread_not_found');
    expect((await rejection(client().conversations.replies({ channel: 'C0NOPE00000', ts: THREAD }))).data.error).toBe(
      'channel_not_found',
    );
    fake.messages = [
      { channel: GENERAL, ts: '1600000000.000001', text: 'new root', user: 'U0FAKEGRC01', type: 'message' },
    ];
    expect(
      (await client().conversations.replies({ channel: GENERAL, ts: '1600000000.000001' })).messages?.[0]?.text,
    ).toBe('new root');
  });

  it('needs a history scope', async () => {
    const err = await rejection(
      client(SLACK_FAKE_READONLY_TOKEN).conversations.replies({ channel: GENERAL, ts: THREAD }),
    );
    expect(err.data).toMatchObject({ error: 'missing_scope', provided: 'channels:read,users:read' });
    expect(err.data.needed).toContain('channels:history');
  });
});

describe('rate limits and failures', () => {
  it('a 429 surfaces as the SDK rate-limited error with Retry-After seconds', async () => {
    fake.rateLimitNext(1, { retryAfterSeconds: 7 });
    const err = await rejection(
      client(SLACK_FAKE_BOT_TOKEN, { rejectRateLimitedCalls: true }).chat.postMessage({ channel: GENERAL, text: 'x' }),
    );
    expect(err).toBeInstanceOf(WebAPIRateLimitedError);
    expect(err.code).toBe(ErrorCode.RateLimitedError);
    expect(err.retryAfter).toBe(7);
    expect(fake.postedMessages).toHaveLength(0);
    expect((await client().chat.postMessage({ channel: GENERAL, text: 'x' })).ok).toBe(true);
  });

  it('wire form: HTTP 429, Retry-After header (omitted when null), ratelimited body', async () => {
    fake.rateLimitNext(1, { retryAfterSeconds: 30 });
    fake.rateLimitNext(1, { retryAfterSeconds: null });
    const a = await api('auth.test', { headers: bearer() });
    expect(a).toMatchObject({ status: 429, json: { ok: false, error: 'ratelimited' } });
    expect(a.headers.get('retry-after')).toBe('30');
    const b = await api('auth.test', { headers: bearer() });
    expect(b.status).toBe(429);
    expect(b.headers.get('retry-after')).toBeNull();
    expect((await api('auth.test', { headers: bearer() })).status).toBe(200);
  });

  it('rateLimitNext can target one method', async () => {
    fake.rateLimitNext(1, { method: 'chat.postMessage' });
    expect((await api('auth.test', { headers: bearer() })).status).toBe(200);
    expect(
      (
        await api('chat.postMessage', {
          headers: { ...bearer(), ...FORM },
          body: form({ channel: GENERAL, text: 'x' }),
        })
      ).status,
    ).toBe(429);
  });

  it('per-method limits: a sliding one-minute window', async () => {
    fake.setMethodRateLimit('chat.postMessage', 2);
    await client().chat.postMessage({ channel: GENERAL, text: '1' });
    await client().chat.postMessage({ channel: GENERAL, text: '2' });
    const err = await rejection(
      client(SLACK_FAKE_BOT_TOKEN, { rejectRateLimitedCalls: true }).chat.postMessage({ channel: GENERAL, text: '3' }),
    );
    expect(err).toBeInstanceOf(WebAPIRateLimitedError);
    expect(err.retryAfter).toBeGreaterThanOrEqual(1);
    expect(err.retryAfter).toBeLessThanOrEqual(60);
    expect((await client().users.list({})).ok).toBe(true); // other methods unaffected
    expect(fake.postedMessages).toHaveLength(2);
  });

  it('failNext injects 5xx (SDK HTTP error), then recovers; status 200 gives ok:false', async () => {
    fake.failNext(1, { status: 503 });
    fake.failNext(1, { status: 200, error: 'fatal_error' });
    const http = await rejection(client().chat.postMessage({ channel: GENERAL, text: 'x' }));
    expect(http).toBeInstanceOf(WebAPIHTTPError);
    expect(http.statusCode).toBe(503);
    expect(http.body).toEqual({ ok: false, error: 'service_unavailable' });
    expect((await rejection(client().chat.postMessage({ channel: GENERAL, text: 'x' }))).data.error).toBe(
      'fatal_error',
    );
    expect((await client().chat.postMessage({ channel: GENERAL, text: 'x' })).ok).toBe(true);
    expect(fake.postedMessages).toHaveLength(1);
  });

  it('dropNextConnections is an SDK request error; afterProcessing still posts', async () => {
    fake.dropNextConnections(1);
    const err = await rejection(client().chat.postMessage({ channel: GENERAL, text: 'x' }));
    expect(err).toBeInstanceOf(WebAPIRequestError);
    expect(fake.postedMessages).toHaveLength(0);
    fake.dropNextConnections(1, { afterProcessing: true });
    expect(await rejection(client().chat.postMessage({ channel: GENERAL, text: 'x' }))).toBeInstanceOf(
      WebAPIRequestError,
    );
    expect(fake.postedMessages).toHaveLength(1);
  });
});

describe('OAuth v2', () => {
  const oauth = () => client(undefined).oauth.v2;
  const creds = { client_id: SLACK_FAKE_CLIENT_ID, client_secret: SLACK_FAKE_CLIENT_SECRET };

  it('exchanges a code (rotation on): xoxe tokens, expires_in, documented shape', async () => {
    const code = fake.issueCode({ scopes: ['chat:write', 'channels:read'], redirectUri: 'https://app.example/cb' });
    const res = await oauth().access({ ...creds, code, redirect_uri: 'https://app.example/cb' });
    expect(res).toMatchObject({
      ok: true,
      app_id: SLACK_FAKE_APP_ID,
      token_type: 'bot',
      scope: 'chat:write,channels:read',
      bot_user_id: SLACK_FAKE_BOT_USER_ID,
      expires_in: 43200,
      team: { id: SLACK_FAKE_TEAM_ID, name: 'Fake Workspace' },
      enterprise: null,
      is_enterprise_install: false,
      authed_user: { id: 'U0FAKEADA01' },
    });
    expect(res.access_token).toMatch(/^xoxe\.xoxb-1-/);
    expect(res.refresh_token).toMatch(/^xoxe-1-/);
    const me = await client(res.access_token).auth.test();
    expect(me.expires_in).toBeGreaterThan(43000);
    expect((await client(res.access_token).chat.postMessage({ channel: GENERAL, text: 'installed' })).ok).toBe(true);
    // one-time code
    expect(
      (await rejection(oauth().access({ ...creds, code, redirect_uri: 'https://app.example/cb' }))).data.error,
    ).toBe('invalid_code');
  });

  it('code exchange errors: invalid_code, bad_redirect_uri, invalid_client_id, bad_client_secret', async () => {
    const code = fake.issueCode({ scopes: ['chat:write'], redirectUri: 'https://app.example/cb' });
    const err = async (args: Record<string, string>) => (await rejection(oauth().access(args as never))).data.error;
    expect(await err({ ...creds, code: 'nope' })).toBe('invalid_code');
    expect(await err({ ...creds, code, redirect_uri: 'https://evil.example/cb' })).toBe('bad_redirect_uri');
    expect(await err({ ...creds, code })).toBe('bad_redirect_uri');
    expect(await err({ client_id: '999.999', client_secret: 'x', code })).toBe('invalid_client_id');
    expect(await err({ client_id: SLACK_FAKE_CLIENT_ID, client_secret: 'wrong', code })).toBe('bad_client_secret');
    expect(await err({ ...creds, code, grant_type: 'password' })).toBe('invalid_grant_type');
    // the code survived the failed attempts
    expect((await oauth().access({ ...creds, code, redirect_uri: 'https://app.example/cb' })).ok).toBe(true);
  });

  it('accepts HTTP Basic client credentials', async () => {
    const code = fake.issueCode({ scopes: ['chat:write'] });
    const basic = Buffer.from(`${SLACK_FAKE_CLIENT_ID}:${SLACK_FAKE_CLIENT_SECRET}`).toString('base64');
    const res = await api('oauth.v2.access', {
      headers: { authorization: `Basic ${basic}`, ...FORM },
      body: form({ code }),
    });
    expect(res.json).toMatchObject({ ok: true, token_type: 'bot' });
  });

  it('is form-only: a JSON body is not read', async () => {
    const code = fake.issueCode({ scopes: ['chat:write'] });
    const res = await api('oauth.v2.access', { headers: JSON_CT, body: JSON.stringify({ ...creds, code }) });
    expect(res.json).toEqual({ ok: false, error: 'invalid_client_id' });
    expect(fake.calls[0]?.bodyKind).toBe('json-ignored');
  });

  it('refresh returns a new access AND refresh token and revokes the old refresh token', async () => {
    const install = await oauth().access({ ...creds, code: fake.issueCode({ scopes: ['chat:write'] }) });
    const refreshed = await oauth().access({
      ...creds,
      grant_type: 'refresh_token',
      refresh_token: install.refresh_token!,
    });
    expect(refreshed).toMatchObject({
      ok: true,
      token_type: 'bot',
      scope: 'chat:write',
      expires_in: 43200,
      bot_user_id: SLACK_FAKE_BOT_USER_ID,
      team: { id: SLACK_FAKE_TEAM_ID },
    });
    expect(refreshed.access_token).toMatch(/^xoxe\.xoxb-1-/);
    expect(refreshed.access_token).not.toBe(install.access_token);
    expect(refreshed.refresh_token).toMatch(/^xoxe-1-/);
    expect(refreshed.refresh_token).not.toBe(install.refresh_token);
    expect(fake.refreshCount).toBe(1);

    const stale = await rejection(
      oauth().access({ ...creds, grant_type: 'refresh_token', refresh_token: install.refresh_token! }),
    );
    expect(stale).toBeInstanceOf(WebAPIPlatformError);
    expect(stale.data).toMatchObject({ ok: false, error: 'invalid_refresh_token' });
    expect(fake.refreshCount).toBe(1);
    expect(fake.refreshAttempts).toBe(2);

    expect((await client(refreshed.access_token).auth.test()).ok).toBe(true);
    const again = await oauth().access({
      ...creds,
      grant_type: 'refresh_token',
      refresh_token: refreshed.refresh_token!,
    });
    expect(again.ok).toBe(true);
    expect(fake.refreshCount).toBe(2);
  });

  it('expired access tokens answer token_expired on any method; a refresh fixes it', async () => {
    fake.setTokenLifetime(60);
    const install = await oauth().access({ ...creds, code: fake.issueCode({ scopes: ['chat:write', 'users:read'] }) });
    expect(install.expires_in).toBe(60);
    fake.advanceTime(61);
    const c = client(install.access_token);
    for (const call of [
      () => c.auth.test(),
      () => c.users.list({}),
      () => c.chat.postMessage({ channel: GENERAL, text: 'x' }),
    ]) {
      expect((await rejection(call())).data).toMatchObject({ ok: false, error: 'token_expired' });
    }
    const refreshed = await oauth().access({
      ...creds,
      grant_type: 'refresh_token',
      refresh_token: install.refresh_token!,
    });
    expect((await client(refreshed.access_token).chat.postMessage({ channel: GENERAL, text: 'x' })).ok).toBe(true);

    fake.expireToken(refreshed.access_token!);
    expect((await rejection(client(refreshed.access_token).auth.test())).data.error).toBe('token_expired');
  });

  it('failRefreshes forces refresh errors without consuming the refresh token', async () => {
    const install = await oauth().access({ ...creds, code: fake.issueCode({ scopes: ['chat:write'] }) });
    fake.failRefreshes();
    const args = { ...creds, grant_type: 'refresh_token' as const, refresh_token: install.refresh_token! };
    expect((await rejection(oauth().access(args))).data.error).toBe('invalid_refresh_token');
    fake.failRefreshes('invalid_client_id', { times: 1 });
    expect((await rejection(oauth().access(args))).data.error).toBe('invalid_client_id');
    expect((await oauth().access(args)).ok).toBe(true);
  });

  it('rotation off: plain xoxb token, no refresh token; user scopes give authed_user tokens', async () => {
    fake.registerApp({ clientId: '5555.6666', clientSecret: 'static-secret', rotation: false });
    const code = fake.issueCode({
      clientId: '5555.6666',
      scopes: ['chat:write'],
      userScopes: ['search:read'],
      teamId: 'T0OTHER0001',
    });
    const res = await oauth().access({ client_id: '5555.6666', client_secret: 'static-secret', code });
    expect(res.access_token).toMatch(/^xoxb-\d+-\d+-[A-Za-z0-9]{24}$/);
    expect(res.refresh_token).toBeUndefined();
    expect(res.expires_in).toBeUndefined();
    expect(res.team?.id).toBe('T0OTHER0001');
    expect(res.authed_user).toMatchObject({ id: 'U0FAKEADA01', scope: 'search:read', token_type: 'user' });
    expect(res.authed_user?.access_token).toMatch(/^xoxp-/);
    expect((await client(res.access_token).auth.test()).team_id).toBe('T0OTHER0001');
    // a code of another app is invalid here
    const other = fake.issueCode({ scopes: ['chat:write'] });
    expect(
      (await rejection(oauth().access({ client_id: '5555.6666', client_secret: 'static-secret', code: other }))).data
        .error,
    ).toBe('invalid_code');
  });

  it('GET /oauth/v2/authorize redirects with code and state; the code exchanges', async () => {
    const redirect = 'https://app.example/oauth/callback?x=1';
    const qs = new URLSearchParams({
      client_id: SLACK_FAKE_CLIENT_ID,
      scope: 'chat:write,channels:read',
      redirect_uri: redirect,
      state: 's-123',
    });
    const res = await fetch(`${fake.url}/oauth/v2/authorize?${qs}`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe('https://app.example/oauth/callback');
    expect(location.searchParams.get('x')).toBe('1');
    expect(location.searchParams.get('state')).toBe('s-123');
    const code = location.searchParams.get('code')!;
    expect(code).toBeTruthy();
    const tokens = await oauth().access({ ...creds, code, redirect_uri: redirect });
    expect(tokens.scope).toBe('chat:write,channels:read');
  });

  it('denyNextAuthorize redirects with error=access_denied; unknown client shows an error page', async () => {
    fake.denyNextAuthorize();
    const qs = new URLSearchParams({
      client_id: SLACK_FAKE_CLIENT_ID,
      scope: 'chat:write',
      redirect_uri: 'https://app.example/cb',
      state: 'abc',
    });
    const denied = await fetch(`${fake.url}/oauth/v2/authorize?${qs}`, { redirect: 'manual' });
    expect(denied.status).toBe(302);
    expect(denied.headers.get('location')).toBe('https://app.example/cb?error=access_denied&state=abc');
    const ok = await fetch(`${fake.url}/oauth/v2/authorize?${qs}`, { redirect: 'manual' });
    expect(new URL(ok.headers.get('location')!).searchParams.get('code')).toBeTruthy();
    qs.set('client_id', 'unknown');
    const bad = await fetch(`${fake.url}/oauth/v2/authorize?${qs}`, { redirect: 'manual' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('invalid_client_id');
  });
});

describe('raw wire rules: JSON vs form', () => {
  it('JSON works on write methods with the token in the header', async () => {
    const res = await api('chat.postMessage', {
      headers: { ...bearer(), ...JSON_CT },
      body: JSON.stringify({ channel: GENERAL, text: 'json!', blocks: [{ type: 'divider' }] }),
    });
    expect(res.json).toMatchObject({
      ok: true,
      channel: GENERAL,
      message: { text: 'json!', blocks: [{ type: 'divider' }] },
    });
    const react = await api('reactions.add', {
      headers: { ...bearer(), ...JSON_CT },
      body: JSON.stringify({ channel: GENERAL, timestamp: res.json.ts, name: 'tada' }),
    });
    expect(react.json).toEqual({ ok: true });
    expect((await api('auth.test', { headers: { ...bearer(), ...JSON_CT }, body: '{}' })).json.ok).toBe(true);
  });

  it('a token inside a JSON body is not read → not_authed', async () => {
    const res = await api('chat.postMessage', {
      headers: JSON_CT,
      body: JSON.stringify({ token: SLACK_FAKE_BOT_TOKEN, channel: GENERAL, text: 'x' }),
    });
    expect(res.json).toEqual({ ok: false, error: 'not_authed' });
    expect(fake.postedMessages).toHaveLength(0);
  });

  it('JSON on read methods: the body is not read (replies → channel_not_found, list → defaults)', async () => {
    const replies = await api('conversations.replies', {
      headers: { ...bearer(), ...JSON_CT },
      body: JSON.stringify({ channel: GENERAL, ts: THREAD }),
    });
    expect(replies.status).toBe(200);
    expect(replies.json).toEqual({ ok: false, error: 'channel_not_found' });
    expect(fake.calls[0]).toMatchObject({ bodyKind: 'json-ignored', args: {} });
    const list = await api('conversations.list', {
      headers: { ...bearer(), ...JSON_CT },
      body: JSON.stringify({ limit: 1, types: 'im' }),
    });
    expect(list.json.channels).toHaveLength(4); // default types and limit
    expect(list.json.response_metadata.next_cursor).toBe('');
  });

  it('form and query args work for every method (GET too)', async () => {
    const get = await api('conversations.replies', {
      httpMethod: 'GET',
      headers: bearer(),
      query: { channel: GENERAL, ts: THREAD, limit: '1' },
    });
    expect(get.json).toMatchObject({ ok: true, has_more: true, messages: [{ ts: THREAD }] });
    const mixed = await api('users.list', {
      headers: { ...bearer(), ...FORM },
      query: { limit: '2' },
      body: form({ include_locale: 'true' }),
    });
    expect(mixed.json.members).toHaveLength(2);
    expect(mixed.json.members[0].locale).toBe('en-US');
    const blocks = JSON.stringify([{ type: 'header', text: { type: 'plain_text', text: 'Hi' } }]);
    const post = await api('chat.postMessage', {
      headers: { ...bearer(), ...FORM },
      body: form({ channel: GENERAL, blocks }),
    });
    expect(post.json.message.blocks).toEqual(JSON.parse(blocks));
    const broken = await api('chat.postMessage', {
      headers: { ...bearer(), ...FORM },
      body: form({ channel: GENERAL, blocks: '[{' }),
    });
    expect(broken.json.error).toBe('invalid_blocks_format');
  });

  it('multipart/form-data bodies are read too (token as a field works)', async () => {
    const body = new FormData();
    body.set('token', SLACK_FAKE_BOT_TOKEN);
    body.set('channel', GENERAL);
    body.set('text', 'multipart');
    const res = await fetch(`${fake.url}/api/chat.postMessage`, { method: 'POST', body });
    expect(await res.json()).toMatchObject({ ok: true, message: { text: 'multipart' } });
    expect(fake.calls[0]).toMatchObject({ bodyKind: 'multipart', tokenSource: 'form' });
  });

  it('a charset on a form body is a superfluous_charset warning, not an error', async () => {
    const res = await api('auth.test', {
      headers: { ...bearer(), 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: form({ a: '1' }),
    });
    expect(res.json).toMatchObject({
      ok: true,
      warning: 'superfluous_charset',
      response_metadata: { warnings: ['superfluous_charset'] },
    });
  });

  it('bad content types: invalid_post_type, missing_post_type; unknown_method; bad JSON', async () => {
    expect(
      (await api('auth.test', { headers: { ...bearer(), 'content-type': 'text/xml' }, body: '<a/>' })).json.error,
    ).toBe('invalid_post_type');
    expect((await api('auth.test', { headers: bearer(), body: new TextEncoder().encode('a=1') })).json.error).toBe(
      'missing_post_type',
    );
    const unknown = await api('chat.nope', { headers: bearer() });
    expect(unknown).toMatchObject({ status: 200, json: { ok: false, error: 'unknown_method' } });
    expect((await api('chat.postMessage', { headers: { ...bearer(), ...JSON_CT }, body: '{"channel":' })).json.ok).toBe(
      false,
    );
    expect((await fetch(`${fake.url}/not-api`)).status).toBe(404);
  });

  it('records requests and parsed calls; reset restores the seeds', async () => {
    await api('chat.postMessage', { headers: { ...bearer(), ...FORM }, body: form({ channel: GENERAL, text: 'rec' }) });
    expect(fake.requests[0]).toMatchObject({
      method: 'POST',
      path: '/api/chat.postMessage',
      form: { channel: GENERAL, text: 'rec' },
    });
    expect(fake.calls[0]).toMatchObject({
      method: 'chat.postMessage',
      args: { channel: GENERAL, text: 'rec' },
      token: SLACK_FAKE_BOT_TOKEN,
      status: 200,
    });
    fake.channels = [];
    fake.revokeToken(SLACK_FAKE_BOT_TOKEN);
    fake.reset();
    expect(fake.requests).toHaveLength(0);
    expect(fake.postedMessages).toHaveLength(0);
    expect(fake.channels.length).toBeGreaterThan(0);
    expect((await client().auth.test()).ok).toBe(true);
  });
});
