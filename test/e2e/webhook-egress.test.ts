import type { LookupAddress } from 'node:dns';
import { createServer, get as httpGet } from 'node:http';
import got from 'got';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../shared/db/database.ts';
import { createEgressGuard, EGRESS_REFUSED_MESSAGE, type Resolver } from '../../shared/egress/egress-guard.ts';
import { type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient } from '../support/http.ts';
import { breakAConnection, eventually, startTestReceiver, type TestReceiver } from '../support/webhooks.ts';

/** Test names, resolved by the guard's injected resolver: no real DNS is involved. */
const testDns: Resolver = async (hostname) => {
  const names: Record<string, string[]> = {
    'hooks.test': ['127.0.0.1'],
    'sneaky.test': ['127.0.0.1'],
    'redirector.test': ['127.0.0.1'],
  };
  if (!names[hostname]) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
  return names[hostname].map((address): LookupAddress => ({ address, family: 4 }));
};

describe('egress guard at connect time (got and node:http)', () => {
  let target: TestReceiver;
  beforeAll(async () => {
    target = await startTestReceiver();
  });
  afterAll(async () => target?.close());

  it('refuses a name that resolves to loopback where the socket is opened; the same name, when listed, connects', async () => {
    const guard = createEgressGuard({ resolve: testDns });
    const refused = await got
      .get(`http://hooks.test:${target.port}/`, { ...guard.gotOptions(), retry: { limit: 0 } })
      .catch((e: { code?: string; message: string }) => e);
    expect(refused).toMatchObject({ code: 'EGRESS_REFUSED' });
    const viaHttp = await new Promise<NodeJS.ErrnoException>((resolve) =>
      httpGet({ host: 'hooks.test', port: target.port, lookup: guard.lookup }).on('error', resolve),
    );
    expect(viaHttp.code).toBe('EGRESS_REFUSED');
    expect(target.requests).toHaveLength(0);

    // The resolver the guard checked is the one the connection used: a listed name reaches the fake address.
    const listed = createEgressGuard({ resolve: testDns, allow: ['hooks.test'] });
    expect(
      (await got.get(`http://hooks.test:${target.port}/`, { ...listed.gotOptions(), retry: { limit: 0 } })).statusCode,
    ).toBe(204);
    expect(target.requests).toHaveLength(1);
  });

  it('refuses a redirect from an allowed target to a loopback one, by literal or by name', async () => {
    const locations = [
      `http://127.0.0.1:${target.port}/`,
      `http://[::1]:${target.port}/`,
      `http://[::ffff:7f00:1]:${target.port}/`,
      `http://sneaky.test:${target.port}/`,
      `http://localhost:${target.port}/`,
    ];
    const server = createServer((req, res) =>
      res.writeHead(302, { location: locations[Number(req.url!.slice(1))] }).end(),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const before = target.requests.length;
    try {
      const guard = createEgressGuard({ resolve: testDns, allow: ['redirector.test'] });
      for (let i = 0; i < locations.length; i++) {
        const err = await got
          .get(`http://redirector.test:${port}/${i}`, {
            ...guard.gotOptions(),
            retry: { limit: 0 },
            followRedirect: true,
          })
          .catch((e: { code?: string }) => e);
        expect(err, locations[i]).toMatchObject({ code: 'EGRESS_REFUSED' });
      }
      expect(target.requests.length).toBe(before);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('webhook deliveries pass the egress guard at delivery time', () => {
  let fake: ResendFake;
  let receiver: TestReceiver;
  let engine: Engine;
  let admin: ApiClient;
  let db: Db;

  beforeAll(async () => {
    fake = await startResendFake({ rateLimitPerSecond: 10_000 });
    receiver = await startTestReceiver();
    // No operator exception: loopback is refused (the Resend fake is an operator setting, not a tenant target).
    engine = await startEngine({
      env: { RESEND_API_URL: fake.url, EGRESS_ALLOW_HOSTS: '', WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false' },
    });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    db = createDb(engine.database.url, { max: 2 });
  });
  afterAll(async () => {
    await db?.destroy();
    await engine?.stop();
    await fake?.close();
    await receiver?.close();
  });

  it('refuses translated, embedded and reserved IP literals at creation', async () => {
    for (const url of [
      `http://[::ffff:7f00:1]:${receiver.port}/`,
      'http://[::127.0.0.1]/',
      'http://[64:ff9b::7f00:1]/',
      'http://[2002:7f00:1::]/',
      'http://[::ffff:0:7f00:1]/',
      'http://[fd00:ec2::254]/',
      'http://metadata.google.internal/',
      'http://192.0.2.1/',
      'http://198.51.100.1/',
      'http://203.0.113.5/',
      'http://[2001:db8::1]/',
      'http://2130706433/',
      'http://0x7f.1/',
    ]) {
      const res = await admin.post('/v1/webhooks', { url, events: ['connection.broken'] });
      expect(res.status, url).toBe(400);
      expect(res.body.error).toMatchObject({
        code: 'invalid_input',
        details: [{ path: 'url', message: expect.stringContaining('not allowed') }],
      });
    }
  });

  it('refuses stored loopback literals when delivering, and records them like a name that does not resolve', async () => {
    // Rows from before the guard refused these URLs: created with a public URL, then rewritten in the database.
    const targets = [
      receiver.url('/v4'),
      `http://[::1]:${receiver.port}/v6`,
      `http://[::ffff:7f00:1]:${receiver.port}/mapped`,
      'http://no-such-host.invalid/hook',
    ];
    const ids: string[] = [];
    for (const url of targets) {
      const created = await admin.post('/v1/webhooks', {
        url: 'https://hooks.example.com/placeholder',
        events: ['connection.broken'],
      });
      expect(created.status).toBe(201);
      await db.updateTable('webhooks').set({ url }).where('id', '=', created.body.id).execute();
      ids.push(created.body.id);
    }
    await breakAConnection(admin, fake);

    const records = await Promise.all(
      ids.map((id) =>
        eventually(
          async () =>
            (await admin.get(`/v1/webhooks/${id}/deliveries`)).body.data.find(
              (d: { attempts: number }) => d.attempts >= 1,
            ),
          30_000,
        ),
      ),
    );
    for (const record of records)
      expect(record).toMatchObject({ status: 'pending', lastStatusCode: null, lastError: EGRESS_REFUSED_MESSAGE });
    expect(receiver.requests).toHaveLength(0);
  }, 45_000);
});
