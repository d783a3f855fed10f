import type { LookupAddress } from 'node:dns';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileCustomConnector } from '../../connectors/custom/custom-connector-compiler.ts';
import { customConnectorDefinition } from '../../connectors/custom/definition-schema.ts';
import type { ActionContext } from '../../connectors/toolkit/connector-definition.ts';
import { UpstreamClient } from '../../connectors/toolkit/upstream-client.ts';
import { createEgressGuard, type Resolver } from '../../shared/egress/egress-guard.ts';
import { itemsDefinition } from '../fakes/items/items-definition.ts';
import { ITEMS_FAKE_KEY, type ItemsFake, startItemsFake } from '../fakes/items/items-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient } from '../support/http.ts';

/** One address of each class the guard refuses (docs/security.md, "Egress"). */
const REFUSED = [
  ['loopback', '127.0.0.1'],
  ['loopback v6', '[::1]'],
  ['private 10/8', '10.0.0.1'],
  ['private 172.16/12', '172.16.5.4'],
  ['private 192.168/16', '192.168.1.1'],
  ['unique local v6', '[fd00::1]'],
  ['link-local', '169.254.10.10'],
  ['link-local v6', '[fe80::1]'],
  ['CGNAT', '100.64.0.1'],
  ['metadata', '169.254.169.254'],
  ['metadata v6', '[fd00:ec2::254]'],
  ['NAT64 of loopback', '[64:ff9b::7f00:1]'],
  ['6to4 of loopback', '[2002:7f00:1::]'],
  ['IPv4-mapped loopback', '[::ffff:127.0.0.1]'],
  ['documentation TEST-NET-1', '192.0.2.10'],
  ['documentation TEST-NET-3', '203.0.113.7'],
  ['documentation v6', '[2001:db8::1]'],
  ['a local name', 'localhost'],
] as const;

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((r) => server.listen(0, host, r));
  return (server.address() as { port: number }).port;
}

