// Checks the Resend fake with the official `resend` SDK as its client, so the fake
// stays compatible with what real clients parse. The SDK (v6) takes `baseUrl` as a
// constructor option (it also reads RESEND_BASE_URL at construction); errors come
// back as `{ data: null, error: { name, statusCode, message }, headers }`, not thrown.
import http from 'node:http';
import { Resend } from 'resend';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  RESEND_FAKE_FULL_KEY,
  RESEND_FAKE_SENDING_KEY,
  type ResendFake,
  startResendFake,
  toPostgresTimestamp,
} from './resend-fake.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const email = { from: 'Acme <noreply@mail.example.com>', to: 'ada@example.org', subject: 'Hello', html: '<p>Hi</p>' };

let fake: ResendFake;
const client = (key = RESEND_FAKE_FULL_KEY) => new Resend(key, { baseUrl: fake.url });

beforeAll(async () => {
  fake = await startResendFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

/** node:http instead of fetch: fetch always adds a User-Agent, and we need to omit it. */
function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${fake.url}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}
const auth = (key = RESEND_FAKE_FULL_KEY) => ({
  authorization: `Bearer ${key}`,
  'user-agent': 'test/1.0',
  'content-type': 'application/json',
});

describe('POST /emails', () => {
  it('sends and returns the id; the fake stores the email', async () => {
    const { data, error } = await client().emails.send(email);
    expect(error).toBeNull();
    expect(data?.id).toMatch(UUID);
    expect(fake.sentEmails).toHaveLength(1);
    expect(fake.sentEmails[0]).toMatchObject({
      id: data?.id,
      apiKey: RESEND_FAKE_FULL_KEY,
      endpoint: '/emails',
      body: { to: 'ada@example.org', subject: 'Hello' },
    });
    expect(fake.requests[0]?.headers['user-agent']).toMatch(/^resend-node:/);
  });

  it('answers 200 (not 201) with rate-limit headers, as JSON utf-8', async () => {
    const res = await raw('POST', '/emails', auth(), JSON.stringify(email));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['ratelimit-limit']).toBe('10');
    expect(res.headers['ratelimit-remaining']).toBe('9');
    expect(res.headers['ratelimit-reset']).toBe('1');
    expect(res.headers['ratelimit-policy']).toBe('10;w=1');
  });

  it('a sending-access key can send', async () => {
    const { data, error } = await client(RESEND_FAKE_SENDING_KEY).emails.send(email);
    expect(error).toBeNull();
    expect(data?.id).toMatch(UUID);
  });

  it('an unknown key surfaces as invalid_api_key (403, not 401)', async () => {
    const { data, error } = await client('re_unknown_key').emails.send(email);
    expect(data).toBeNull();
    expect(error).toEqual({ statusCode: 403, name: 'invalid_api_key', message: 'API key is invalid' });
    expect(fake.sentEmails).toHaveLength(0);
  });

  it('a revoked key is invalid_api_key too', async () => {
    fake.revokeKey(RESEND_FAKE_FULL_KEY);
    const { error } = await client().emails.send(email);
    expect(error?.name).toBe('invalid_api_key');
  });

  it('a missing field gives missing_required_field', async () => {
    const { error } = await client().emails.send({ ...email, to: undefined } as unknown as typeof email);
    expect(error).toEqual({ statusCode: 422, name: 'missing_required_field', message: 'Missing `to` field.' });
  });

  it('an attachment without content or path gives invalid_attachment', async () => {
    const { error } = await client().emails.send({ ...email, attachments: [{ filename: 'a.txt' }] });
    expect(error).toMatchObject({ statusCode: 422, name: 'invalid_attachment' });
  });

  it('more than 50 recipients is a validation error', async () => {
    const to = Array.from({ length: 51 }, (_, i) => `u${i}@example.org`);
    const { error } = await client().emails.send({ ...email, to });
    expect(error).toMatchObject({ statusCode: 422, name: 'validation_error' });
  });
});

