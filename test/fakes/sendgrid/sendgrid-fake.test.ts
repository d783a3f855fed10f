// Checks the SendGrid fake with the OFFICIAL clients as its callers: @sendgrid/mail for sends and
// @sendgrid/client for everything else. The client sends `Authorization: Bearer <key>` and JSON,
// resolves with [Response, body] for a 2xx, and rejects any status >= 400 with a ResponseError
// carrying `code` (the status) and `response.{headers, body}`. `setApiKey` resets the base URL to
// api.sendgrid.com, so the fake's URL is set after it.
import { Client } from '@sendgrid/client';
import { MailService } from '@sendgrid/mail';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_RATE_LIMIT,
  ORDER_CONFIRMATION_TEMPLATE_ID,
  SENDGRID_FAKE_KEY,
  SENDGRID_FAKE_MAIL_ONLY_KEY,
  SENDGRID_FAKE_READ_ONLY_KEY,
  type SendGridFake,
  startSendGridFake,
} from './sendgrid-fake.ts';

let fake: SendGridFake;

beforeAll(async () => {
  fake = await startSendGridFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

function client(key = SENDGRID_FAKE_KEY): Client {
  const c = new Client();
  c.setApiKey(key);
  c.setDefaultRequest('baseUrl', fake.url);
  return c;
}

function mailer(key = SENDGRID_FAKE_KEY): MailService {
  const m = new MailService();
  m.setClient(client(key));
  return m;
}

/** What a rejected call of the official client gave: its ResponseError's status, body and headers. */
async function failure(
  call: Promise<unknown>,
): Promise<{ name: string; code: number; body: any; headers: Record<string, string> }> {
  try {
    await call;
  } catch (err) {
    const e = err as {
      constructor: { name: string };
      code: number;
      response: { body: unknown; headers: Record<string, string> };
    };
    return { name: e.constructor.name, code: e.code, body: e.response?.body, headers: e.response?.headers };
  }
  throw new Error('the call succeeded');
}

const mailSend = (body: unknown, key?: string) => client(key).request({ method: 'POST', url: '/v3/mail/send', body });
const validMail = {
  personalizations: [{ to: [{ email: 'ada@example.com' }] }],
  from: { email: 'orders@example.com' },
  subject: 'Hello',
  content: [{ type: 'text/plain', value: 'Hi' }],
};

describe('POST /v3/mail/send', () => {
  it('accepts a send from @sendgrid/mail with 202, an empty body and X-Message-Id', async () => {
    const [response] = await mailer().send({
      to: { email: 'ada@example.com', name: 'Ada' },
      cc: 'grace@example.com',
      from: { email: 'orders@example.com', name: 'Shop' },
      replyTo: 'help@example.com',
      subject: 'Your order',
      text: 'Thanks!',
      html: '<p>Thanks!</p>',
      categories: ['orders'],
      customArgs: { orderId: '1001' },
    });
    expect(response.statusCode).toBe(202);
    expect(response.body).toBe('');
    expect(fake.sentMessages).toHaveLength(1);
    expect(response.headers['x-message-id']).toBe(fake.sentMessages[0]!.messageId);
    expect(fake.sentMessages[0]!.messageId).toMatch(/^[A-Za-z0-9_-]{22}$/);

    const req = fake.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.headers.authorization).toBe(`Bearer ${SENDGRID_FAKE_KEY}`);
    expect(req.headers['content-type']).toMatch(/^application\/json/);
    expect(req.headers['user-agent']).toMatch(/^sendgrid\/[\d.]+;nodejs$/);
    expect(req.json).toMatchObject({
      personalizations: [{ to: [{ email: 'ada@example.com', name: 'Ada' }], cc: [{ email: 'grace@example.com' }] }],
      from: { email: 'orders@example.com', name: 'Shop' },
      reply_to: { email: 'help@example.com' },
      subject: 'Your order',
      content: [
        { type: 'text/plain', value: 'Thanks!' },
        { type: 'text/html', value: '<p>Thanks!</p>' },
      ],
      categories: ['orders'],
      custom_args: { orderId: '1001' },
    });
  });

  it('accepts a dynamic template without subject or content', async () => {
    const [response] = await mailer().send({
      to: 'ada@example.com',
      from: 'orders@example.com',
      templateId: ORDER_CONFIRMATION_TEMPLATE_ID,
      dynamicTemplateData: { firstName: 'Ada', orderId: '1001' },
    });
    expect(response.statusCode).toBe(202);
    expect(fake.sentMessages[0]!.body).toMatchObject({
      template_id: ORDER_CONFIRMATION_TEMPLATE_ID,
      personalizations: [
        { to: [{ email: 'ada@example.com' }], dynamic_template_data: { firstName: 'Ada', orderId: '1001' } },
      ],
    });
  });

  it('sends the rate-limit headers on every answer, the reset in epoch seconds', async () => {
    const [ok] = await mailSend(validMail);
    expect(ok.headers['x-ratelimit-limit']).toBe(String(DEFAULT_RATE_LIMIT));
    expect(ok.headers['x-ratelimit-remaining']).toBe(String(DEFAULT_RATE_LIMIT - 1));
    const reset = Number(ok.headers['x-ratelimit-reset']);
    const now = Date.now() / 1000;
    expect(reset).toBeGreaterThan(now);
    expect(reset).toBeLessThanOrEqual(now + 61);
    const bad = await failure(mailSend(validMail, 'SG.unknown0000000000000.unknownSecret'));
    expect(bad.headers['x-ratelimit-reset']).toBeDefined();
  });

  it('answers 400 with one error per problem, each naming its field', async () => {
    const res = await failure(
      mailSend({
        personalizations: [{ to: [{ email: 'not-an-address' }] }],
        content: [{ type: 'text/plain', value: 'Hi' }],
      }),
    );
    expect(res).toMatchObject({ name: 'ResponseError', code: 400 });
    const fields = res.body.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['from', 'subject', 'personalizations.0.to.0.email']));
    for (const e of res.body.errors) expect(e.message).toEqual(expect.any(String));
    expect(fake.sentMessages).toHaveLength(0);
  });

  it('needs at least one personalization, content unless a template, and a from', async () => {
    const none = await failure(mailSend({ ...validMail, personalizations: [] }));
    expect(none.body.errors.map((e: { field: string }) => e.field)).toEqual(['personalizations']);
    const noContent = await failure(mailSend({ ...validMail, content: undefined }));
    expect(noContent.body.errors.map((e: { field: string }) => e.field)).toEqual(['content']);
  });

  it('refuses more than 1000 recipients in all, and an address twice', async () => {
    const many = (n: number, prefix: string) =>
      Array.from({ length: n }, (_, i) => ({ email: `${prefix}${i}@example.org` }));
    const tooMany = await failure(
      mailSend({
        ...validMail,
        personalizations: [{ to: many(600, 'a') }, { to: many(300, 'b'), bcc: many(101, 'c') }],
      }),
    );
    expect(tooMany.code).toBe(400);
    expect(tooMany.body.errors.map((e: { field: string }) => e.field)).toEqual(['personalizations']);
    const twice = await failure(
      mailSend({
        ...validMail,
        personalizations: [
          { to: [{ email: 'ada@example.com' }] },
          { to: [{ email: 'grace@example.com' }], cc: [{ email: 'ADA@example.com' }] },
        ],
      }),
    );
    expect(twice.code).toBe(400);
    expect(twice.body.errors[0].field).toBe('personalizations.1.cc');
  });

  it('refuses a send_at more than 72 hours ahead', async () => {
    const now = Math.floor(Date.now() / 1000);
    const [ok] = await mailSend({ ...validMail, send_at: now + 71 * 3600 });
    expect(ok.statusCode).toBe(202);
    const late = await failure(mailSend({ ...validMail, send_at: now + 73 * 3600 }));
    expect(late.code).toBe(400);
    expect(late.body.errors.map((e: { field: string }) => e.field)).toEqual(['send_at']);
  });

  it('refuses more than 10 categories', async () => {
    const res = await failure(mailSend({ ...validMail, categories: Array.from({ length: 11 }, (_, i) => `c${i}`) }));
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['categories']);
  });

  it('answers 403 with field "from" for an unverified sender identity', async () => {
    const res = await failure(mailSend({ ...validMail, from: { email: 'someone@unverified.example.net' } }));
    expect(res).toMatchObject({ name: 'ResponseError', code: 403 });
    expect(res.body.errors).toEqual([
      { field: 'from', help: null, message: expect.stringContaining('verified Sender Identity') },
    ]);
    fake.verifiedSenders.push('someone@unverified.example.net');
    expect((await mailSend({ ...validMail, from: { email: 'someone@unverified.example.net' } }))[0].statusCode).toBe(
      202,
    );
  });

  it('answers 403 to a key without mail.send, and sends nothing', async () => {
    const res = await failure(
      mailer(SENDGRID_FAKE_READ_ONLY_KEY).send({
        to: 'ada@example.com',
        from: 'orders@example.com',
        subject: 'x',
        text: 'y',
      }),
    );
    expect(res).toMatchObject({
      name: 'ResponseError',
      code: 403,
      body: { errors: [{ field: null, message: 'access forbidden' }] },
    });
    expect(fake.sentMessages).toHaveLength(0);
  });
});

