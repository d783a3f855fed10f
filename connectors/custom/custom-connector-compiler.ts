import { z } from 'zod';
import { basicAuthorization } from '../toolkit/auth.ts';
import type {
  ActionDefinition,
  AuthField,
  AuthScheme,
  ConnectorDefinition,
  CustomOrigin,
} from '../toolkit/connector-definition.ts';
import type { ErrorTable, ErrorTableEntry } from '../toolkit/error-table.ts';
import {
  type OAuthProviderDefinition,
  oauthStandardErrors,
  standardCredentials,
  type TokenResponse,
} from '../toolkit/oauth-provider.ts';
import type { UpstreamRequest } from '../toolkit/upstream-client.ts';
import type { FailureKind } from '../toolkit/upstream-errors.ts';
import { retryAfterMs } from '../toolkit/upstream-errors.ts';
import type {
  CustomAction,
  CustomAuth,
  CustomConnectorDefinition,
  FailureMeaning,
  OAuth2Auth,
} from './definition-schema.ts';
import { newSchemaCompiler } from './json-schema-input.ts';
import { placeholdersOf, renderJson, renderString, valueAtPointer } from './templates.ts';

/**
 * A custom connector definition (validated JSON) → the ConnectorDefinition every built-in
 * implements, so the engine runs it on the same path: credentials, limits, retries by side effect,
 * Broken, audit, catalog, tools and MCP. Compiling is pure and deterministic: a stored version
 * always compiles to the same connector (the lookup caches it by workspace, id and version).
 */
export function compileCustomConnector(
  def: CustomConnectorDefinition,
  origin: CustomOrigin,
  secrets: { clientSecret?: string } = {},
): ConnectorDefinition {
  const schemas = newSchemaCompiler();
  const auth = compileAuth(def, secrets);
  return {
    id: def.id,
    displayName: def.displayName,
    category: def.category ?? 'custom',
    description: def.description,
    baseUrl: def.baseUrl,
    auth,
    credentials: z
      .object(
        Object.fromEntries(
          auth.fields.map((f) => [
            f.key,
            f.required ? z.string().min(1).max(4096) : z.string().min(1).max(4096).optional(),
          ]),
        ),
      )
      .strict() as unknown as z.ZodType<Record<string, string>>,
    rateLimit: def.rateLimit,
    credentialTest: {
      method: def.credentialTest.method,
      path: def.credentialTest.path,
      ...(def.credentialTest.query ? { query: def.credentialTest.query } : {}),
    },
    errors: compileErrors(def),
    actions: def.actions.map((a) => compileAction(a, schemas)),
    origin,
  };
}

const MEANING: Record<FailureMeaning, FailureKind> = {
  invalid_credentials: 'auth_invalid',
  permission: 'permission',
  quota: 'quota',
  rate_limited: 'rate_limited',
  transient: 'transient',
  invalid_request: 'invalid_request',
};

function compileAuth(def: CustomConnectorDefinition, secrets: { clientSecret?: string }): AuthScheme {
  const a: CustomAuth = def.auth;
  switch (a.type) {
    case 'api_key': {
      const field: AuthField = { key: 'apiKey', label: 'API key', secret: true, required: true };
      if (a.in === 'query')
        return { type: 'api_key', fields: [field], headers: () => ({}), query: (c) => ({ [a.name]: c.apiKey ?? '' }) };
      return {
        type: 'api_key',
        fields: [field],
        headers: (c) => ({ [a.name.toLowerCase()]: `${a.prefix ?? ''}${c.apiKey ?? ''}` }),
      };
    }
    case 'bearer':
      return {
        type: 'api_key',
        fields: [{ key: 'token', label: 'Token', secret: true, required: true }],
        headers: (c) => ({ authorization: `Bearer ${c.token ?? ''}` }),
      };
    case 'basic':
      return {
        type: 'basic',
        fields: [
          { key: 'username', label: 'Username', secret: false, required: true },
          { key: 'password', label: 'Password', secret: true, required: true },
        ],
        headers: (c) => ({ authorization: basicAuthorization(c.username ?? '', c.password ?? '') }),
      };
    case 'oauth2':
      return {
        type: 'oauth2',
        provider: compileProvider(def, a, secrets.clientSecret ?? ''),
        fields:
          a.grant === 'client_credentials'
            ? [
                // Each connection is its own client; the engine fetches and stores its access tokens.
                { key: 'clientId', label: 'Client ID', secret: false, required: true },
                { key: 'clientSecret', label: 'Client secret', secret: true, required: true },
              ]
            : [
                { key: 'accessToken', label: 'Access token', secret: true, required: true },
                { key: 'refreshToken', label: 'Refresh token', secret: true, required: false },
              ],
        headers: (c) => ({ authorization: `Bearer ${c.accessToken ?? ''}` }),
      };
  }
}

