import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { publicFields } from '../../connectors/toolkit/auth.ts';
import { classifyUpstreamError } from '../../connectors/toolkit/classify.ts';
import type {
  ActionContext,
  ActionDefinition,
  ConnectorDefinition,
} from '../../connectors/toolkit/connector-definition.ts';
import { testCredentials } from '../../connectors/toolkit/credential-test.ts';
import { classifyByTable } from '../../connectors/toolkit/error-table.ts';
import { scopesFor } from '../../connectors/toolkit/oauth-provider.ts';
import { apiUrlSetting, settingsOf } from '../../connectors/toolkit/settings.ts';
import { type FailureKind, UpstreamHttpError } from '../../connectors/toolkit/upstream-errors.ts';
import { toTsType } from '../../scripts/generate-sdk-types.ts';
import { loadConfig } from '../../shared/config.ts';
import { upstreamClientFor } from '../../shared/connections/upstream-for.ts';
import type { ConformanceFake } from './fake-contract.ts';

/**
 * The connector conformance checks, as functions that return problems (empty: conforms). The suite
 * (connectors.conformance.test.ts) runs them for every registered connector; a deliberately broken
 * connector must fail them (broken-connector.test.ts). Each problem names what to fix.
 */

type JsonObject = { [key: string]: unknown };
const asObject = (schema: unknown): JsonObject => (schema && typeof schema === 'object' ? (schema as JsonObject) : {});

/** Everything that can be checked without calling anyone. */
export function definitionProblems(connector: ConnectorDefinition): string[] {
  const problems: string[] = [];
  const p = (message: string) => problems.push(message);

  if (!/^[a-z][a-z0-9]{1,39}$/.test(connector.id)) p(`id "${connector.id}" must be 2-40 lowercase letters and digits`);
  for (const key of ['displayName', 'category', 'description'] as const)
    if (!connector[key]?.trim()) p(`${key} is empty`);
  try {
    const url = new URL(connector.baseUrl);
    if (url.protocol !== 'https:') p(`baseUrl ${connector.baseUrl} is not https`);
  } catch {
    p(`baseUrl "${connector.baseUrl}" is not a URL`);
  }
  if (!(connector.rateLimit.requestsPerMinute > 0)) p('rateLimit.requestsPerMinute must be positive');
  try {
    for (const s of settingsOf([connector])) {
      const parsed = loadConfig({ ...minimalEnv, [s.name]: s.default ?? 'value' });
      if (s.default && parsed.connectorSettings[s.name] !== s.default)
        p(`setting ${s.name} is not read by shared/config.ts`);
    }
  } catch (err) {
    p(`settings: ${(err as Error).message}`);
  }

  // Auth: every credential field is documented, and every documented field is a credential.
  const fields = connector.auth.fields;
  const fieldKeys = fields.map((f) => f.key);
  if (new Set(fieldKeys).size !== fieldKeys.length) p('auth fields repeat a key');
  for (const f of fields) if (!f.label?.trim()) p(`auth field ${f.key} has no label`);
  const credentials = asObject(z.toJSONSchema(connector.credentials, { io: 'input', unrepresentable: 'any' }));
  const schemaKeys = Object.keys(asObject(credentials.properties));
  const required = new Set((credentials.required as string[] | undefined) ?? []);
  for (const key of schemaKeys)
    if (!fieldKeys.includes(key)) p(`credential field ${key} is not documented in auth.fields`);
  for (const f of fields) {
    if (!schemaKeys.includes(f.key)) p(`auth field ${f.key} is not in the credentials schema`);
    else if (f.required !== required.has(f.key))
      p(`auth field ${f.key} says required=${f.required}, the schema says ${required.has(f.key)}`);
  }
  if (connector.auth.type === 'oauth2' && connector.auth.fields.some((f) => !f.secret))
    p('an OAuth token field must be secret');
  if (
    connector.connectionBaseUrlField &&
    !fields.some((f) => f.key === connector.connectionBaseUrlField && !f.secret)
  ) {
    p(`connectionBaseUrlField ${connector.connectionBaseUrlField} must be a non-secret auth field`);
  }
  for (const placeholder of connector.credentialTest.path.matchAll(/\{([A-Za-z0-9_]+)\}/g)) {
    if (!fields.some((f) => f.key === placeholder[1] && !f.secret))
      p(`credentialTest path names {${placeholder[1]}}, which is not a non-secret auth field`);
  }
  // The credential test is a read: it must not send a body that could create anything.
  const probe = connector.credentialTest;
  if (probe.json !== undefined || probe.form !== undefined || !['GET', 'POST'].includes(probe.method))
    p('credentialTest must be a read without a body (GET, or a body-less POST method call)');

  // Errors: what 401, 403, 429 and 5xx mean.
  const table = connector.errors;
  for (const status of [401, 403])
    if (table.byStatus?.[status] === undefined) p(`errors.byStatus does not say what a bare ${status} means`);
  const bare = (status: number): FailureKind =>
    classifyByTable(table, new UpstreamHttpError(status, {}, undefined)).kind;
  if (bare(429) !== 'rate_limited') p(`a bare 429 is classified ${bare(429)}, not rate_limited`);
  for (const status of [500, 502, 503])
    if (bare(status) !== 'transient') p(`a bare ${status} is classified ${bare(status)}, not transient`);

  // Inbound hook: its types are named after the connector, and an unsigned request is never an event.
  if (connector.inbound) {
    for (const t of connector.inbound.eventTypes)
      if (!t.startsWith(`${connector.id}.`)) p(`inbound event type ${t} does not start with "${connector.id}."`);
    const unsigned = connector.inbound.receive(
      { rawBody: Buffer.from('{"type":"event_callback"}'), headers: {}, url: 'https://engine.example.com/v1/inbound' },
      { credentials: {}, signingSecret: undefined, nowMs: Date.now() },
    );
    if (unsigned.kind !== 'rejected') p(`inbound hook accepts an unsigned request (${unsigned.kind})`);
  }

  // Actions.
  const ids = connector.actions.map((a) => a.id);
  if (ids.length === 0) p('no actions');
  if (new Set(ids).size !== ids.length) p('two actions share an id');
  for (const action of connector.actions)
    problems.push(...actionProblems(connector, action).map((m) => `${action.id}: ${m}`));
  if (connector.auth.type === 'oauth2' && scopesFor(connector.auth.provider, connector.actions).length === 0)
    p('an OAuth connector asks for no scopes');
  return problems;
}

