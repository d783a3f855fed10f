import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRequest, compileCustomConnector, mapOutput } from '../../connectors/custom/custom-connector-compiler.ts';
import { customConnectorDefinition } from '../../connectors/custom/definition-schema.ts';
import { validateDefinition } from '../../connectors/custom/validate-definition.ts';
import { classifyUpstreamError } from '../../connectors/toolkit/classify.ts';
import { UpstreamClient } from '../../connectors/toolkit/upstream-client.ts';
import { UpstreamHttpError, UpstreamResponseTooLarge } from '../../connectors/toolkit/upstream-errors.ts';
import { CUSTOM_CONNECTOR_SCHEMA, customConnectorSchemaText } from '../../scripts/generate-docs.ts';

const doc = fs.readFileSync(new URL('../../docs/custom-connectors.md', import.meta.url), 'utf8');
const example = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(doc)![1]!);

describe('the published definition format', () => {
  it('docs/custom-connector.schema.json is generated from the schema the api validates with (npm run docs:settings)', () => {
    expect(fs.readFileSync(CUSTOM_CONNECTOR_SCHEMA, 'utf8')).toBe(customConnectorSchemaText());
  });

  it("the documentation's complete example is valid, by the api and by the published JSON Schema", () => {
    expect(validateDefinition(example)).toMatchObject({ ok: true });
    const ajv = new Ajv2020({ strict: false });
    const validate = ajv.compile(JSON.parse(fs.readFileSync(CUSTOM_CONNECTOR_SCHEMA, 'utf8')));
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
  });

  it('names the path of what is wrong, cross-field rules included', () => {
    const broken = structuredClone(example);
    broken.actions[0].path = '/items/{input.nope}/{id}';
    broken.actions[1].id = 'getItem';
    broken.actions[2].inputSchema = { type: 'object', properties: { name: { type: 'nonsense' } } };
    broken.auth = { type: 'api_key', in: 'cookie', name: 'k' };
    const result = validateDefinition(broken);
    expect(result.ok).toBe(false);
    const paths = (result as { issues: { path: (string | number)[] }[] }).issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['auth.in']));
    const second = structuredClone(example);
    second.actions[0].path = '/items/{input.nope}/{id}';
    second.actions[1].id = 'getItem';
    const r2 = validateDefinition(second) as { ok: false; issues: { path: (string | number)[]; message: string }[] };
    expect(r2.issues.map((i) => i.path.join('.'))).toEqual(['actions.0.path', 'actions.0.path', 'actions.1.id']);
    const third = structuredClone(example);
    third.actions[2].inputSchema = { type: 'object', properties: { name: { type: 'nonsense' } } };
    const r3 = validateDefinition(third) as { ok: false; issues: { path: (string | number)[]; message: string }[] };
    expect(r3.issues).toEqual([
      { path: ['actions', 2, 'inputSchema'], message: expect.stringContaining('is not a valid JSON Schema') },
    ]);
  });
});

