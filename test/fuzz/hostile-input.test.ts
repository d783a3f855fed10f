import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ELEVENLABS_FAKE_KEY, type ElevenLabsFake, RACHEL_VOICE_ID } from '../fakes/elevenlabs/elevenlabs-fake.ts';
import { RESEND_FAKE_FULL_KEY, type ResendFake } from '../fakes/resend/resend-fake.ts';
import { SLACK_FAKE_BOT_TOKEN, type SlackFake } from '../fakes/slack/slack-fake.ts';
import type { Engine } from '../support/engine.ts';
import { apiClient } from '../support/http.ts';
import { declaredRoutes } from './route-table.ts';
import {
  assertInvariants,
  inParallel,
  type RawRequest,
  type RawResponse,
  raw,
  rawSocket,
  startEngineWithAllFakes,
} from './support.ts';

/**
 * Hand-written hostile requests: malformed JSON, oversized bodies, wrong types, deep nesting, huge
 * strings, NUL bytes and broken unicode (in bodies, query strings, headers and path ids), unknown
 * fields, path traversal. Whatever comes in: a 4xx in the docs/api.md envelope, never a 5xx of ours, an
 * X-Request-Id on every answer, nothing stored, and the engine still ready afterwards.
 */
const MAX_BODY_BYTES = 256 * 1024;