function actionProblems(connector: ConnectorDefinition, action: ActionDefinition): string[] {
  const problems: string[] = [];
  const p = (message: string) => problems.push(message);
  if (!/^[a-z][A-Za-z0-9]{1,63}$/.test(action.id)) p('id must be camelCase letters and digits');
  if (!action.displayName?.trim()) p('displayName is empty');
  if (!action.description?.trim()) p('description is empty');
  if (action.sideEffects !== 'read' && action.sideEffects !== 'write') p(`sideEffects "${String(action.sideEffects)}"`);
  if (action.upstreamDedupes && action.sideEffects !== 'write') p('upstreamDedupes only means something on a write');
  if (connector.auth.type === 'oauth2' && !action.scopes?.length)
    p('an action of an OAuth connector must list the scopes it needs');
  for (const [io, schema] of [
    ['input', action.input],
    ['output', action.output],
  ] as const) {
    if (!schema) {
      p(`no ${io} schema`);
      continue;
    }
    try {
      const json = asObject(z.toJSONSchema(schema, { io, unrepresentable: 'any' }));
      if (json.type !== 'object') p(`the ${io} schema is not an object`);
      toTsType(json); // the SDK can type it
    } catch (err) {
      p(`the ${io} schema cannot be published: ${(err as Error).message}`);
    }
  }
  if (!action.examples?.length) p('no examples');
  for (const [i, example] of (action.examples ?? []).entries()) {
    if (!example.summary?.trim()) p(`example ${i} has no summary`);
    const parsed = action.input.safeParse(example.input);
    if (!parsed.success)
      p(
        `example ${i} does not fit the input schema: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`,
      );
  }
  return problems;
}

const minimalEnv = {
  DATABASE_URL: 'postgres://conformance@127.0.0.1/x',
  REDIS_URL: 'redis://127.0.0.1:6379',
  CONNECTORS_ENCRYPTION_KEYS: 'k1:x',
};

/** The engine's own client builder, pointed at the fake by the connector's derived `<ID>_API_URL`. */
function clientFor(connector: ConnectorDefinition, fake: ConformanceFake, credentials: Record<string, string>) {
  const config = loadConfig({ ...minimalEnv, [apiUrlSetting(connector)]: fake.apiUrl, UPSTREAM_TIMEOUT_MS: '10000' });
  return upstreamClientFor(connector, credentials, config);
}

