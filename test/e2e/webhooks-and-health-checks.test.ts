import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';
import { eventually } from '../support/webhooks.ts';

interface Received {
  headers: Record<string, string | string[] | undefined>;
  raw: string;
  body: { id: string; type: string; createdAt: string; data: { connection: { id: string; status: string } } };
}

/** A webhook receiver on loopback that records deliveries and can be told to fail. */
async function startReceiver() {
  const received: Received[] = [];
  let failures = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (failures > 0) {
        failures--;
        res.writeHead(500).end('not now');
        return;
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: req.headers, raw, body: JSON.parse(raw) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    failNext: (n: number) => {
      failures = n;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('webhooks and connection health checks', () => {
  let fake: ResendFake;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let engine: Engine;
  let admin: ApiClient;
  let secret: string;
  let webhookId: string;

  beforeAll(async () => {
    fake = await startResendFake({ rateLimitPerSecond: 10_000 });
    receiver = await startReceiver();
    engine = await startEngine({
      env: { RESEND_API_URL: fake.url, HEALTH_CHECK_INTERVAL_MS: '2000', MAINTENANCE_TICK_MS: '1000' },
    });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    const hook = await admin.post('/v1/webhooks', {
      url: receiver.url,
      events: ['connection.broken', 'connection.restored'],
    });
    expect(hook.status).toBe(201);
    expect(hook.body).toMatchObject({
      id: expect.stringMatching(/^whk_/),
      url: receiver.url,
      events: ['connection.broken', 'connection.restored'],
      secret: expect.stringMatching(/^whsec_/),
    });
    ({ secret, id: webhookId } = hook.body);
    // The secret is shown once.
    expect(JSON.stringify((await admin.get('/v1/webhooks')).body)).not.toContain(secret);
  });
  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
    await receiver?.close();
  });

  const eventFor = (connectionId: string, type: string) => () =>
    receiver.received.find((r) => r.body.type === type && r.body.data.connection.id === connectionId);

  it('delivers signed connection.broken and connection.restored events', async () => {
    const key = 're_webhook_key_000000000001';
    fake.addKey(key, 'full');
    const { projectKey, connectionId } = await setUpProject(admin, {
      connectorId: 'resend',
      credentials: { apiKey: key },
    });
    fake.revokeKey(key);
    const call = await apiClient(engine.baseUrl, projectKey).post('/v1/executions', {
      connectorId: 'resend',
      actionId: 'listDomains',
      input: {},
    });
    expect(call.status).toBe(409);

    const broken = await eventually(eventFor(connectionId, 'connection.broken'));
    expect(broken.body).toMatchObject({
      id: expect.stringMatching(/^evt_/),
      type: 'connection.broken',
      createdAt: expect.any(String),
      data: { connection: { id: connectionId, status: 'broken', connectorId: 'resend' } },
    });
    // Standard Webhooks, checked by the specification's own library as any receiver would.
    const headersOf = (r: Received) => ({
      'webhook-id': String(r.headers['webhook-id']),
      'webhook-timestamp': String(r.headers['webhook-timestamp']),
      'webhook-signature': String(r.headers['webhook-signature']),
    });
    expect(headersOf(broken)['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(headersOf(broken)['webhook-id']).toBe(broken.body.id);
    expect(new Webhook(secret).verify(broken.raw, headersOf(broken))).toEqual(broken.body);
    expect(() => new Webhook(secret).verify(broken.raw.replace('broken', 'active'), headersOf(broken))).toThrow();
    expect(() =>
      new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(broken.raw, headersOf(broken)),
    ).toThrow();
    expect(JSON.stringify(broken.body)).not.toContain(key);

    await admin.patch(`/v1/connections/${connectionId}`, { credentials: { apiKey: RESEND_FAKE_FULL_KEY } });
    const restored = await eventually(eventFor(connectionId, 'connection.restored'));
    expect(restored.body.data.connection.status).toBe('active');
    expect(new Webhook(secret).verify(restored.raw, headersOf(restored))).toEqual(restored.body);
  });

  it('retries a failed delivery with backoff and records every attempt', async () => {
    const key = 're_webhook_key_000000000002';
    fake.addKey(key, 'full');
    const { connectionId } = await setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: key } });
    receiver.failNext(1);
    fake.revokeKey(key);
    await admin.post(`/v1/connections/${connectionId}/test`);
    await eventually(eventFor(connectionId, 'connection.broken'), 20_000);
    const deliveries = await admin.get(`/v1/webhooks/${webhookId}/deliveries`);
    const delivery = deliveries.body.data.find(
      (d: { type: string; status: string; attempts: number }) =>
        d.type === 'connection.broken' && d.status === 'succeeded' && d.attempts === 2,
    );
    expect(delivery).toMatchObject({ lastStatusCode: 204, lastError: null, deliveredAt: expect.any(String) });
  }, 30_000);

  it('finds a revoked key by a scheduled health check, before any call fails', async () => {
    const key = 're_health_key_00000000000003';
    fake.addKey(key, 'full');
    const { connectionId } = await setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: key } });
    // Checks keep passing while the key is good...
    await eventually(() =>
      fake.requests.filter((r) => r.path === '/domains' && r.headers.authorization === `Bearer ${key}`).length >= 2
        ? true
        : undefined,
    );
    expect((await admin.get(`/v1/connections/${connectionId}`)).body.status).toBe('active');
    // ...and break the connection, with a webhook, once it is revoked. No user call is made.
    fake.revokeKey(key);
    await eventually(async () =>
      (await admin.get(`/v1/connections/${connectionId}`)).body.status === 'broken' ? true : undefined,
    );
    const connection = (await admin.get(`/v1/connections/${connectionId}`)).body;
    expect(connection.statusReason).toMatch(/Health check/);
    await eventually(eventFor(connectionId, 'connection.broken'));
  }, 30_000);

  it('keeps webhooks to their workspace and validates them', async () => {
    expect((await admin.post('/v1/webhooks', { url: 'ftp://example.com', events: ['connection.broken'] })).status).toBe(
      400,
    );
    expect((await admin.post('/v1/webhooks', { url: receiver.url, events: ['invocation.done'] })).status).toBe(400);
    const { projectKey } = await setUpProject(admin, {
      connectorId: 'resend',
      credentials: { apiKey: RESEND_FAKE_FULL_KEY },
    });
    expect((await apiClient(engine.baseUrl, projectKey).get('/v1/webhooks')).status).toBe(403);
    const created = await admin.post('/v1/webhooks', { url: receiver.url, events: ['connection.restored'] });
    expect((await admin.delete(`/v1/webhooks/${created.body.id}`)).status).toBe(204);
    expect((await admin.get(`/v1/webhooks/${created.body.id}/deliveries`)).status).toBe(404);
  });

  it('refuses private webhook targets unless the operator allows them', async () => {
    const strict = await startEngine({ env: { RESEND_API_URL: fake.url, EGRESS_ALLOW_HOSTS: '' } });
    try {
      const strictAdmin = apiClient(strict.baseUrl, strict.workspaceKey);
      for (const url of [
        receiver.url,
        'http://169.254.169.254/latest/meta-data',
        'http://localhost:9/x',
        'http://[::1]/x',
        'http://10.0.0.8/hook',
      ]) {
        const res = await strictAdmin.post('/v1/webhooks', { url, events: ['connection.broken'] });
        expect(res.status, url).toBe(400);
        expect(res.body.error.details).toEqual([{ path: 'url', message: expect.stringContaining('not allowed') }]);
      }
      expect(
        (await strictAdmin.post('/v1/webhooks', { url: 'https://hooks.example.com/ce', events: ['connection.broken'] }))
          .status,
      ).toBe(201);
    } finally {
      await strict.stop();
    }
  });
});