function compileProvider(def: CustomConnectorDefinition, a: OAuth2Auth, clientSecret: string): OAuthProviderDefinition {
  const common = {
    // The connector's own provider: one client per custom connector (the workspace's), or per connection.
    id: def.id,
    displayName: def.displayName,
    tokenUrl: a.tokenUrl,
    refreshTokenRotates: false,
    clientAuthentication: a.clientAuthentication ?? 'body',
    baseScopes: a.scopes ?? [],
    ...(a.scopeSeparator !== undefined ? { scopeSeparator: a.scopeSeparator } : {}),
    credentialsFrom: (token: TokenResponse, previous: Readonly<Record<string, string>>) =>
      standardCredentials(token, previous, 'accessToken'),
  };
  const errors = (byCode: ErrorTable['byCode'], byStatus: ErrorTable['byStatus']): ErrorTable => ({
    codeOf: (body) => stringAt(body, '/error'),
    // RFC 6749 §5.2: the code (`invalid_grant`) and what the provider adds to it.
    messageOf: (body) =>
      [stringAt(body, '/error'), stringAt(body, '/error_description')].filter(Boolean).join(': ') || undefined,
    byCode,
    byStatus,
  });
  if (a.grant === 'client_credentials') {
    return {
      ...common,
      grant: 'client_credentials',
      authorizeUrl: '',
      pkce: false,
      // The client is the connection's: a token endpoint that does not know it means its credentials are dead.
      errors: errors(
        { ...oauthStandardErrors, invalid_client: 'auth_invalid', unauthorized_client: 'auth_invalid' },
        { 401: 'auth_invalid', 403: 'permission' },
      ),
    };
  }
  return {
    ...common,
    authorizeUrl: a.authorizeUrl,
    pkce: a.pkce ?? true,
    client: { clientId: a.clientId, clientSecret },
    errors: errors(oauthStandardErrors, { 401: 'permission', 403: 'permission' }),
  };
}

const stringAt = (body: unknown, pointer: string | undefined): string | undefined => {
  if (pointer === undefined) return undefined;
  const v = valueAtPointer(body, pointer);
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
};

/**
 * Error rules → an ErrorTable. Without a rule, 401 means invalid credentials and 403 a missing
 * permission. With OAuth, rejected credentials are an access token the service no longer takes
 * (`auth_expired`): the engine gets a new token and runs the call once more, and only when the new
 * token is rejected too is the connection broken (worker/execute/run-attempt.ts).
 */
function compileErrors(def: CustomConnectorDefinition): ErrorTable {
  const e = def.errors ?? {};
  const rejected: FailureKind = def.auth.type === 'oauth2' ? 'auth_expired' : 'auth_invalid';
  const meaning = (means: FailureMeaning): FailureKind => (means === 'invalid_credentials' ? rejected : MEANING[means]);
  const byCode: Record<string, ErrorTableEntry> = {};
  const byStatus: Partial<Record<number, ErrorTableEntry>> = {};
  for (const rule of e.rules ?? []) {
    if (rule.code !== undefined) byCode[rule.code] ??= meaning(rule.means);
    else if (rule.status !== undefined) byStatus[rule.status] ??= meaning(rule.means);
  }
  const retry = e.retryAfter;
  return {
    codeOf: (body) => stringAt(body, e.codePointer),
    messageOf: (body) => stringAt(body, e.messagePointer),
    byCode,
    byStatus: { 401: rejected, 403: 'permission', ...byStatus },
    ...(retry ? { retryAfterOf: (headers) => retryAfterOf(headers, retry.header, retry.unit ?? 'seconds') } : {}),
  };
}