describe('custom connectors pass the egress guard', () => {
  let fake: ItemsFake;
  let engine: Engine;
  let admin: ApiClient;
  let redirector: Server;
  let redirectorUrl: string;

  beforeAll(async () => {
    fake = await startItemsFake();
    // 127.0.0.2 (also loopback) plays a public service: the operator lists it, and nothing else.
    redirector = createServer((req, res) => {
      if (req.url === '/v1/me')
        return res.writeHead(200, { 'content-type': 'application/json' }).end('{"account":"acct_r"}');
      if (req.url === '/v1/items/here') return res.writeHead(302, { location: '/v1/items/final' }).end();
      if (req.url === '/v1/items/final')
        return res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"item":{"id":"final","name":"Allowed hop"}}');
      const target = decodeURIComponent(req.url!.replace('/v1/items/', ''));
      res.writeHead(302, { location: `http://${target}:${fake.port}/v1/items/it_1` }).end();
    });
    redirectorUrl = `http://127.0.0.2:${await listen(redirector, '127.0.0.2')}`;
    engine = await startEngine({ env: { EGRESS_ALLOW_HOSTS: '127.0.0.2', WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false' } });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
  });
  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
    redirector?.closeAllConnections();
    await new Promise<void>((r) => (redirector ? redirector.close(() => r()) : r()));
  });

  it('refuses a definition whose base URL or token URL is in any refused address class', async () => {
    for (const [name, host] of REFUSED) {
      const res = await admin.post('/v1/connectors', {
        definition: itemsDefinition(`https://${host}:8443`, { id: 'custom-egress' }),
      });
      expect(res.status, name).toBe(400);
      expect(res.body.error.details, name).toEqual([
        { path: 'definition.baseUrl', message: 'must be an https URL of a public host' },
      ]);
    }
    const oauth = itemsDefinition('https://api.example.com', {
      id: 'custom-egress',
      auth: {
        type: 'oauth2',
        grant: 'authorization_code',
        authorizeUrl: 'https://example.com/authorize',
        tokenUrl: 'https://169.254.169.254/token',
        clientId: 'id',
        clientSecret: 'secret',
      },
    });
    const res = await admin.post('/v1/connectors', { definition: oauth });
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual(['definition.auth.tokenUrl']);
    // Plain http only to a host the operator listed; the listed host itself is accepted.
    expect(
      (
        await admin.post('/v1/connectors', {
          definition: itemsDefinition('http://api.example.com', { id: 'custom-egress' }),
        })
      ).status,
    ).toBe(400);
    expect(
      (await admin.post('/v1/connectors', { definition: itemsDefinition(redirectorUrl, { id: 'custom-redirects' }) }))
        .status,
    ).toBe(201);
  });

  it('refuses every redirect to a refused address at call time (literal or local name); an allowed hop is followed', async () => {
    const p = await admin.post('/v1/projects', { displayName: 'egress' });
    const key = await admin.post(`/v1/projects/${p.body.id}/api-keys`, {});
    const conn = await admin.post('/v1/connections', {
      connectorId: 'custom-redirects',
      displayName: 'r',
      credentials: { apiKey: ITEMS_FAKE_KEY },
      projectIds: [p.body.id],
    });
    expect(conn.body.status).toBe('active');
    const client = apiClient(engine.baseUrl, key.body.key);
    fake.reset();
    for (const target of [
      '127.0.0.1',
      '[::1]',
      '[::ffff:127.0.0.1]',
      '[64:ff9b::7f00:1]',
      'localhost',
      '169.254.169.254',
      '10.0.0.1',
    ]) {
      const res = await client.post('/v1/executions', {
        connectorId: 'custom-redirects',
        actionId: 'getItem',
        input: { id: target },
      });
      expect(res.status, target).toBe(502);
      expect(res.body.error.code, target).toBe('upstream_unavailable');
      expect(res.body.error.message, target).toContain('EGRESS_REFUSED');
    }
    expect(fake.requests).toHaveLength(0);
    const allowed = await client.post('/v1/executions', {
      connectorId: 'custom-redirects',
      actionId: 'getItem',
      input: { id: 'here' },
    });
    expect(allowed.status, JSON.stringify(allowed.body)).toBe(200);
    expect(allowed.body.output).toEqual({ id: 'final', name: 'Allowed hop' });
  });
});

describe('custom connectors: a DNS name that resolves to loopback', () => {
  let fake: ItemsFake;
  beforeAll(async () => {
    fake = await startItemsFake();
  });
  afterAll(async () => fake?.close());

  /** Test names, resolved by the guard's injected resolver: no real DNS is involved. */
  const testDns: Resolver = async (hostname) => {
    if (hostname !== 'items.test') throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
    return [{ address: '127.0.0.1', family: 4 } as LookupAddress];
  };

  async function getItemThrough(allow: string[]) {
    const definition = customConnectorDefinition.parse(itemsDefinition(`http://items.test:${fake.port}`));
    const connector = compileCustomConnector(definition, { source: 'custom', workspaceId: 'ws_test', version: 1 });
    const http = new UpstreamClient({
      baseUrl: connector.baseUrl,
      authHeaders: connector.auth.headers({ apiKey: ITEMS_FAKE_KEY }),
      timeoutMs: 5_000,
      egress: createEgressGuard({ resolve: testDns, allow }),
    });
    const ctx = {
      http,
      fields: {},
      invocationId: 'inv_test',
      idempotencyKey: 'inv_test',
      saveArtifact: async () => ({ contentType: '', sizeBytes: 0, url: '' }),
    } as ActionContext;
    return connector.actions[0]!.run(ctx, { id: 'it_1' });
  }

  it('refuses the name where the socket is opened; the operator listing it lets it through', async () => {
    fake.reset();
    await expect(getItemThrough([])).rejects.toMatchObject({ code: 'EGRESS_REFUSED' });
    expect(fake.requests).toHaveLength(0);
    await expect(getItemThrough(['items.test'])).resolves.toEqual({ id: 'it_1', name: 'First' });
    expect(fake.requests).toHaveLength(1);
  });
});