describe('authentication', () => {
  it('answers 401 to an unknown or revoked key', async () => {
    const unknown = await failure(mailSend(validMail, 'SG.unknown0000000000000.unknownSecret'));
    expect(unknown).toMatchObject({
      name: 'ResponseError',
      code: 401,
      body: {
        errors: [
          { field: null, message: 'The provided authorization grant is invalid, expired, or revoked', help: null },
        ],
      },
    });
    fake.revokeKey(SENDGRID_FAKE_KEY);
    expect((await failure(client().request({ method: 'GET', url: '/v3/scopes' }))).code).toBe(401);
  });

  it('answers 401 "authorization required" without a key', async () => {
    const res = await fetch(`${fake.url}/v3/scopes`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ errors: [{ field: null, message: 'authorization required' }] });
  });

  it('lists the scopes of the key (the credential test)', async () => {
    const [full, body] = await client().request({ method: 'GET', url: '/v3/scopes' });
    expect(full.statusCode).toBe(200);
    expect(body.scopes).toEqual(expect.arrayContaining(['mail.send', 'templates.read']));
    const [, mailOnly] = await client(SENDGRID_FAKE_MAIL_ONLY_KEY).request({ method: 'GET', url: '/v3/scopes' });
    expect(mailOnly).toEqual({ scopes: ['mail.send'] });
  });
});