function retryAfterOf(
  headers: Record<string, string | string[] | undefined>,
  header: string,
  unit: 'seconds' | 'milliseconds' | 'epoch_seconds',
): number | undefined {
  const raw = headers[header.toLowerCase()];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined) return undefined;
  if (unit === 'seconds') return retryAfterMs({ 'retry-after': value });
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) return undefined;
  return unit === 'milliseconds' ? Math.round(n) : Math.max(0, n * 1000 - Date.now());
}

function compileAction(
  a: CustomAction,
  schemas: ReturnType<typeof newSchemaCompiler>,
): ActionDefinition<Record<string, unknown>, unknown> {
  // The input fields the path, query and headers use; without a body template, the rest is the body.
  const mapped = new Set(
    [a.path, ...Object.values(a.query ?? {}), ...Object.values(a.headers ?? {})].flatMap((t) =>
      placeholdersOf(t).map((p) => p[0]!),
    ),
  );
  const output = a.pagination
    ? z.unknown().meta({
        type: 'object',
        properties: { data: a.outputSchema ?? {}, nextCursor: { type: ['string', 'null'] } },
        required: ['data', 'nextCursor'],
      })
    : z.unknown().meta(a.outputSchema ?? {});
  return {
    id: a.id,
    displayName: a.displayName,
    description: a.description,
    sideEffects: a.sideEffects,
    upstreamDedupes: a.idempotencyHeader !== undefined,
    input: schemas.zodFor(a.inputSchema),
    output,
    examples: a.examples ?? [],
    async run(ctx, input) {
      const res = await ctx.http.request(buildRequest(a, input, mapped, ctx.idempotencyKey));
      return mapOutput(a, res.body);
    },
  };
}

/** The upstream request an action describes, for one input. */
export function buildRequest(
  a: CustomAction,
  input: Record<string, unknown>,
  mapped: ReadonlySet<string>,
  idempotencyKey: string,
): UpstreamRequest {
  const req: UpstreamRequest = { method: a.method, path: String(renderString(a.path, input, 'path')) };
  const query = renderRecord(a.query, input);
  if (query) req.query = query;
  const headers = renderRecord(a.headers, input) ?? {};
  if (a.idempotencyHeader) headers[a.idempotencyHeader.toLowerCase()] = idempotencyKey;
  if (Object.keys(headers).length) req.headers = headers;
  if (a.body) {
    const value =
      a.body.value !== undefined
        ? renderJson(a.body.value, input)
        : Object.fromEntries(Object.entries(input).filter(([k]) => !mapped.has(k)));
    if (a.body.encoding === 'json') req.json = value;
    else
      req.form = Object.fromEntries(
        Object.entries((value ?? {}) as Record<string, unknown>).map(([k, v]) => [
          k,
          Array.isArray(v) ? v.map(formText) : formText(v),
        ]),
      );
  }
  return req;
}

const formText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

function renderRecord(
  templates: Record<string, string> | undefined,
  input: unknown,
): Record<string, string> | undefined {
  if (!templates) return undefined;
  const out: Record<string, string> = {};
  for (const [k, t] of Object.entries(templates)) {
    const v = renderString(t, input, 'text');
    if (v !== undefined && v !== '') out[k] = String(v);
  }
  return Object.keys(out).length ? out : undefined;
}

/** The action's output from the upstream's answer: a pointer, a projection of fields, and the next cursor. */
export function mapOutput(a: CustomAction, body: unknown): unknown {
  const o = a.output;
  const data = o?.fields
    ? Object.fromEntries(Object.entries(o.fields).map(([k, p]) => [k, valueAtPointer(body, p) ?? null]))
    : o?.pointer !== undefined
      ? (valueAtPointer(body, o.pointer) ?? null)
      : (body ?? null);
  if (!a.pagination) return data;
  const next = valueAtPointer(body, a.pagination.nextCursor);
  return { data, nextCursor: next === undefined || next === null || next === '' ? null : String(next) };
}