describe('POST /emails/batch', () => {
  it('sends a batch and returns ids in order', async () => {
    const { data, error } = await client().batch.send([email, { ...email, to: ['bob@example.org'] }]);
    expect(error).toBeNull();
    expect(data?.data).toHaveLength(2);
    expect(data?.data.map((d) => d.id)).toEqual(fake.sentEmails.map((e) => e.id));
    expect(fake.requests[0]?.headers['x-batch-validation']).toBe('strict'); // the SDK always sends it
  });

  it('strict mode rejects the whole batch with the first error', async () => {
    const { error } = await client().batch.send([email, { ...email, subject: undefined } as unknown as typeof email]);
    expect(error).toEqual({ statusCode: 422, name: 'missing_required_field', message: 'Missing `subject` field.' });
    expect(fake.sentEmails).toHaveLength(0);
  });

  it('permissive mode sends the valid ones and lists the invalid by index', async () => {
    const { data, error } = await client().batch.send(
      [email, { ...email, to: undefined } as unknown as typeof email, email],
      { batchValidation: 'permissive' },
    );
    expect(error).toBeNull();
    expect(data?.data).toHaveLength(2);
    expect(data?.errors).toEqual([{ index: 1, message: 'The `to` field is missing.' }]);
    expect(fake.sentEmails).toHaveLength(2);
  });

  it('rejects more than 100 emails, and attachments', async () => {
    const tooMany = await client().batch.send(Array.from({ length: 101 }, () => email));
    expect(tooMany.error).toMatchObject({ statusCode: 422, name: 'validation_error' });
    const res = await raw(
      'POST',
      '/emails/batch',
      auth(),
      JSON.stringify([{ ...email, attachments: [{ content: 'aGk=', filename: 'a.txt' }] }]),
    );
    expect(res.status).toBe(422);
    expect(JSON.parse(res.text).name).toBe('validation_error');
  });
});

describe('GET /domains', () => {
  it('lists domains in the documented shape', async () => {
    const { data, error } = await client().domains.list();
    expect(error).toBeNull();
    expect(data?.object).toBe('list');
    expect(data?.has_more).toBe(false);
    expect(data?.data).toHaveLength(3);
    for (const d of data?.data ?? []) {
      expect(d.created_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00$/);
      expect(d.capabilities).toBeDefined();
    }
  });

  it('paginates with limit/after/before (cursor = id, excluded)', async () => {
    const [a, b, c] = fake.domains;
    const first = await client().domains.list({ limit: 1 });
    expect(first.data).toMatchObject({ has_more: true, data: [{ id: a?.id }] });
    const next = await client().domains.list({ limit: 5, after: a!.id });
    expect(next.data).toMatchObject({ has_more: false, data: [{ id: b?.id }, { id: c?.id }] });
    const back = await client().domains.list({ limit: 1, before: c!.id });
    expect(back.data).toMatchObject({ has_more: true, data: [{ id: b?.id }] });
  });

  it('domains are settable', async () => {
    fake.domains = [
      {
        ...fake.domains[0]!,
        name: 'custom.dev',
        created_at: toPostgresTimestamp(new Date('2025-01-02T03:04:05.678Z')),
      },
    ];
    const { data } = await client().domains.list({ limit: 1 });
    expect(data?.data).toEqual([
      expect.objectContaining({ name: 'custom.dev', created_at: '2025-01-02 03:04:05.678000+00' }),
    ]);
  });

  it('a sending-access key gets 401 restricted_api_key', async () => {
    const { error } = await client(RESEND_FAKE_SENDING_KEY).domains.list({ limit: 1 });
    expect(error).toEqual({
      statusCode: 401,
      name: 'restricted_api_key',
      message: 'This API key is restricted to only send emails',
    });
  });
});

describe('Idempotency-Key', () => {
  it('replays the same id for the same payload and sends once', async () => {
    const first = await client().emails.send(email, { idempotencyKey: 'welcome/42' });
    const again = await client().emails.send(email, { idempotencyKey: 'welcome/42' });
    expect(again.data?.id).toBe(first.data?.id);
    expect(fake.sentEmails).toHaveLength(1);
    expect(fake.sentEmails[0]?.idempotencyKey).toBe('welcome/42');
  });

  it('replays batches too', async () => {
    const first = await client().batch.send([email, email], { idempotencyKey: 'batch/1' });
    const again = await client().batch.send([email, email], { idempotencyKey: 'batch/1' });
    expect(again.data?.data).toEqual(first.data?.data);
    expect(fake.sentEmails).toHaveLength(2);
  });

  it('a different payload under the same key is invalid_idempotent_request', async () => {
    await client().emails.send(email, { idempotencyKey: 'k1' });
    const { error } = await client().emails.send({ ...email, subject: 'Other' }, { idempotencyKey: 'k1' });
    expect(error).toMatchObject({ statusCode: 409, name: 'invalid_idempotent_request' });
  });

  it('a duplicate while the first is in flight is concurrent_idempotent_requests', async () => {
    fake.setLatency(150);
    const [a, b] = await Promise.all([
      client().emails.send(email, { idempotencyKey: 'k2' }),
      new Promise((r) => setTimeout(r, 30)).then(() => client().emails.send(email, { idempotencyKey: 'k2' })),
    ]);
    expect(a.data?.id).toMatch(UUID);
    expect(b.error).toMatchObject({ statusCode: 409, name: 'concurrent_idempotent_requests' });
    fake.setLatency(0);
    const c = await client().emails.send(email, { idempotencyKey: 'k2' });
    expect(c.data?.id).toBe(a.data?.id);
  });

  it('a failed request frees the key', async () => {
    await client().emails.send({ ...email, to: undefined } as unknown as typeof email, { idempotencyKey: 'k3' });
    const { data, error } = await client().emails.send(email, { idempotencyKey: 'k3' });
    expect(error).toBeNull();
    expect(data?.id).toMatch(UUID);
  });

  it('a key over 256 chars is invalid_idempotency_key', async () => {
    const { error } = await client().emails.send(email, { idempotencyKey: 'x'.repeat(257) });
    expect(error).toMatchObject({ statusCode: 400, name: 'invalid_idempotency_key' });
  });

  it('a retry after a lost response gets the original id', async () => {
    fake.dropNextConnections(1, { afterProcessing: true });
    const lost = await client().emails.send(email, { idempotencyKey: 'k4' });
    expect(lost.error).toMatchObject({ name: 'application_error', statusCode: null }); // SDK's network-failure shape
    const retry = await client().emails.send(email, { idempotencyKey: 'k4' });
    expect(retry.data?.id).toBe(fake.sentEmails[0]?.id);
    expect(fake.sentEmails).toHaveLength(1);
  });
});