describe('rate limits and outages', () => {
  it('a 429 reaches the client as ResponseError 429 with X-RateLimit-Reset in epoch seconds', async () => {
    const { resetAt } = fake.rateLimitNext(1, { resetInSeconds: 3 });
    const res = await failure(client().request({ method: 'GET', url: '/v3/templates', qs: { page_size: 10 } }));
    expect(res).toMatchObject({
      name: 'ResponseError',
      code: 429,
      body: { errors: [{ field: null, message: 'too many requests' }] },
    });
    expect(res.headers['x-ratelimit-remaining']).toBe('0');
    expect(Number(res.headers['x-ratelimit-reset'])).toBe(resetAt);
    expect(resetAt).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 2);
  });

  it('throttles for real past the limit of the window, per endpoint', async () => {
    fake.setRateLimit(2, 60);
    await mailSend(validMail);
    await mailSend(validMail);
    const third = await failure(mailSend(validMail));
    expect(third.code).toBe(429);
    expect(third.headers['x-ratelimit-remaining']).toBe('0');
    expect(fake.sentMessages).toHaveLength(2);
    // Another endpoint has its own window.
    expect((await client().request({ method: 'GET', url: '/v3/scopes' }))[0].statusCode).toBe(200);
  });

  it('a 500 reaches the client as ResponseError 500 with the documented body', async () => {
    fake.failNext(1, { status: 500 });
    const res = await failure(mailSend(validMail));
    expect(res).toMatchObject({
      name: 'ResponseError',
      code: 500,
      body: { errors: [{ message: 'internal server error' }] },
    });
    expect(fake.sentMessages).toHaveLength(0);
  });

  it('answers 404 and 405 in the error envelope', async () => {
    expect(await failure(client().request({ method: 'GET', url: '/v3/nothing' }))).toMatchObject({
      code: 404,
      body: { errors: [{ message: 'not found' }] },
    });
    expect(await failure(client().request({ method: 'GET', url: '/v3/mail/send' }))).toMatchObject({
      code: 405,
      body: { errors: [{ message: 'method not allowed' }] },
    });
  });
});

describe('GET /v3/templates', () => {
  const list = (qs: Record<string, unknown>, key?: string) =>
    client(key).request({ method: 'GET', url: '/v3/templates', qs });

  it('pages through dynamic templates by the page_token of _metadata.next', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const [response, body] = await list({
        generations: 'dynamic',
        page_size: 2,
        ...(token ? { page_token: token } : {}),
      });
      expect(response.statusCode).toBe(200);
      pages++;
      for (const t of body.result) {
        expect(t.generation).toBe('dynamic');
        expect(t.updated_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
        seen.push(t.id);
      }
      expect(body._metadata.count).toBe(5);
      token = body._metadata.next
        ? (new URL(body._metadata.next).searchParams.get('page_token') ?? undefined)
        : undefined;
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual(fake.templates.filter((t) => t.generation === 'dynamic').map((t) => t.id));
  });

  it('lists legacy templates by default, and both when asked', async () => {
    const [, legacy] = await list({ page_size: 50 });
    expect(legacy.result.map((t: { generation: string }) => t.generation)).toEqual(['legacy', 'legacy']);
    expect(legacy._metadata.next).toBeUndefined();
    const [, both] = await list({ page_size: 50, generations: 'legacy,dynamic' });
    expect(both.result).toHaveLength(7);
    expect(both.result[0].versions[1]).toMatchObject({
      template_id: ORDER_CONFIRMATION_TEMPLATE_ID,
      active: 1,
      editor: 'code',
    });
  });

  it('needs page_size between 1 and 200 (400 with error_id)', async () => {
    const missing = await failure(list({ generations: 'dynamic' }));
    expect(missing).toMatchObject({ name: 'ResponseError', code: 400 });
    expect(missing.body.errors[0]).toEqual({ message: expect.any(String), error_id: expect.any(String) });
    expect((await failure(list({ page_size: 201 }))).code).toBe(400);
    expect((await failure(list({ page_size: 10, generations: 'modern' }))).code).toBe(400);
  });

  it('answers 403 to a key without templates.read', async () => {
    expect(await failure(list({ page_size: 10 }, SENDGRID_FAKE_MAIL_ONLY_KEY))).toMatchObject({
      code: 403,
      body: { errors: [{ message: 'access forbidden' }] },
    });
  });
});
