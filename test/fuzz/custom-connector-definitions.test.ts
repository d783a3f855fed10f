import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient } from '../support/http.ts';

/**
 * Property-based: random custom connector definitions (valid ones, valid ones with one part
 * replaced by random JSON or removed, and plain random JSON) posted to POST /v1/connectors never
 * make the api answer 5xx; a refusal is 400 invalid_input whose every detail names a path inside
 * the definition; an accepted one is listed by the catalog (its JSON Schemas published) and can be
 * deleted. FUZZ_SEED replays a failure.
 */
const RUNS = Math.max(200, Number(process.env.FUZZ_RUNS ?? 220));
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

const propertySchema = fc.constantFrom<Record<string, unknown>>(
  { type: 'string' },
  { type: 'string', minLength: 1, maxLength: 20 },
  { type: 'integer', minimum: 0 },
  { type: 'boolean' },
  { type: 'array', items: { type: 'string' } },
  { type: 'string', format: 'email' },
  { oneOf: [{ type: 'string' }, { type: 'number' }] },
  { type: 'object', properties: { a: { type: 'string' } } },
);
const name = fc.stringMatching(/^[a-z][a-zA-Z0-9_]{0,8}$/);

const action = fc
  .record({
    id: fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,10}$/),
    sideEffects: fc.constantFrom('read', 'write'),
    method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
    props: fc.dictionary(name, propertySchema, { minKeys: 0, maxKeys: 4 }),
    inPath: fc.boolean(),
    pagination: fc.boolean(),
    output: fc.constantFrom(undefined, { pointer: '/data' }, { fields: { id: '/id', n: '/a/b' } }, { pointer: '' }),
    idempotency: fc.boolean(),
  })
  .map((a) => {
    const names = Object.keys(a.props);
    const pathField = a.inPath ? names[0] : undefined;
    return {
      id: a.id,
      displayName: `Action ${a.id}`,
      description: 'Generated.',
      sideEffects: a.sideEffects,
      method: a.method,
      path: pathField ? `/things/{input.${pathField}}` : '/things',
      ...(names.length > 1 ? { query: { q: `{input.${names[1]}}` } } : {}),
      ...(a.method !== 'GET' ? { body: { encoding: 'json' } } : {}),
      inputSchema: { type: 'object', properties: a.props, ...(pathField ? { required: [pathField] } : {}) },
      ...(a.output ? { output: a.output } : {}),
      ...(a.pagination ? { pagination: { nextCursor: '/next' } } : {}),
      ...(a.idempotency && a.sideEffects === 'write' ? { idempotencyHeader: 'Idempotency-Key' } : {}),
    };
  });

const auth = fc.constantFrom<Record<string, unknown>>(
  { type: 'bearer' },
  { type: 'basic' },
  { type: 'api_key', in: 'header', name: 'X-Api-Key' },
  { type: 'api_key', in: 'query', name: 'key' },
  {
    type: 'oauth2',
    grant: 'authorization_code',
    authorizeUrl: 'https://auth.example.com/authorize',
    tokenUrl: 'https://auth.example.com/token',
    clientId: 'client',
    clientSecret: 'secret-0123456789',
  },
  {
    type: 'oauth2',
    grant: 'client_credentials',
    tokenUrl: 'https://auth.example.com/token',
    scopes: ['read'],
    clientAuthentication: 'basic',
  },
);

const validDefinition = fc
  .record({
    id: fc.stringMatching(/^custom-[a-z0-9]{1,12}$/),
    displayName: fc.constant('Generated'),
    description: fc.constant('A generated connector.'),
    baseUrl: fc.constantFrom('https://api.example.com', 'https://api.example.com/v1/', 'http://127.0.0.1:9'),
    auth,
    credentialTest: fc.constantFrom(
      { method: 'GET', path: '/me' },
      { method: 'POST', path: '/auth/check', query: { a: '1' } },
    ),
    rateLimit: fc.record({ requestsPerMinute: fc.integer({ min: 1, max: 1000 }) }),
    errors: fc.constantFrom(undefined, {
      codePointer: '/error/code',
      rules: [{ status: 401, means: 'invalid_credentials' }],
      retryAfter: { header: 'Retry-After' },
    }),
    actions: fc.array(action, { minLength: 1, maxLength: 3 }),
  })
  .map((d) => JSON.parse(JSON.stringify(d)) as Record<string, unknown>);

/** Every path of a JSON value, as keys. */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([k, v]) => pathsOf(v, [...prefix, k]))];
}

/** A valid definition with the value at one path replaced (or removed). */
const mutated = fc
  .tuple(
    validDefinition,
    fc.nat(),
    fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined), fc.string({ maxLength: 30 }), fc.integer()),
  )
  .map(([def, pick, replacement]) => {
    const paths = pathsOf(def).filter((p) => p.length > 0);
    const path = paths[pick % paths.length]!;
    let node = def as Record<string | number, unknown>;
    for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
    const last = path.at(-1)!;
    if (replacement === undefined) delete node[last];
    else node[last] = replacement;
    return def;
  });

const anyDefinition = fc.oneof(
  { weight: 3, arbitrary: validDefinition },
  { weight: 5, arbitrary: mutated },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

describe('random custom connector definitions', () => {
  let engine: Engine;
  let admin: ApiClient;

  beforeAll(async () => {
    engine = await startEngine();
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
  });
  afterAll(async () => engine?.stop());

  it(`never make the api answer 5xx (${RUNS} definitions); invalid ones name a path`, async () => {
    const seen = { created: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(anyDefinition, async (definition) => {
        const res = await admin.post('/v1/connectors', { definition });
        expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
        if (res.status === 201) {
          seen.created++;
          const id = res.body.id as string;
          const catalog = await admin.get(`/v1/connectors/${id}`);
          expect(catalog.status, JSON.stringify(catalog.body)).toBe(200);
          expect(catalog.body.actions.every((a: { inputSchema: unknown }) => typeof a.inputSchema === 'object')).toBe(
            true,
          );
          expect((await admin.delete(`/v1/connectors/${id}`)).status).toBe(204);
          return;
        }
        expect(res.status, JSON.stringify(res.body)).toBe(400);
        seen.refused++;
        expect(res.body.error.code).toBe('invalid_input');
        expect(res.body.error.details.length).toBeGreaterThan(0);
        for (const d of res.body.error.details) {
          expect(d.path).toMatch(/^definition/);
          expect(typeof d.message).toBe('string');
          expect(d.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
    // Both outcomes were exercised.
    expect(seen.created).toBeGreaterThan(10);
    expect(seen.refused).toBeGreaterThan(10);
  }, 240_000);
});