describe('compiled actions', () => {
  const def = customConnectorDefinition.parse(example);
  const connector = compileCustomConnector(def, { source: 'custom', workspaceId: 'ws', version: 1 });

  it('build the request the definition describes: encoded path, optional query left out, body from the rest of the input', () => {
    const get = def.actions[0]!;
    expect(buildRequest(get, { id: 'a/b c' }, new Set(['id']), 'inv_1')).toEqual({
      method: 'GET',
      path: '/items/a%2Fb%20c',
    });
    expect(buildRequest(def.actions[1]!, { limit: 5 }, new Set(['limit', 'cursor']), 'inv_1')).toEqual({
      method: 'GET',
      path: '/items',
      query: { limit: '5' },
    });
    expect(buildRequest(def.actions[2]!, { name: 'N' }, new Set(), 'inv_1')).toEqual({
      method: 'POST',
      path: '/items',
      headers: { 'X-Source': 'connector-engine', 'idempotency-key': 'inv_1' },
      json: { name: 'N' },
    });
    expect(connector.actions[2]!.upstreamDedupes).toBe(true);
  });

  it('map the answer by pointer, fields and cursor', () => {
    expect(mapOutput(def.actions[0]!, { item: { id: 'x' } })).toEqual({ id: 'x' });
    expect(mapOutput(def.actions[1]!, { items: [1], next: 'c2' })).toEqual({ data: [1], nextCursor: 'c2' });
    expect(mapOutput(def.actions[2]!, { item: { id: 'x' } })).toEqual({ id: 'x', name: null });
  });

  it('file errors by the rules: code before status, 401 breaks, Retry-After read', () => {
    const table = connector.errors;
    expect(table.byCode.plan_exhausted).toBe('quota');
    expect(table.byStatus[401]).toBe('auth_invalid');
    expect(table.retryAfterOf!({ 'retry-after': '3' })).toBe(3000);
  });

  it('with OAuth, read rejected credentials as an expired token (renewed once before the connection breaks), and the token endpoint by RFC 6749', () => {
    const withAuth = (auth: Record<string, unknown>) =>
      compileCustomConnector(
        customConnectorDefinition.parse({ ...example, auth }),
        { source: 'custom', workspaceId: 'ws', version: 1 },
        { clientSecret: 'app-secret' },
      );
    const code = withAuth({
      type: 'oauth2',
      grant: 'authorization_code',
      authorizeUrl: 'https://a.example/authorize',
      tokenUrl: 'https://a.example/token',
      clientId: 'app',
    });
    expect(code.errors.byStatus[401]).toBe('auth_expired');
    const machine = withAuth({
      type: 'oauth2',
      grant: 'client_credentials',
      tokenUrl: 'https://a.example/token',
      scopes: ['read'],
    });
    expect(machine.errors.byStatus[401]).toBe('auth_expired');
    expect(machine.errors.byCode.plan_exhausted).toBe('quota');
    if (machine.auth.type !== 'oauth2' || code.auth.type !== 'oauth2') throw new Error('oauth2 expected');
    expect(machine.auth.fields.map((f) => [f.key, f.secret])).toEqual([
      ['clientId', false],
      ['clientSecret', true],
    ]);
    expect(machine.auth.provider).toMatchObject({ grant: 'client_credentials', baseScopes: ['read'] });
    expect(machine.auth.provider.client).toBeUndefined();
    const tokenError = (provider: typeof machine.auth.provider, body: unknown, status: number) =>
      classifyUpstreamError(provider, new UpstreamHttpError(status, {}, body));
    // The connection's client refused: its credentials are dead. The workspace's app refused: not a connection's fault.
    expect(
      tokenError(machine.auth.provider, { error: 'invalid_client', error_description: 'Unknown client.' }, 401),
    ).toMatchObject({ kind: 'auth_invalid', message: 'invalid_client: Unknown client.' });
    expect(tokenError(code.auth.provider, { error: 'invalid_client' }, 401)).toMatchObject({ kind: 'permission' });
    expect(tokenError(code.auth.provider, { error: 'invalid_grant' }, 400)).toMatchObject({
      kind: 'auth_invalid',
      message: 'invalid_grant',
    });
  });

  it('validate input with the JSON Schema and publish it as the catalog schema', () => {
    const parsed = connector.actions[0]!.input.safeParse({ id: '', extra: 1 });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['extra', 'id']);
  });
});

describe('bounded upstream answers (every connector)', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const size = Number(req.url!.slice(1));
      res.writeHead(200, { 'content-type': 'application/json' });
      // Streamed without a Content-Length, so only counting the bytes can stop it.
      res.write('{"pad":"');
      const chunk = 'x'.repeat(64 * 1024);
      for (let sent = 0; sent < size; sent += chunk.length) res.write(chunk);
      res.end('"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('cancels an answer past the cap with a clear error; a smaller one, and a binary one under its own cap, pass', async () => {
    const client = new UpstreamClient({
      baseUrl: base,
      authHeaders: {},
      timeoutMs: 10_000,
      maxBytes: 1024 * 1024,
      maxBinaryBytes: 4 * 1024 * 1024,
    });
    const err = await client.request({ method: 'GET', path: `/${8 * 1024 * 1024}` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamResponseTooLarge);
    expect((err as Error).message).toContain('larger than 1048576 bytes');
    expect(
      classifyUpstreamError(
        {
          errors: {
            codeOf: () => undefined,
            messageOf: () => undefined,
            byCode: {},
            byStatus: { 401: 'auth_invalid', 403: 'permission' },
          },
        },
        err,
      ),
    ).toMatchObject({
      kind: 'invalid_request',
      upstreamStatus: 200,
      upstreamCode: 'response_too_large',
    });
    expect((await client.request({ method: 'GET', path: `/${100 * 1024}` })).status).toBe(200);
    expect((await client.request({ method: 'GET', path: `/${2 * 1024 * 1024}`, binary: true })).status).toBe(200);
  });
});
