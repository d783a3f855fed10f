import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  GMAIL_FAKE_MESSAGES,
  GMAIL_SCOPES,
  GOOGLE_FAKE_ACCESS_TOKEN,
  GOOGLE_FAKE_SEND_ONLY_TOKEN,
  GOOGLE_FAKE_USER,
  type GoogleFake,
  startGoogleFake,
} from '../fakes/google/google-fake.ts';
import { decodeWords, header, parseMime } from '../fakes/google/mime.ts';
import { expectPublishedShape, type Mode, publishedOutputSchemas, runAction } from '../support/actions.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';

/**
 * Every Gmail action through HTTP → queue → worker → the Google fake, sync and async, with the
 * wire checked on the fake's side: the Bearer header, the query string, and the RFC 5322 message
 * inside `raw` decoded with the fake's own MIME reader. Gmail does not dedupe sends, so a send
 * that may have run is never repeated.
 */
describe('Gmail connector end to end (access token)', () => {
  let fake: GoogleFake;
  let engine: Engine;
  let admin: ApiClient;
  let client: ApiClient;
  let outputSchemas: Map<string, z.ZodType>;

  beforeAll(async () => {
    fake = await startGoogleFake();
    engine = await startEngine({ env: { GMAIL_API_URL: fake.url } });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    const setup = await setUpProject(admin, {
      connectorId: 'gmail',
      credentials: { accessToken: GOOGLE_FAKE_ACCESS_TOKEN },
    });
    expect(setup.connectionStatus).toBe('active');
    client = apiClient(engine.baseUrl, setup.projectKey);
    const catalog = await apiClient(engine.baseUrl).get('/v1/connectors/gmail');
    expect(catalog.body).toMatchObject({
      authType: 'oauth2',
      authFields: [
        { key: 'accessToken', secret: true, required: true },
        { key: 'refreshToken', secret: true, required: false },
      ],
    });
    outputSchemas = await publishedOutputSchemas(engine.baseUrl, 'gmail');
  }, 90_000);
  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
  });
  beforeEach(() => fake.reset());

  /** Runs an action sync or async and returns its output, checked against the published schema. */
  async function run(mode: Mode, actionId: string, input: unknown, as = client): Promise<any> {
    const { output } = await runAction(as, mode, { connectorId: 'gmail', actionId, input });
    expectPublishedShape(outputSchemas, actionId, output);
    return output;
  }
  const requestsTo = (path: string) => fake.requests.filter((r) => r.path === path);
  const SEND = '/gmail/v1/users/me/messages/send';

  describe.each(['sync', 'async'] as const)('%s', (mode) => {
    it('sendEmail builds the RFC 5322 message: encoded non-ASCII headers, multipart/alternative, base64url raw', async () => {
      const subject = 'Réunion d’équipe — les résultats du trimestre sont arrivés, et ils sont très bons 🎉';
      const output = await run(mode, 'sendEmail', {
        from: 'Zoë Lovelace <ada.lovelace@example.com>',
        to: ['Grace Hopper <grace@example.com>', 'linus@example.org'],
        cc: '"Torvalds, Linus" <linus.cc@example.org>',
        bcc: 'audit@example.com',
        replyTo: 'Support <support@example.com>',
        subject,
        text: 'Plain: 3 résultats\nSecond line',
        html: '<p>HTML: 3 <b>résultats</b></p>',
      });

      const [request] = requestsTo(SEND);
      expect(requestsTo(SEND)).toHaveLength(1);
      expect(request!.method).toBe('POST');
      expect(request!.headers.authorization).toBe(`Bearer ${GOOGLE_FAKE_ACCESS_TOKEN}`);
      expect(request!.headers['content-type']).toMatch(/^application\/json/);
      const body = request!.json as { raw: string };
      expect(Object.keys(body)).toEqual(['raw']);
      expect(body.raw).toMatch(/^[A-Za-z0-9_-]+$/); // base64url, unpadded

      const rawText = Buffer.from(body.raw, 'base64url').toString('latin1');
      expect(rawText).not.toMatch(/[\x80-\xff]/); // 7-bit: every non-ASCII byte (latin1: one char each) is encoded
      expect(rawText.replace(/\r\n/g, '')).not.toContain('\n'); // CRLF line ends only
      for (const line of rawText.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);

      const mime = parseMime(Buffer.from(body.raw, 'base64url'));
      const decoded = (name: string) => decodeWords(header(mime, name) ?? '');
      expect(decoded('From')).toBe('Zoë Lovelace <ada.lovelace@example.com>');
      expect(decoded('To')).toBe('Grace Hopper <grace@example.com>, linus@example.org');
      expect(decoded('Cc')).toBe('"Torvalds, Linus" <linus.cc@example.org>');
      expect(decoded('Bcc')).toBe('audit@example.com');
      expect(decoded('Reply-To')).toBe('Support <support@example.com>');
      expect(decoded('Subject')).toBe(subject);
      expect(header(mime, 'Subject')).toMatch(/^=\?UTF-8\?B\?/);
      expect(header(mime, 'MIME-Version')).toBe('1.0');
      expect(mime.mimeType).toBe('multipart/alternative');
      expect(mime.parts.map((p) => `${p.mimeType}; ${p.params.charset}`)).toEqual([
        'text/plain; UTF-8',
        'text/html; UTF-8',
      ]);
      // Text in canonical form: CRLF line ends.
      expect(mime.parts.map((p) => p.body.toString('utf8'))).toEqual([
        'Plain: 3 résultats\r\nSecond line',
        '<p>HTML: 3 <b>résultats</b></p>',
      ]);
      expect(header(mime, 'In-Reply-To')).toBeUndefined();

      const sent = fake.gmail.sent[0]!;
      expect(output).toEqual({ id: sent.id, threadId: sent.threadId, labelIds: ['SENT'] });
    });

    it('sendEmail replies in a thread: threadId in the body, In-Reply-To and References in the message; text only', async () => {
      const output = await run(mode, 'sendEmail', {
        to: 'grace@example.com',
        subject: 'Re: Welcome aboard',
        text: 'Monday works for me.',
        threadId: GMAIL_FAKE_MESSAGES.welcome,
        inReplyTo: '<welcome-0004@mail.example.com>',
        references: ['<welcome-0001@mail.example.com>', '<welcome-0004@mail.example.com>'],
      });
      const body = requestsTo(SEND)[0]!.json as { raw: string; threadId: string };
      expect(body.threadId).toBe(GMAIL_FAKE_MESSAGES.welcome);
      const mime = parseMime(Buffer.from(body.raw, 'base64url'));
      expect(header(mime, 'From')).toBeUndefined(); // Gmail writes the account's address
      expect(header(mime, 'Subject')).toBe('Re: Welcome aboard');
      expect(header(mime, 'In-Reply-To')).toBe('<welcome-0004@mail.example.com>');
      expect(header(mime, 'References')).toBe('<welcome-0001@mail.example.com> <welcome-0004@mail.example.com>');
      expect(mime.mimeType).toBe('text/plain');
      expect(mime.body.toString('utf8')).toBe('Monday works for me.');
      expect(output).toEqual({ id: fake.gmail.sent[0]!.id, threadId: GMAIL_FAKE_MESSAGES.welcome, labelIds: ['SENT'] });
    });

    it('listMessages sends q, repeated labelIds and maxResults, and pages with nextCursor (null on the last page)', async () => {
      const first = await run(mode, 'listMessages', {
        query: 'from:grace@example.com',
        labelIds: ['INBOX', 'CATEGORY_PERSONAL'],
        limit: 1,
      });
      const request = requestsTo('/gmail/v1/users/me/messages')[0]!;
      expect(request.method).toBe('GET');
      expect(request.headers.authorization).toBe(`Bearer ${GOOGLE_FAKE_ACCESS_TOKEN}`);
      expect(request.rawQuery).toBe(
        'q=from%3Agrace%40example.com&labelIds=INBOX&labelIds=CATEGORY_PERSONAL&maxResults=1',
      );
      expect(first).toEqual({
        messages: [{ id: GMAIL_FAKE_MESSAGES.welcome, threadId: GMAIL_FAKE_MESSAGES.welcome }],
        nextCursor: null,
        resultSizeEstimate: 1,
      });

      const page1 = await run(mode, 'listMessages', { labelIds: ['INBOX'], limit: 3 });
      expect(page1.messages.map((m: { id: string }) => m.id)).toEqual([
        GMAIL_FAKE_MESSAGES.thread,
        GMAIL_FAKE_MESSAGES.unicode,
        GMAIL_FAKE_MESSAGES.invoice,
      ]);
      expect(page1.nextCursor).toEqual(expect.any(String));
      const page2 = await run(mode, 'listMessages', { labelIds: ['INBOX'], limit: 3, cursor: page1.nextCursor });
      expect(new URLSearchParams(requestsTo('/gmail/v1/users/me/messages').at(-1)!.rawQuery).get('pageToken')).toBe(
        page1.nextCursor,
      );
      expect(page2).toEqual({
        messages: [{ id: GMAIL_FAKE_MESSAGES.welcome, threadId: GMAIL_FAKE_MESSAGES.welcome }],
        nextCursor: null,
        resultSizeEstimate: 4,
      });

      // An empty result has no `messages` on the wire: the output still has the list.
      expect(await run(mode, 'listMessages', { query: 'no-message-says-this' })).toEqual({
        messages: [],
        nextCursor: null,
        resultSizeEstimate: 0,
      });
      expect(new URLSearchParams(requestsTo('/gmail/v1/users/me/messages').at(-1)!.rawQuery).get('maxResults')).toBe(
        '100',
      );
    });

    it('getMessage reads format=full and decodes headers (RFC 2047) and bodies (base64url, quoted-printable, ISO-8859-1)', async () => {
      const unicode = await run(mode, 'getMessage', { id: GMAIL_FAKE_MESSAGES.unicode });
      const request = requestsTo(`/gmail/v1/users/me/messages/${GMAIL_FAKE_MESSAGES.unicode}`)[0]!;
      expect(request.method).toBe('GET');
      expect(request.rawQuery).toBe('format=full');
      expect(request.headers.authorization).toBe(`Bearer ${GOOGLE_FAKE_ACCESS_TOKEN}`);
      expect(unicode).toEqual({
        id: GMAIL_FAKE_MESSAGES.unicode,
        threadId: GMAIL_FAKE_MESSAGES.unicode,
        labelIds: ['INBOX', 'UNREAD'],
        snippet: 'Réunion jeudi à 10h, café offert.',
        historyId: expect.any(String),
        internalDate: '2024-05-03T09:30:00.000Z',
        sizeEstimate: expect.any(Number),
        headers: {
          from: 'Zoë Ångström <zoe@example.se>',
          to: GOOGLE_FAKE_USER,
          cc: null,
          replyTo: null,
          subject: 'Réunion de l’équipe — jeudi',
          date: 'Fri, 3 May 2024 09:30:00 +0000',
          messageId: '<unicode-0003@example.se>',
        },
        text: 'Réunion jeudi à 10h, café offert.\r\n',
        html: null,
      });

      const welcome = await run(mode, 'getMessage', { id: GMAIL_FAKE_MESSAGES.welcome });
      expect(welcome).toMatchObject({
        text: "Hi Ada, it's great to have you on the team!",
        html: "<p>Hi Ada, it's great to have you on the <b>team</b>!</p>",
        snippet: 'Hi Ada, it&#39;s great to have you on the team!',
      });
      expect(welcome.headers).toMatchObject({
        from: 'Grace Hopper <grace@example.com>',
        to: `Ada Lovelace <${GOOGLE_FAKE_USER}>`,
        subject: 'Welcome aboard',
      });

      // A PDF attachment next to the text is left out of the bodies.
      const invoice = await run(mode, 'getMessage', { id: GMAIL_FAKE_MESSAGES.invoice });
      expect(invoice).toMatchObject({
        text: 'Your invoice for May is attached. Total: $42.00 EUR.',
        html: null,
        headers: { cc: 'accounts@example.com' },
      });
    });
  });

  it('the message it sends reads back through getMessage with the same headers and bodies', async () => {
    const sent = await run('sync', 'sendEmail', {
      to: 'Ærøskøbing Ferry <ferry@example.dk>',
      subject: 'Sejltider – sommer',
      text: 'Afgang 09:05',
      html: '<b>Afgang</b> 09:05',
    });
    const read = await run('sync', 'getMessage', { id: sent.id });
    expect(read).toMatchObject({
      id: sent.id,
      labelIds: ['SENT'],
      text: 'Afgang 09:05',
      html: '<b>Afgang</b> 09:05',
      headers: { from: GOOGLE_FAKE_USER, to: 'Ærøskøbing Ferry <ferry@example.dk>', subject: 'Sejltider – sommer' },
    });
  });

  it('never repeats a send after a 5xx or a dropped connection (Gmail does not dedupe), and retries one Google refused with 429', async () => {
    const input = { to: 'grace@example.com', subject: 'once', text: 'only once' };
    fake.failNext(1, 503);
    const failed = await client.post('/v1/executions', { connectorId: 'gmail', actionId: 'sendEmail', input });
    expect(failed.status).toBe(502);
    expect(failed.body.error).toMatchObject({ code: 'upstream_error', details: { status: 503, code: 'UNAVAILABLE' } });
    expect(requestsTo(SEND)).toHaveLength(1);
    expect((await client.get(`/v1/invocations/${failed.body.invocationId}`)).body).toMatchObject({
      status: 'failed',
      attempts: 1,
    });

    fake.dropNextConnections(1, { afterProcessing: true });
    const dropped = await client.post('/v1/executions', { connectorId: 'gmail', actionId: 'sendEmail', input });
    expect(dropped.status).toBe(502);
    expect(requestsTo(SEND)).toHaveLength(2);
    expect(fake.gmail.sent).toHaveLength(1); // it did send: the answer was lost, and it was not sent twice

    fake.rateLimitNext(1, { api: 'gmail', retryAfterSeconds: 1 });
    const limited = await client.post('/v1/executions', { connectorId: 'gmail', actionId: 'sendEmail', input });
    expect(limited.status).toBe(200);
    expect(requestsTo(SEND)).toHaveLength(4);
    expect(fake.gmail.sent).toHaveLength(2);
    expect((await client.get(`/v1/invocations/${limited.body.invocationId}`)).body.attempts).toBe(2);
  });

  it("retries a read after a 503 and after Gmail's 403 rateLimitExceeded", async () => {
    fake.failNext(1, 503);
    const afterOutage = await client.post('/v1/executions', {
      connectorId: 'gmail',
      actionId: 'listMessages',
      input: {},
    });
    expect(afterOutage.status).toBe(200);
    fake.rateLimitNext(1, { api: 'gmail', shape: 403 });
    const afterLimit = await client.post('/v1/executions', {
      connectorId: 'gmail',
      actionId: 'getMessage',
      input: { id: GMAIL_FAKE_MESSAGES.welcome },
    });
    expect(afterLimit.status).toBe(200);
    expect((await client.get(`/v1/invocations/${afterLimit.body.invocationId}`)).body.attempts).toBe(2);
    expect(requestsTo('/gmail/v1/users/me/messages')).toHaveLength(2);
  });

  it('keeps a send-only connection active: it sends, and a read is a 403 for the caller, not a broken connection', async () => {
    const setup = await setUpProject(admin, {
      connectorId: 'gmail',
      credentials: { accessToken: GOOGLE_FAKE_SEND_ONLY_TOKEN },
    });
    expect(setup.connectionStatus).toBe('active'); // the profile probe's 403 proves the token authenticates
    const sendOnly = apiClient(engine.baseUrl, setup.projectKey);
    expect(
      (
        await sendOnly.post('/v1/executions', {
          connectorId: 'gmail',
          actionId: 'sendEmail',
          input: { to: 'a@example.com', subject: 's', text: 't' },
        })
      ).status,
    ).toBe(200);
    const read = await sendOnly.post('/v1/executions', { connectorId: 'gmail', actionId: 'listMessages', input: {} });
    expect(read.status).toBe(502);
    expect(read.body.error).toMatchObject({
      code: 'upstream_error',
      details: {
        status: 403,
        code: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT',
        message: 'Request had insufficient authentication scopes.',
      },
    });
    expect((await admin.get(`/v1/connections/${setup.connectionId}`)).body.status).toBe('active');
  });

  it('breaks a connection whose access token Google stops accepting when there is no refresh token', async () => {
    const token = 'ya29.fake-soon-invalid-e4e4e4e4e4e4e4e4e4e4e4';
    fake.addAccessToken(token, { scopes: [GMAIL_SCOPES.readonly] });
    const setup = await setUpProject(admin, { connectorId: 'gmail', credentials: { accessToken: token } });
    expect(setup.connectionStatus).toBe('active');
    fake.invalidateAccessToken(token);
    const res = await apiClient(engine.baseUrl, setup.projectKey).post('/v1/executions', {
      connectorId: 'gmail',
      actionId: 'listMessages',
      input: {},
    });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({
      code: 'connection_broken',
      details: { status: 401, code: 'UNAUTHENTICATED' },
    });
    expect((await admin.get(`/v1/connections/${setup.connectionId}`)).body).toMatchObject({
      status: 'broken',
      statusReason: expect.stringContaining('invalid authentication credentials'),
    });
  });

  it('answers 400 invalid_input, before calling Gmail, for a bad address, a header injection, no body or no recipient', async () => {
    const bad = async (input: Record<string, unknown>, path: string) => {
      const res = await client.post('/v1/executions', { connectorId: 'gmail', actionId: 'sendEmail', input });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_input');
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(`input.${path}`);
      return res.body.error.details as { path: string; message: string }[];
    };
    const base = { to: 'grace@example.com', subject: 's', text: 't' };
    expect((await bad({ ...base, to: 'not an address' }, 'to'))[0]!.message).toMatch(/name@example\.com/);
    await bad({ ...base, to: ['ok@example.com', 'Grace <grace@exa mple.com>'] }, 'to[1]');
    await bad({ ...base, to: 'grace@example.com\r\nBcc: victim@example.com' }, 'to');
    await bad({ ...base, subject: 'hi\r\nBcc: victim@example.com' }, 'subject');
    await bad({ ...base, to: 'müller@example.de' }, 'to'); // a non-ASCII address needs SMTPUTF8
    await bad({ to: 'grace@example.com', subject: 's' }, 'text');
    await bad({ subject: 's', text: 't' }, 'to');
    await bad({ ...base, inReplyTo: 'no-angle-brackets@example.com' }, 'inReplyTo');
    const list = await client.post('/v1/executions', {
      connectorId: 'gmail',
      actionId: 'listMessages',
      input: { limit: 501 },
    });
    expect(list.status).toBe(400);
    expect(fake.requests).toHaveLength(0);
  });

  it('never shows the access token in an answer or a log line', async () => {
    await run('sync', 'listMessages', {});
    const connections = await admin.get('/v1/connections?connectorId=gmail');
    expect(JSON.stringify(connections.body)).not.toContain(GOOGLE_FAKE_ACCESS_TOKEN);
    expect(engine.logs()).not.toContain(GOOGLE_FAKE_ACCESS_TOKEN);
  });
});