function contextFor(
  connector: ConnectorDefinition,
  fake: ConformanceFake,
  credentials: Record<string, string>,
): ActionContext {
  return {
    http: clientFor(connector, fake, credentials),
    fields: publicFields(connector.auth, credentials),
    invocationId: `inv_conformance_${Math.random().toString(36).slice(2)}`,
    idempotencyKey: `conformance-${Math.random().toString(36).slice(2)}`,
    saveArtifact: async (name, contentType, data) => ({
      contentType,
      sizeBytes: data.length,
      url: `/v1/invocations/inv_x/artifacts/${name}`,
    }),
  };
}

async function outcomeOf(
  connector: ConnectorDefinition,
  run: () => Promise<unknown>,
): Promise<{ output?: unknown; kind?: FailureKind | 'a handler error'; message?: string }> {
  try {
    return { output: await run() };
  } catch (err) {
    try {
      const failure = classifyUpstreamError(connector, err);
      return { kind: failure.kind, message: failure.message };
    } catch {
      return { kind: 'a handler error', message: err instanceof Error ? err.message : String(err) };
    }
  }
}

/** Runs the credential test and every example against the connector's fake. */
export async function fakeProblems(connector: ConnectorDefinition, fake: ConformanceFake): Promise<string[]> {
  const problems: string[] = [];
  const p = (message: string) => problems.push(message);
  const valid = connector.credentials.safeParse(fake.credentials);
  if (!valid.success) return [`the fake's credentials do not fit the credentials schema`];
  if (!connector.credentials.safeParse(fake.rejectedCredentials).success)
    p(`the fake's rejected credentials do not fit the credentials schema`);

  const verdict = await outcomeOf(connector, () =>
    testCredentials(connector, clientFor(connector, fake, fake.credentials), fake.credentials),
  );
  if (!(verdict.output as { valid?: boolean } | undefined)?.valid)
    p(
      `the credential test fails with the fake's valid credentials (${verdict.kind ?? JSON.stringify(verdict.output)}: ${verdict.message ?? ''})`,
    );
  const rejected = await outcomeOf(connector, () =>
    testCredentials(connector, clientFor(connector, fake, fake.rejectedCredentials), fake.rejectedCredentials),
  );
  if ((rejected.output as { valid?: boolean } | undefined)?.valid !== false)
    p(`the credential test does not reject dead credentials (${rejected.kind ?? JSON.stringify(rejected.output)})`);

  for (const action of connector.actions) {
    for (const [i, example] of action.examples.entries()) {
      const input = action.input.safeParse(example.input);
      if (!input.success) continue; // reported by definitionProblems
      const result = await outcomeOf(connector, () =>
        action.run(contextFor(connector, fake, fake.credentials), input.data),
      );
      if (result.kind) {
        p(`${action.id}: example ${i} fails on the fake (${result.kind}: ${result.message})`);
        continue;
      }
      const parsed = action.output.safeParse(result.output);
      if (!parsed.success) {
        p(
          `${action.id}: example ${i}'s output does not fit the output schema: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`,
        );
      } else if (
        !isDeepStrictEqual(JSON.parse(JSON.stringify(parsed.data)), JSON.parse(JSON.stringify(result.output)))
      ) {
        p(`${action.id}: example ${i}'s output has fields the output schema does not declare`);
      }
    }
  }

  // The service's own errors, as the connector's table reads them. A read example is the probe
  // (any example when there is no read): the injected answer comes before the fake acts.
  const probeAction = connector.actions.find((a) => a.sideEffects === 'read') ?? connector.actions[0];
  const probeInput = probeAction?.input.safeParse(probeAction.examples[0]?.input);
  if (probeAction && probeInput?.success) {
    const run = (credentials: Record<string, string>) => () =>
      probeAction.run(contextFor(connector, fake, credentials), probeInput.data);
    const expectations: Array<[string, () => void, FailureKind[], Record<string, string>]> = [
      ['dead credentials', () => {}, ['auth_invalid'], fake.rejectedCredentials],
      ['a rate limit', () => fake.failNext('rate_limited'), ['rate_limited'], fake.credentials],
      ['an outage (5xx)', () => fake.failNext('server_error'), ['transient'], fake.credentials],
      ['a missing permission', () => fake.failNext('permission'), ['permission'], fake.credentials],
    ];
    for (const [what, arrange, kinds, credentials] of expectations) {
      arrange();
      const result = await outcomeOf(connector, run(credentials));
      if (!result.kind || !kinds.includes(result.kind as FailureKind)) {
        p(`the service's answer to ${what} is classified ${result.kind ?? 'as a success'}, not ${kinds.join(' or ')}`);
      }
    }
  }
  return problems;
}
