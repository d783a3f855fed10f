import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient } from '../support/http.ts';

/**
 * Secrets under hostile input, beyond test/e2e/secrets-at-rest.test.ts: credentials refused by our
 * own validation are never echoed; webhook signing secrets stay out of Redis, Postgres and the logs;
 * and what a hostile or careless upstream sends back.
 *
 * Two tests pinned bugs found here (an upstream quoting the credential back; a NUL in an upstream
 * answer); both are fixed and now plain tests.
 */
describe('secrets under hostile input', () => {
  let fake: ResendFake;
  let engine: Engine;
  let admin: ApiClient;
  let receiver: { url: string; bodies: string[]; close(): Promise<void> };
  const email = { from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' };

  beforeAll(async () => {
    fake = await startResendFake({ rateLimitPerSecond: 1000 });
    const bodies: string[] = [];
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    receiver = {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
      bodies,
      close: () => new Promise((r) => server.close(() => r())),
    };
    engine = await startEngine({ env: { RESEND_API_URL: fake.url, LOG_LEVEL: 'trace' } });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
  }, 60_000);

  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
    await receiver?.close();
  });

  it('never echoes credentials it refuses, whatever is wrong with them', async () => {
    const secret = 're_refused_secret_value_Q9w8E7r6T5';
    const bodies: Array<[string, unknown]> = [
      ['wrong shape', { apiKey: `not-${secret}` }],
      ['extra field', { apiKey: RESEND_FAKE_FULL_KEY, other: secret }],
      ['wrong field', { token: secret }],
      ['wrong type', { apiKey: [secret] }],
      ['NUL inside', { apiKey: `${secret}\u0000` }],
      ['broken unicode', { apiKey: `${secret}\ud800` }],
      ['nested deep', { apiKey: JSON.parse(`${'['.repeat(40)}"${secret}"${']'.repeat(40)}`) }],
    ];
    const existing = await admin.post('/v1/connections', {
      connectorId: 'resend',
      displayName: 'x',
      credentials: { apiKey: RESEND_FAKE_FULL_KEY },
    });
    for (const [label, credentials] of bodies) {
      for (const res of [
        await admin.post('/v1/connections', { connectorId: 'resend', displayName: 'x', credentials }),
        await admin.patch(`/v1/connections/${existing.body.id}`, { credentials }),
        await admin.post('/v1/connections', {
          connectorId: 'slack',
          displayName: 'x',
          credentials: { botToken: credentials },
        }),
      ]) {
        expect(res.status, label).toBeGreaterThanOrEqual(400);
        expect(JSON.stringify(res.body), label).not.toContain(secret);
      }
    }
    expect(engine.logs()).not.toContain(secret);
  });

  it('keeps webhook signing secrets out of Redis, Postgres, the logs and every later response', async () => {
    const created = await admin.post('/v1/webhooks', {
      url: receiver.url,
      events: ['connection.broken', 'connection.restored'],
    });
    expect(created.status).toBe(201);
    const secret: string = created.body.secret;
    expect(secret.length).toBeGreaterThanOrEqual(32);
    // An event, so a delivery is queued, signed and sent.
    const conn = await admin.post('/v1/connections', {
      connectorId: 'resend',
      displayName: 'hooked',
      credentials: { apiKey: RESEND_FAKE_FULL_KEY },
    });
    fake.revokeKey(RESEND_FAKE_FULL_KEY);
    try {
      expect((await admin.post(`/v1/connections/${conn.body.id}/test`)).body.status).toBe('broken');
    } finally {
      fake.addKey(RESEND_FAKE_FULL_KEY, 'full');
    }
    for (let i = 0; i < 100 && receiver.bodies.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(receiver.bodies.length).toBeGreaterThan(0);

    const redis = new Redis(engine.redisUrl);
    let redisDump = '';
    try {
      for (const key of await redis.keys('*')) {
        const type = await redis.type(key);
        redisDump += `${key}\n`;
        if (type === 'string') redisDump += await redis.get(key);
        else if (type === 'hash') redisDump += JSON.stringify(await redis.hgetall(key));
        else if (type === 'list') redisDump += (await redis.lrange(key, 0, -1)).join('\n');
        else if (type === 'set') redisDump += (await redis.smembers(key)).join('\n');
        else if (type === 'zset') redisDump += (await redis.zrange(key, 0, -1)).join('\n');
        else if (type === 'stream') redisDump += JSON.stringify(await redis.xrange(key, '-', '+'));
      }
    } finally {
      redis.disconnect();
    }
    expect(redisDump).toContain('webhook'); // the delivery queue is there: we searched the right place
    const client = new pg.Client({ connectionString: engine.database.url });
    await client.connect();
    let pgDump = '';
    try {
      const tables = await client.query<{ tablename: string }>(
        "select tablename from pg_tables where schemaname = 'public'",
      );
      for (const { tablename } of tables.rows)
        pgDump += JSON.stringify((await client.query(`select t::text from "${tablename}" t`)).rows);
    } finally {
      await client.end();
    }
    expect(pgDump).toContain('whk_');
    const later = [await admin.get('/v1/webhooks'), await admin.get(`/v1/webhooks/${created.body.id}/deliveries`)]
      .map((r) => JSON.stringify(r.body))
      .join('\n');
    for (const [where, text] of [
      ['redis', redisDump],
      ['postgres', pgDump],
      ['logs', engine.logs()],
      ['responses', later],
      ['deliveries', receiver.bodies.join('\n')],
    ] as const) {
      expect(text.includes(secret), `webhook secret found in ${where}`).toBe(false);
    }
  });

  // Known gap (docs/security.md): an upstream error that quotes the credential is stored and shown
  // verbatim: Connection.statusReason (and so webhook payloads), the 409's message and details, and
  // the invocation's errorMessage/errorDetails, which a project key (that never holds credentials) reads.
  it('does not repeat a credential an upstream quotes back in its error', async () => {
    const key = 're_quoted_back_secret_ABCD1234';
    fake.addKey(key, 'full');
    const project = await admin.post('/v1/projects', { displayName: 'quoted' });
    const projectKey = (await admin.post(`/v1/projects/${project.body.id}/api-keys`, {})).body.key;
    await admin.post('/v1/connections', {
      connectorId: 'resend',
      displayName: 'q',
      credentials: { apiKey: key },
      projectIds: [project.body.id],
    });
    fake.failNext(1, { status: 403, name: 'invalid_api_key', message: `API key ${key} is invalid` });
    const client = apiClient(engine.baseUrl, projectKey);
    const res = await client.post('/v1/executions', { connectorId: 'resend', actionId: 'sendEmail', input: email });
    expect(res.status).toBe(409);
    const seen = [
      JSON.stringify(res.body),
      JSON.stringify((await client.get(`/v1/invocations/${res.body.invocationId}`)).body),
      JSON.stringify((await admin.get('/v1/connections?limit=100')).body),
    ];
    for (const text of seen) expect(text).not.toContain(key);
  });

  // Known bug (docs/security.md): a string with U+0000 in an upstream's successful answer cannot be
  // stored in the jsonb output; the call (which did happen upstream) is reported as a 500 internal_error.
  it('stores an upstream answer holding a NUL character instead of failing the call', async () => {
    const project = await admin.post('/v1/projects', { displayName: 'nul' });
    const projectKey = (await admin.post(`/v1/projects/${project.body.id}/api-keys`, {})).body.key;
    await admin.post('/v1/connections', {
      connectorId: 'resend',
      displayName: 'n',
      credentials: { apiKey: RESEND_FAKE_FULL_KEY },
      projectIds: [project.body.id],
    });
    const domain = {
      id: 'd1',
      name: 'evil\u0000.example.com',
      status: 'verified',
      region: 'us-east-1',
      created_at: '2023-04-07 23:13:52.669661+00',
      capabilities: { sending: 'enabled', receiving: 'disabled' },
    };
    (fake as unknown as { server: { failNext(n: number, r: unknown): void } }).server.failNext(1, {
      status: 200,
      body: { object: 'list', has_more: false, data: [domain] },
    });
    const res = await apiClient(engine.baseUrl, projectKey).post('/v1/executions', {
      connectorId: 'resend',
      actionId: 'listDomains',
      input: {},
    });
    expect(res.status).toBe(200);
  });
});