describe('rate limit and injected failures', () => {
  it('over the limit: 429 rate_limit_exceeded with retry-after', async () => {
    fake.setRateLimit(2);
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await client().emails.send(email));
    expect(results[2]?.error).toMatchObject({ statusCode: 429, name: 'rate_limit_exceeded' });
    expect(results[2]?.headers).toMatchObject({
      'retry-after': '1',
      'ratelimit-limit': '2',
      'ratelimit-remaining': '0',
    });
    expect(fake.sentEmails).toHaveLength(2);
  });

  it('keys of one team share the window (the real limit is per team)', async () => {
    fake.setRateLimit(1);
    await client().emails.send(email);
    const { error } = await client(RESEND_FAKE_SENDING_KEY).emails.send(email);
    expect(error?.name).toBe('rate_limit_exceeded');
    fake.addKey('re_other_team_key', 'full', 'team_other');
    expect((await client('re_other_team_key').emails.send(email)).error).toBeNull();
  });

  it('failNext injects any error, then recovers', async () => {
    fake.failNext(1, { status: 500, name: 'application_error', message: 'Internal server error.' });
    fake.failNext(1, {
      status: 429,
      name: 'daily_quota_exceeded',
      message: 'You have reached your daily email sending quota.',
    });
    const first = await client().emails.send(email);
    expect(first.error).toEqual({ statusCode: 500, name: 'application_error', message: 'Internal server error.' });
    const second = await client().emails.send(email);
    expect(second.error?.name).toBe('daily_quota_exceeded');
    expect(second.headers?.['retry-after']).toBeUndefined();
    expect(second.headers?.['ratelimit-limit']).toBe('10');
    expect((await client().emails.send(email)).error).toBeNull();
    expect(fake.sentEmails).toHaveLength(1);
  });

  it('dropNextConnections simulates a network failure with nothing sent', async () => {
    fake.dropNextConnections(1);
    const { error } = await client().emails.send(email);
    expect(error).toMatchObject({ name: 'application_error', statusCode: null });
    expect(fake.sentEmails).toHaveLength(0);
    expect(fake.requests).toHaveLength(1);
  });
});

describe('raw wire checks', () => {
  it('no User-Agent: 403 plain-text "error code: 1010"', async () => {
    const { 'user-agent': _ua, ...headers } = auth();
    const res = await raw('POST', '/emails', headers, JSON.stringify(email));
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toBe('error code: 1010');
    expect(fake.sentEmails).toHaveLength(0);
  });

  it('no Authorization: 401 missing_api_key envelope', async () => {
    const res = await raw('GET', '/domains', { 'user-agent': 'test/1.0' });
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(res.text)).toEqual({ statusCode: 401, name: 'missing_api_key', message: expect.any(String) });
    expect(res.headers['ratelimit-limit']).toBeDefined();
  });

  it('records method, path, query, lowercased headers and parsed JSON', async () => {
    await raw('POST', '/emails?x=1', { ...auth(), 'Idempotency-Key': 'rec-1' }, JSON.stringify(email));
    const [req] = fake.requests;
    expect(req).toMatchObject({ method: 'POST', path: '/emails', query: { x: '1' }, json: email });
    expect(req?.headers['idempotency-key']).toBe('rec-1');
    expect(req?.rawBody.toString()).toBe(JSON.stringify(email));
    expect(req?.receivedAt).toBeInstanceOf(Date);
  });

  it('unknown route 404 not_found, wrong method 405', async () => {
    expect((await raw('GET', '/nope', auth())).status).toBe(404);
    const res = await raw('DELETE', '/emails', auth());
    expect(res.status).toBe(405);
    expect(JSON.parse(res.text).name).toBe('method_not_allowed');
  });

  it('malformed JSON is a 400 validation_error', async () => {
    const res = await raw('POST', '/emails', auth(), '{"from":');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).name).toBe('validation_error');
  });
});