describe('hostile input', () => {
  let resend: ResendFake;
  let slack: SlackFake;
  let eleven: ElevenLabsFake;
  let engine: Engine;
  const ids = { project: '', projectKey: '', keyId: '', resend: '', slack: '', invocation: '', webhook: '' };

  beforeAll(async () => {
    ({ engine, resend, slack, eleven } = await startEngineWithAllFakes({ MAX_BODY_BYTES: String(MAX_BODY_BYTES) }));
    const admin = apiClient(engine.baseUrl, engine.workspaceKey);
    const project = await admin.post('/v1/projects', { displayName: 'Hostile' });
    ids.project = project.body.id;
    const key = await admin.post(`/v1/projects/${ids.project}/api-keys`, {});
    ids.projectKey = key.body.key;
    ids.keyId = key.body.id;
    const conn = async (connectorId: string, credentials: Record<string, string>) =>
      (
        await admin.post('/v1/connections', {
          connectorId,
          displayName: connectorId,
          credentials,
          projectIds: [ids.project],
        })
      ).body.id as string;
    ids.resend = await conn('resend', { apiKey: RESEND_FAKE_FULL_KEY });
    ids.slack = await conn('slack', { botToken: SLACK_FAKE_BOT_TOKEN });
    await conn('elevenlabs', { apiKey: ELEVENLABS_FAKE_KEY });
    const speech = await apiClient(engine.baseUrl, ids.projectKey).post('/v1/executions', {
      connectorId: 'elevenlabs',
      actionId: 'textToSpeech',
      input: { voiceId: RACHEL_VOICE_ID, text: 'Hi.' },
    });
    expect(speech.status).toBe(200);
    ids.invocation = speech.body.invocationId;
    ids.webhook = (
      await admin.post('/v1/webhooks', { url: 'https://hooks.example.com/x', events: ['connection.broken'] })
    ).body.id;
  }, 60_000);

  afterAll(async () => {
    // After everything: still ready, and nothing went down the "unhandled error" path.
    if (engine) {
      const ready = await raw(engine.baseUrl, { path: '/readyz' });
      expect(ready.status).toBe(200);
      expect(engine.logs()).not.toContain('unhandled error');
    }
    await engine?.stop();
    await resend?.close();
    await slack?.close();
    await eleven?.close();
  });

  const ws = () => ({ authorization: `Bearer ${engine.workspaceKey}` });
  const pk = () => ({ authorization: `Bearer ${ids.projectKey}` });
  const json = { 'content-type': 'application/json' };

  /** Sends, checks the invariants, returns the response for further checks. */
  async function send(req: RawRequest, options: { upstream?: boolean; label?: string } = {}): Promise<RawResponse> {
    const res = await raw(engine.baseUrl, req);
    const sentId = req.headers?.['x-request-id'];
    assertInvariants(res, options.label ?? `${req.method ?? 'GET'} ${req.path.slice(0, 120)}`, {
      upstream: options.upstream,
      sentRequestId: typeof sentId === 'string' ? sentId : undefined,
    });
    return res;
  }

  /** Every route that reads a JSON body, with the id-bearing paths filled in with real ids. */
  const bodyRoutes = () => [
    { method: 'POST', path: '/v1/projects', headers: ws() },
    { method: 'PATCH', path: `/v1/projects/${ids.project}`, headers: ws() },
    { method: 'POST', path: `/v1/projects/${ids.project}/api-keys`, headers: ws() },
    { method: 'POST', path: '/v1/connections', headers: ws() },
    { method: 'PATCH', path: `/v1/connections/${ids.resend}`, headers: ws() },
    { method: 'POST', path: `/v1/connections/${ids.resend}/test`, headers: ws() },
    { method: 'PUT', path: `/v1/projects/${ids.project}/connections/${ids.resend}`, headers: ws() },
    { method: 'POST', path: '/v1/executions', headers: pk() },
    { method: 'POST', path: '/v1/executions', headers: ws() },
    { method: 'POST', path: '/v1/oauth/slack/authorize', headers: ws() },
    { method: 'POST', path: '/v1/webhooks', headers: ws() },
  ];

  it('answers malformed JSON with 400 invalid_json on every body route', async () => {
    const malformed = [
      '{',
      '{"a":}',
      'nul',
      '[1,]',
      "{'a':1}",
      '{"a":1} trailing',
      '{"a":1,}',
      '\u0000',
      '{"a":"\\x"}',
      '{"a":"\\ud800',
      '"just a string"',
      '42',
      'null',
    ];
    for (const route of bodyRoutes()) {
      for (const body of malformed) {
        const res = await send({ ...route, headers: { ...route.headers, ...json }, body });
        expect(res.status, `${route.method} ${route.path} ${JSON.stringify(body)}`).toBe(400);
        expect(['invalid_json', 'invalid_input']).toContain(res.json.error.code);
      }
    }
  });

  it('answers bodies that are not JSON, or not UTF-8, or in an unknown encoding, with a 4xx', async () => {
    const route = { method: 'POST', path: '/v1/projects', headers: ws() };
    const cases: Array<[Record<string, string>, string | Buffer]> = [
      [{ 'content-type': 'text/plain' }, '{"displayName":"x"}'],
      [{}, '{"displayName":"x"}'],
      [{ 'content-type': 'application/json; charset=latin1' }, '{"displayName":"x"}'],
      [{ ...json, 'content-encoding': 'zstd' }, '{"displayName":"x"}'],
      [{ ...json, 'content-encoding': 'gzip' }, 'this is not gzip'],
      [{ ...json, 'content-encoding': 'deflate' }, Buffer.from([0x78, 0x9c, 0xff, 0xff])],
      [{ ...json }, Buffer.from([0x7b, 0x22, 0x64, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])], // {"d":"<invalid utf-8>"}
      [{ 'content-type': 'application/json;;;===' }, '{}'],
      [
        { 'content-type': 'multipart/form-data; boundary=x' },
        '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--',
      ],
    ];
    for (const [headers, body] of cases) {
      const res = await send(
        { ...route, headers: { ...route.headers, ...headers }, body },
        { label: `POST /v1/projects ${JSON.stringify(headers)}` },
      );
      expect(res.status, JSON.stringify(headers)).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    // A gzip bomb stays under the limit after inflation, or is refused.
    const bomb = gzipSync(Buffer.from(`{"displayName":"${'a'.repeat(4 * MAX_BODY_BYTES)}"}`));
    const res = await send({
      ...route,
      headers: { ...route.headers, ...json, 'content-encoding': 'gzip' },
      body: bomb,
    });
    expect(res.status).toBe(413);
  });

  it('answers bodies over the limit with 413 payload_too_large, announced or chunked', async () => {
    const big = JSON.stringify({ displayName: 'x', metadata: { blob: 'x'.repeat(MAX_BODY_BYTES) } });
    for (const route of bodyRoutes()) {
      const res = await send({ ...route, headers: { ...route.headers, ...json }, body: big });
      expect(res.status).toBe(413);
      expect(res.json.error.code).toBe('payload_too_large');
    }
    // Chunked, without a Content-Length.
    const chunked = await send({
      method: 'POST',
      path: '/v1/projects',
      headers: { ...ws(), ...json, 'transfer-encoding': 'chunked' },
      body: big,
    });
    expect(chunked.status).toBe(413);
    // A Content-Length that promises more than arrives, then a close: must not hang or crash.
    const lying = await rawSocket(
      engine.baseUrl,
      `POST /v1/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${engine.workspaceKey}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"displayName":`,
    );
    expect(lying.statusLine === '' || /^HTTP\/1\.1 4\d\d/.test(lying.statusLine), lying.statusLine).toBe(true);
  });

  it('answers wrong types and unknown fields with 400 invalid_input naming the paths', async () => {
    const cases: Array<[RawRequest, string[]]> = [
      [
        {
          method: 'POST',
          path: '/v1/projects',
          headers: ws(),
          body: JSON.stringify({ displayName: 42, metadata: 'x', externalId: [], extra: 1 }),
        },
        ['displayName', 'metadata', 'externalId'],
      ],
      [
        {
          method: 'PATCH',
          path: `/v1/projects/${ids.project}`,
          headers: ws(),
          body: JSON.stringify({ rateLimits: { resend: '10' } }),
        },
        ['rateLimits.resend'],
      ],
      [
        {
          method: 'PATCH',
          path: `/v1/projects/${ids.project}`,
          headers: ws(),
          body: JSON.stringify({ rateLimits: { resend: 1e308 } }),
        },
        ['rateLimits.resend'],
      ],
      [
        {
          method: 'POST',
          path: `/v1/projects/${ids.project}/api-keys`,
          headers: ws(),
          body: JSON.stringify({ name: { a: 1 } }),
        },
        ['name'],
      ],
      [
        {
          method: 'POST',
          path: '/v1/connections',
          headers: ws(),
          body: JSON.stringify({ connectorId: 'resend', displayName: 'x', credentials: 'k', projectIds: 'p' }),
        },
        ['credentials', 'projectIds'],
      ],
      [
        {
          method: 'POST',
          path: '/v1/executions',
          headers: pk(),
          body: JSON.stringify({ connectorId: 1, actionId: null, input: {} }),
        },
        ['connectorId', 'actionId'],
      ],
      [
        {
          method: 'POST',
          path: '/v1/executions',
          headers: pk(),
          body: JSON.stringify({
            connectorId: 'resend',
            actionId: 'sendEmail',
            input: { from: 1, to: {}, subject: [], bogus: true },
          }),
        },
        ['input.from'],
      ],
      [
        {
          method: 'POST',
          path: '/v1/webhooks',
          headers: ws(),
          body: JSON.stringify({ url: 'ftp://x', events: ['nope'] }),
        },
        ['url', 'events[0]'],
      ],
      [
        {
          method: 'POST',
          path: '/v1/oauth/slack/authorize',
          headers: ws(),
          body: JSON.stringify({ displayName: '', redirectUri: 'javascript:alert(1)' }),
        },
        ['displayName', 'redirectUri'],
      ],
      [
        {
          method: 'POST',
          path: '/v1/projects',
          headers: ws(),
          body: '{"displayName":"x","__proto__":{"admin":true},"constructor":{"prototype":{"polluted":1}}}',
        },
        ['(root)'],
      ],
    ];
    for (const [req, paths] of cases) {
      const res = await send({ ...req, headers: { ...req.headers, ...json } });
      expect(res.status, res.text).toBe(400);
      expect(res.json.error.code).toBe('invalid_input');
      const got = res.json.error.details.map((d: { path: string }) => d.path);
      for (const p of paths) expect(got, res.text).toContain(p);
    }
    // The prototype was not polluted in this (in-process) engine.
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('survives deep nesting anywhere in a body (10k and 100k levels)', async () => {
    for (const depth of [100, 10_000, 100_000]) {
      const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      const deepObject = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      const bodies: Array<[RawRequest, string]> = [
        [{ method: 'POST', path: '/v1/projects', headers: ws() }, `{"displayName":"x","metadata":{"deep":${deep}}}`],
        [{ method: 'POST', path: '/v1/projects', headers: ws() }, `{"displayName":"x","metadata":${deepObject}}`],
        [{ method: 'POST', path: '/v1/projects', headers: ws() }, deep],
        [{ method: 'PATCH', path: `/v1/projects/${ids.project}`, headers: ws() }, `{"metadata":{"deep":${deep}}}`],
        [
          { method: 'POST', path: '/v1/connections', headers: ws() },
          `{"connectorId":"resend","displayName":"x","credentials":{"apiKey":${deep}}}`,
        ],
        [
          { method: 'POST', path: '/v1/executions', headers: pk() },
          `{"connectorId":"resend","actionId":"sendEmail","input":${deep}}`,
        ],
        [
          { method: 'POST', path: '/v1/executions', headers: pk() },
          `{"connectorId":"slack","actionId":"postMessage","input":{"channel":"C0FAKEGEN01","blocks":[{"type":"section","x":${deep}}]}}`,
        ],
        [
          { method: 'POST', path: '/v1/executions', headers: pk() },
          `{"connectorId":"slack","actionId":"postMessage","input":{"channel":"C0FAKEGEN01","text":"t","metadata":{"event_type":"e","event_payload":${deepObject}}}}`,
        ],
        [{ method: 'POST', path: '/v1/webhooks', headers: ws() }, `{"url":"https://x.example.com","events":${deep}}`],
      ];
      for (const [req, body] of bodies) {
        if (Buffer.byteLength(body) > MAX_BODY_BYTES) continue;
        const res = await send(
          { ...req, headers: { ...req.headers, ...json }, body },
          { label: `${req.method} ${req.path} depth ${depth}` },
        );
        expect(res.status, `${req.path} depth ${depth}: ${res.text.slice(0, 200)}`).toBe(400);
        expect(res.json.error.details[0].message, res.text.slice(0, 300)).toMatch(
          /nested deeper than 32 levels|expected/,
        );
      }
    }
  });

  it('rejects NUL bytes and broken unicode in body strings and keys, stores nothing, and keeps real unicode intact', async () => {
    const hostile = ['a\u0000b', '\u0000', 'x\ud800', '\udc00y', '\ud83d'];
    for (const s of hostile) {
      const bodies: Array<[RawRequest, Record<string, unknown>]> = [
        [{ method: 'POST', path: '/v1/projects', headers: ws() }, { displayName: s }],
        [
          { method: 'POST', path: '/v1/projects', headers: ws() },
          { displayName: 'x', externalId: s },
        ],
        [
          { method: 'POST', path: '/v1/projects', headers: ws() },
          { displayName: 'x', metadata: { note: s } },
        ],
        [
          { method: 'POST', path: '/v1/projects', headers: ws() },
          { displayName: 'x', metadata: { [s]: 1 } },
        ],
        [{ method: 'PATCH', path: `/v1/projects/${ids.project}`, headers: ws() }, { displayName: s }],
        [{ method: 'POST', path: `/v1/projects/${ids.project}/api-keys`, headers: ws() }, { name: s }],
        [
          { method: 'POST', path: '/v1/connections', headers: ws() },
          { connectorId: 'resend', displayName: s, credentials: { apiKey: RESEND_FAKE_FULL_KEY } },
        ],
        [
          { method: 'POST', path: '/v1/connections', headers: ws() },
          { connectorId: 'resend', displayName: 'x', externalId: s, credentials: { apiKey: RESEND_FAKE_FULL_KEY } },
        ],
        [
          { method: 'POST', path: '/v1/connections', headers: ws() },
          { connectorId: 'resend', displayName: 'x', credentials: { apiKey: `re_${s}` } },
        ],
        [{ method: 'PATCH', path: `/v1/connections/${ids.resend}`, headers: ws() }, { displayName: s }],
        [{ method: 'POST', path: '/v1/oauth/slack/authorize', headers: ws() }, { displayName: s }],
        [
          { method: 'POST', path: '/v1/executions', headers: pk() },
          { connectorId: 'slack', actionId: 'postMessage', input: { channel: 'C0FAKEGEN01', text: s } },
        ],
        [
          { method: 'POST', path: '/v1/executions', headers: pk() },
          {
            connectorId: 'resend',
            actionId: 'sendEmail',
            input: { from: 'a@example.com', to: 'b@example.com', subject: s, text: 't' },
          },
        ],
        [
          { method: 'POST', path: '/v1/executions', headers: pk() },
          { connectorId: s, actionId: 'x', input: {} },
        ],
        [
          { method: 'POST', path: '/v1/webhooks', headers: ws() },
          { url: `https://x.example.com/${s}`, events: ['connection.broken'] },
        ],
      ];
      for (const [req, body] of bodies) {
        const res = await send(
          { ...req, headers: { ...req.headers, ...json }, body: JSON.stringify(body) },
          { upstream: true, label: `${req.method} ${req.path} ${JSON.stringify(s)}` },
        );
        expect(res.status, `${req.path} ${JSON.stringify(body)}: ${res.text.slice(0, 200)}`).toBeGreaterThanOrEqual(
          400,
        );
        expect(res.status).toBeLessThan(500);
      }
    }
    // Real unicode (astral, combining, RTL, zero-width) is data, not an attack: stored and returned as sent.
    const name = 'Café 💩 مرحبا e\u0301 \u200b\u202e';
    const created = await send({
      method: 'POST',
      path: '/v1/projects',
      headers: { ...ws(), ...json },
      body: JSON.stringify({ displayName: name, metadata: { '🔑': 'ключ' } }),
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ displayName: name, metadata: { '🔑': 'ключ' } });
  });

  it('answers hostile query strings (NUL, invalid UTF-8, repeats, huge values) on every list route with a 4xx or an empty page', async () => {
    // Each list route with the parameters it reads, plus one it does not.
    const lists: Array<[string, Record<string, string>, string[]]> = [
      ['/v1/projects', ws(), ['externalId', 'limit', 'cursor']],
      ['/v1/connections', ws(), ['externalId', 'projectId', 'connectorId', 'status']],
      [
        '/v1/invocations',
        ws(),
        ['projectId', 'connectionId', 'connectorId', 'actionId', 'status', 'since', 'until', 'cursor'],
      ],
      ['/v1/invocations', pk(), ['projectId', 'since', 'limit']],
      [`/v1/projects/${ids.project}/api-keys`, ws(), ['limit', 'cursor']],
      [`/v1/projects/${ids.project}/connections`, ws(), ['limit', 'cursor']],
      ['/v1/webhooks', ws(), ['limit', 'cursor']],
      [`/v1/webhooks/${ids.webhook}/deliveries`, ws(), ['limit', 'cursor']],
      ['/v1/oauth/callback', {}, ['state', 'code', 'error']],
      ['/v1/connectors', {}, []],
    ];
    const values = [
      '%00',
      'a%00b',
      '%C0%80',
      '%FF%FE',
      '%ED%A0%80',
      '%',
      '..%2F..%2Fetc%2Fpasswd',
      'x'.repeat(5000),
      '1e999',
      '0x10',
      '0000-01-01T00:00:00Z',
      '2021-02-29T00:00:00Z',
      '',
    ];
    const requests: Array<{ path: string; headers: Record<string, string> }> = [];
    for (const [path, headers, params] of lists) {
      for (const p of [...params, 'unknownParam']) {
        for (const v of values) requests.push({ path: `${path}?${p}=${v}`, headers });
        // Repeated and bracketed parameters.
        requests.push({ path: `${path}?${p}=a&${p}=b`, headers }, { path: `${path}?${p}[x]=1&${p}[]=2`, headers });
      }
      requests.push({ path: `${path}?${'a=1&'.repeat(2000)}`, headers });
    }
    await inParallel(requests, 8, async (req) => {
      const res = await send(req);
      expect(res.status, req.path.slice(0, 80)).not.toBe(500);
    });
    // The same hostile values on the execution's timeoutMs (0x10 is 16 ms: a fair 504).
    for (const v of values) {
      const res = await send(
        {
          method: 'POST',
          path: `/v1/executions?timeoutMs=${v}`,
          headers: { ...pk(), ...json },
          body: JSON.stringify({ connectorId: 'resend', actionId: 'listDomains', input: {} }),
        },
        { upstream: true },
      );
      expect(res.status).not.toBe(500);
    }
  });

  it('answers hostile path ids with 404 not_found, on every route with a path id', async () => {
    const segments = [
      '%00',
      'prj_%00',
      '..',
      '%2e%2e',
      '..%2F..%2Fetc%2Fpasswd',
      '%2F',
      '%5C..%5C',
      '%FF',
      '%C0%AE%C0%AE',
      '%E0%A4%A',
      '%',
      '%F0%9F%92%A9',
      'prj_01JAAAAAAAAAAAAAAAAAAAAAAA',
      `prj_${'0'.repeat(26)}%00`,
      'x'.repeat(4000),
      "1'%20or%20'1'='1",
      '%0d%0aSet-Cookie:%20x=1',
    ];
    const templates = declaredRoutes()
      .filter((r) => r.path.includes(':'))
      .map((r) => r.path);
    expect(templates.length).toBeGreaterThan(10);
    const real: Record<string, string> = {
      projectId: ids.project,
      connectionId: ids.resend,
      invocationId: ids.invocation,
      keyId: ids.keyId,
      webhookId: ids.webhook,
      connectorId: 'slack',
      name: 'audio',
    };
    const routes = declaredRoutes().filter((r) => r.path.includes(':'));
    for (const route of routes) {
      const params = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
      for (const hostileParam of params) {
        for (const seg of segments) {
          const path = route.path.replace(/:(\w+)/g, (_m, name: string) =>
            name === hostileParam ? seg : (real[name] ?? 'x'),
          );
          const headers = route.path.startsWith('/v1/invocations') || route.path === '/v1/executions' ? pk() : ws();
          const res = await send({
            method: route.method,
            path,
            headers: { ...headers, ...json },
            body: route.method === 'GET' || route.method === 'DELETE' ? undefined : '{}',
          });
          expect(res.status, `${route.method} ${path.slice(0, 120)}`).toBeGreaterThanOrEqual(400);
          expect(res.status, `${route.method} ${path.slice(0, 120)}: ${res.text.slice(0, 200)}`).toBeLessThan(500);
        }
      }
    }
    // The artifact download, named with traversal and NUL: no file is ever read, and no SQL error.
    for (const name of ['..%2F..%2Fetc%2Fpasswd', '%00', 'audio%00', '%2e%2e', 'x'.repeat(3000), '%FF']) {
      const res = await send({ path: `/v1/invocations/${ids.invocation}/artifacts/${name}`, headers: pk() });
      expect(res.status, name).toBe(404);
      expect(res.json.error.code).toBe('not_found');
    }
    // Raw traversal the client would normally normalise away.
    for (const path of [
      '/v1/projects/../connections',
      '/v1/../v1/projects',
      '//v1//projects',
      '/v1/projects/./',
      '/v1/%2e%2e/healthz',
    ]) {
      const res = await send({ path, headers: ws() });
      expect(res.status, path).toBeLessThan(500);
    }
  });

  it('answers hostile headers with a 4xx and still sets X-Request-Id', async () => {
    // X-Request-Id: echoed when sane, replaced when not.
    const weird = ['', ' ', 'a b', 'x'.repeat(129), 'é', '\u00ff\u00fe', 'ok-id_123'];
    for (const id of weird) {
      const res = await send({ path: '/v1/projects', headers: { ...ws(), 'x-request-id': id } });
      expect(res.status).toBe(200);
    }
    // Authorization in every broken shape: 401, never more.
    const auths = [
      'Bearer',
      'Bearer ',
      'Bearer  ',
      `Bearer ${'k'.repeat(10_000)}`,
      'bearer ck_ws_x',
      'Basic Y2s6eA==',
      'Bearer ck_ws_\u00ff\u00fe',
      `Bearer ${engine.workspaceKey} extra`,
      'Token abc',
    ];
    for (const a of auths) {
      const res = await send({ path: '/v1/projects', headers: { authorization: a } });
      expect(res.status, JSON.stringify(a.slice(0, 40))).toBe(401);
    }
    // Idempotency-Key and Prefer.
    for (const key of ['', 'x'.repeat(256), '\u00ff'.repeat(10)]) {
      const res = await send(
        {
          method: 'POST',
          path: '/v1/executions',
          headers: { ...pk(), ...json, 'idempotency-key': key },
          body: JSON.stringify({ connectorId: 'resend', actionId: 'listDomains', input: {} }),
        },
        { upstream: true },
      );
      expect(res.status, JSON.stringify(key.slice(0, 10))).toBeLessThan(500);
    }
    for (const prefer of ['respond-async; wait=abc', 'respond-async'.repeat(100), 'wait=0', '\u00ff']) {
      const res = await send(
        {
          method: 'POST',
          path: '/v1/executions',
          headers: { ...pk(), ...json, prefer },
          body: JSON.stringify({ connectorId: 'resend', actionId: 'listDomains', input: {} }),
        },
        { upstream: true },
      );
      expect(res.status).toBeLessThan(500);
    }
    // Headers Node's own parser refuses (NUL, bare LF, oversized) never reach the app; the server lives on.
    for (const bad of [
      `GET /v1/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\u0000b\r\n\r\n`,
      `GET /v1/projects HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\u0000b\r\n\r\n`,
      `GET /v1/projects HTTP/1.1\r\nHost: x\r\nX-A: ${'a'.repeat(20_000)}\r\n\r\n`,
      `GET /v1/pro\u0000jects HTTP/1.1\r\nHost: x\r\n\r\n`,
      'NOT-HTTP\r\n\r\n',
    ]) {
      const res = await rawSocket(engine.baseUrl, bad);
      expect(res.statusLine === '' || /^HTTP\/1\.1 4\d\d/.test(res.statusLine), JSON.stringify(res.statusLine)).toBe(
        true,
      );
    }
  });

  it('answers unknown methods, HEAD and OPTIONS without a 5xx', async () => {
    for (const method of ['PROPFIND', 'TRACE', 'OPTIONS', 'HEAD', 'PATCH', 'PUT', 'DELETE', 'SEARCH']) {
      for (const path of [
        '/v1/projects',
        '/v1/executions',
        `/v1/invocations/${ids.invocation}`,
        '/healthz',
        '/nowhere',
      ]) {
        const res = await raw(engine.baseUrl, { method, path, headers: ws() });
        expect(res.headers['x-request-id'], `${method} ${path}`).toBeDefined();
        expect(res.status, `${method} ${path}`).toBeLessThan(500);
        if (method !== 'HEAD' && res.status >= 400) assertInvariants(res, `${method} ${path}`);
      }
    }
  });

  it('is still ready, and stored nothing it refused', async () => {
    const ready = await send({ path: '/readyz' });
    expect(ready.status).toBe(200);
    const projects = await send({ path: '/v1/projects?limit=100', headers: ws() });
    // Hostile, the first project, and the one unicode project: nothing else got in.
    expect(projects.json.data.map((p: { displayName: string }) => p.displayName).sort()).toEqual([
      'Café 💩 مرحبا e\u0301 \u200b\u202e',
      'Hostile',
    ]);
    const connections = await send({ path: '/v1/connections?limit=100', headers: ws() });
    expect(connections.json.data).toHaveLength(3);
  });
});
