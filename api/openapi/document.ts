import { z } from 'zod';
import * as r from '../../shared/api-resources.ts';
import { type ErrorCode, statusByCode } from '../../shared/errors.ts';
import { MAX_RUNNING_CALLS_OVERRIDE } from '../../shared/limiter/running-share.ts';
import { pageQuery } from '../pagination.ts';
import { connectWithKey, connectWithOAuth, createSession } from '../routes/connect-sessions.ts';
import { createConnection, listConnections, updateConnection } from '../routes/connections.ts';
import { definitionBody, importBody } from '../routes/custom-connectors.ts';
import { listEvents } from '../routes/events.ts';
import { executeBody, executeQuery } from '../routes/executions.ts';
import { listInvocations } from '../routes/invocations.ts';
import { authorizeBody, callbackQuery } from '../routes/oauth.ts';
import { createKey, createProject, listKeys, listProjects, updateProjectBody } from '../routes/projects.ts';
import { createWebhook } from '../routes/webhooks-out.ts';

/**
 * The OpenAPI 3.1 document of the API, built from the same zod schemas the routes validate requests
 * with and the response schemas the presenters are typed by (resources.ts): the document cannot
 * drift from the code without `tsc` or test/api/openapi.test.ts noticing. Served at /openapi.json.
 */

type Auth = 'none' | 'any' | 'workspace' | 'project' | 'optional' | 'session';
type Body = z.ZodType | { contentType: string; description: string; schema?: Record<string, unknown> };

interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express form: `/v1/projects/:projectId`. */
  path: string;
  tag: string;
  summary: string;
  auth: Auth;
  body?: z.ZodType;
  query?: z.ZodObject;
  /** Success statuses → body (`null`: no body). */
  ok: Record<number, Body | null>;
  /** Codes beyond the ones every route of its kind can answer (commonErrors). */
  errors?: ErrorCode[];
  /** Request headers this route reads. */
  headers?: ('Idempotency-Key' | 'Prefer')[];
  /** Success headers beyond X-Request-Id. */
  okHeaders?: Record<number, string[]>;
  /** Error headers beyond X-Request-Id and Retry-After. */
  errorHeaders?: Record<number, string[]>;
}

const page = r.pageOf;
const loose = { type: 'object', additionalProperties: true };
const anyJson = {
  description: 'A JSON-RPC 2.0 message (MCP Streamable HTTP); see docs/mcp.md.',
  contentType: 'application/json',
  schema: {},
};

/** Every route of the API. test/api/openapi.test.ts checks it against the routes the app declares. */
export const ROUTES: RouteDoc[] = [
  { method: 'get', path: '/healthz', tag: 'Health', summary: 'Liveness', auth: 'none', ok: { 200: r.HealthSchema } },
  {
    method: 'get',
    path: '/readyz',
    tag: 'Health',
    summary: 'Readiness (Postgres and Redis reachable)',
    auth: 'none',
    ok: { 200: r.HealthSchema },
  },
  {
    method: 'get',
    path: '/metrics',
    tag: 'Health',
    summary: 'Prometheus metrics',
    auth: 'none',
    ok: { 200: { contentType: 'text/plain', description: 'Prometheus text format.', schema: { type: 'string' } } },
  },
  {
    method: 'get',
    path: '/openapi.json',
    tag: 'Reference',
    summary: 'This document',
    auth: 'none',
    ok: { 200: { contentType: 'application/json', description: 'The OpenAPI 3.1 document.', schema: loose } },
  },
  {
    method: 'get',
    path: '/docs',
    tag: 'Reference',
    summary: 'This document, browsable (Swagger UI)',
    auth: 'none',
    ok: { 200: { contentType: 'text/html', description: 'The reference page.', schema: { type: 'string' } } },
  },
  {
    method: 'get',
    path: '/console',
    tag: 'Pages',
    summary: 'The operator console',
    auth: 'none',
    ok: { 200: { contentType: 'text/html', description: 'The console page.', schema: { type: 'string' } } },
  },
  {
    method: 'get',
    path: '/connect/:token',
    tag: 'Pages',
    summary: 'The hosted connect page of a connect session',
    auth: 'none',
    ok: { 200: { contentType: 'text/html', description: 'The connect page.', schema: { type: 'string' } } },
  },

  {
    method: 'post',
    path: '/v1/executions',
    tag: 'Executions',
    summary: 'Execute an action (sync, or async with `Prefer: respond-async`)',
    auth: 'any',
    body: executeBody,
    query: executeQuery,
    headers: ['Idempotency-Key', 'Prefer'],
    ok: { 200: r.ExecutionResultSchema, 202: r.ExecutionAcceptedSchema },
    okHeaders: { 200: ['RateLimit', 'RateLimit-Policy'], 202: ['Location', 'RateLimit', 'RateLimit-Policy'] },
    errorHeaders: { 429: ['RateLimit', 'RateLimit-Policy'] },
    errors: [
      'invalid_credentials_shape',
      'forbidden',
      'unknown_connector',
      'unknown_action',
      'no_connection',
      'connection_broken',
      'ambiguous_connection',
      'idempotency_key_reused',
      'upstream_error',
      'upstream_unavailable',
      'outcome_unknown',
      'timeout',
    ],
  },
  {
    method: 'get',
    path: '/v1/invocations',
    tag: 'Invocations',
    summary: 'List invocations (the audit log)',
    auth: 'any',
    query: listInvocations,
    ok: { 200: page(r.InvocationSchema) },
  },
  {
    method: 'get',
    path: '/v1/invocations/:invocationId',
    tag: 'Invocations',
    summary: 'Get an invocation',
    auth: 'any',
    ok: { 200: r.InvocationSchema },
  },
  {
    method: 'get',
    path: '/v1/invocations/:invocationId/artifacts/:name',
    tag: 'Invocations',
    summary: "Download an invocation's artifact (e.g. audio)",
    auth: 'any',
    ok: {
      200: {
        contentType: 'application/octet-stream',
        description: 'The bytes, with their own Content-Type and `Content-Disposition: attachment`.',
        schema: { type: 'string', contentMediaType: 'application/octet-stream' },
      },
    },
    okHeaders: { 200: ['Content-Disposition'] },
  },
  {
    method: 'get',
    path: '/v1/tools',
    tag: 'Tools',
    summary: "The project's tools (project key)",
    auth: 'project',
    ok: { 200: z.object({ data: z.array(r.ToolSchema) }).strict() },
  },
  {
    method: 'get',
    path: '/v1/events',
    tag: 'Events',
    summary: 'List inbound events',
    auth: 'any',
    query: listEvents,
    ok: { 200: page(r.InboundEventSchema) },
  },
  {
    method: 'get',
    path: '/v1/events/:eventId',
    tag: 'Events',
    summary: 'Get an inbound event',
    auth: 'any',
    ok: { 200: r.InboundEventSchema },
  },

  {
    method: 'get',
    path: '/v1/connectors',
    tag: 'Connectors',
    summary: "The catalog (with a key: also the workspace's custom connectors)",
    auth: 'optional',
    ok: { 200: z.object({ data: z.array(z.union([r.ConnectorSchema, r.CustomConnectorSchema])) }).strict() },
  },
  {
    method: 'get',
    path: '/v1/connectors/:connectorId',
    tag: 'Connectors',
    summary: 'Get a connector',
    auth: 'optional',
    ok: { 200: z.union([r.ConnectorSchema, r.CustomConnectorSchema]) },
    errors: ['unknown_connector'],
  },
  {
    method: 'post',
    path: '/v1/connectors',
    tag: 'Custom connectors',
    summary: 'Create a custom connector',
    auth: 'workspace',
    body: definitionBody,
    ok: { 201: r.CustomConnectorSchema },
    errors: ['conflict'],
  },
  {
    method: 'put',
    path: '/v1/connectors/:connectorId',
    tag: 'Custom connectors',
    summary: 'Replace a custom connector (a new version)',
    auth: 'workspace',
    body: definitionBody,
    ok: { 200: r.CustomConnectorSchema },
    errors: ['unknown_connector', 'conflict'],
  },
  {
    method: 'delete',
    path: '/v1/connectors/:connectorId',
    tag: 'Custom connectors',
    summary: 'Delete a custom connector',
    auth: 'workspace',
    ok: { 204: null },
    errors: ['unknown_connector', 'conflict'],
  },
  {
    method: 'post',
    path: '/v1/connectors/import',
    tag: 'Custom connectors',
    summary: 'Draft a definition from an OpenAPI document',
    auth: 'workspace',
    body: importBody,
    ok: { 200: z.object({ definition: z.unknown(), warnings: z.array(z.string()) }).strict() },
  },

  {
    method: 'post',
    path: '/v1/projects',
    tag: 'Projects',
    summary: 'Create a project',
    auth: 'workspace',
    body: createProject,
    ok: { 201: r.ProjectSchema },
    errors: ['conflict'],
  },
  {
    method: 'get',
    path: '/v1/projects',
    tag: 'Projects',
    summary: 'List projects',
    auth: 'workspace',
    query: listProjects,
    ok: { 200: page(r.ProjectSchema) },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId',
    tag: 'Projects',
    summary: 'Get a project',
    auth: 'workspace',
    ok: { 200: r.ProjectSchema },
  },
  {
    method: 'patch',
    path: '/v1/projects/:projectId',
    tag: 'Projects',
    summary: 'Update a project (name, metadata, rate limits, running-call cap)',
    auth: 'workspace',
    body: updateProjectBody({ maxOverride: () => 0 }, MAX_RUNNING_CALLS_OVERRIDE),
    ok: { 200: r.ProjectSchema },
  },
  {
    method: 'delete',
    path: '/v1/projects/:projectId',
    tag: 'Projects',
    summary: 'Delete a project',
    auth: 'workspace',
    ok: { 204: null },
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/api-keys',
    tag: 'Projects',
    summary: 'Create a project key (shown once)',
    auth: 'workspace',
    body: createKey,
    ok: { 201: r.CreatedApiKeySchema },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/api-keys',
    tag: 'Projects',
    summary: "List a project's keys",
    auth: 'workspace',
    query: listKeys,
    ok: { 200: page(r.ApiKeySchema) },
  },
  {
    method: 'delete',
    path: '/v1/projects/:projectId/api-keys/:keyId',
    tag: 'Projects',
    summary: 'Revoke a project key',
    auth: 'workspace',
    ok: { 204: null },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/connections',
    tag: 'Projects',
    summary: 'List the connections bound to a project',
    auth: 'workspace',
    query: z.object(pageQuery),
    ok: { 200: page(r.ConnectionSchema) },
  },
  {
    method: 'put',
    path: '/v1/projects/:projectId/connections/:connectionId',
    tag: 'Projects',
    summary: 'Bind a connection to a project',
    auth: 'workspace',
    ok: { 204: null },
  },
  {
    method: 'delete',
    path: '/v1/projects/:projectId/connections/:connectionId',
    tag: 'Projects',
    summary: 'Unbind a connection from a project',
    auth: 'workspace',
    ok: { 204: null },
  },

  {
    method: 'post',
    path: '/v1/connections',
    tag: 'Connections',
    summary: 'Create a connection (credentials checked)',
    auth: 'workspace',
    body: createConnection,
    ok: { 201: r.ConnectionSchema },
    errors: ['invalid_credentials_shape', 'unknown_connector', 'upstream_unavailable'],
  },
  {
    method: 'get',
    path: '/v1/connections',
    tag: 'Connections',
    summary: 'List connections',
    auth: 'workspace',
    query: listConnections,
    ok: { 200: page(r.ConnectionSchema) },
  },
  {
    method: 'get',
    path: '/v1/connections/:connectionId',
    tag: 'Connections',
    summary: 'Get a connection',
    auth: 'workspace',
    ok: { 200: r.ConnectionSchema },
  },
  {
    method: 'patch',
    path: '/v1/connections/:connectionId',
    tag: 'Connections',
    summary: 'Update a connection (name, credentials)',
    auth: 'workspace',
    body: updateConnection,
    ok: { 200: r.ConnectionSchema },
    errors: ['invalid_credentials_shape', 'unknown_connector', 'upstream_unavailable'],
  },
  {
    method: 'delete',
    path: '/v1/connections/:connectionId',
    tag: 'Connections',
    summary: 'Delete a connection',
    auth: 'workspace',
    ok: { 204: null },
  },
  {
    method: 'post',
    path: '/v1/connections/:connectionId/test',
    tag: 'Connections',
    summary: "Test a connection's credentials now",
    auth: 'workspace',
    ok: { 200: r.ConnectionSchema },
    errors: ['unknown_connector', 'upstream_unavailable'],
  },
  {
    method: 'post',
    path: '/v1/oauth/:connectorId/authorize',
    tag: 'Connections',
    summary: 'Start an OAuth authorization',
    auth: 'workspace',
    body: authorizeBody,
    ok: { 200: r.AuthorizationSchema },
    errors: ['unknown_connector', 'conflict'],
  },
  {
    method: 'get',
    path: '/v1/oauth/callback',
    tag: 'Connections',
    summary: "The OAuth provider's redirect back",
    auth: 'none',
    query: callbackQuery,
    ok: { 200: r.ConnectionSchema, 302: null, 303: null },
    okHeaders: { 302: ['Location'], 303: ['Location'] },
    errors: ['upstream_error', 'upstream_unavailable', 'unknown_connector'],
  },
  {
    method: 'post',
    path: '/v1/inbound/:connectorId/:connectionId',
    tag: 'Events',
    summary: "A service's event (signed by the service, no API key)",
    auth: 'none',
    ok: {
      200: {
        contentType: '*/*',
        description: 'The acknowledgement the service expects (by default `{"received":true}`).',
        schema: {},
      },
    },
    errors: ['unknown_connector'],
  },

  {
    method: 'post',
    path: '/v1/webhooks',
    tag: 'Webhooks',
    summary: 'Create a webhook (its secret shown once)',
    auth: 'workspace',
    body: createWebhook,
    ok: { 201: r.CreatedWebhookSchema },
    errors: ['conflict'],
  },
  {
    method: 'get',
    path: '/v1/webhooks',
    tag: 'Webhooks',
    summary: 'List webhooks',
    auth: 'workspace',
    query: z.object(pageQuery),
    ok: { 200: page(r.WebhookSchema) },
  },
  {
    method: 'delete',
    path: '/v1/webhooks/:webhookId',
    tag: 'Webhooks',
    summary: 'Delete a webhook',
    auth: 'workspace',
    ok: { 204: null },
  },
  {
    method: 'post',
    path: '/v1/webhooks/:webhookId/rotate-secret',
    tag: 'Webhooks',
    summary: "Rotate a webhook's secret (the old one keeps signing for a while)",
    auth: 'workspace',
    ok: { 200: r.WebhookSecretSchema },
  },
  {
    method: 'get',
    path: '/v1/webhooks/:webhookId/deliveries',
    tag: 'Webhooks',
    summary: "List a webhook's deliveries",
    auth: 'workspace',
    query: z.object(pageQuery),
    ok: { 200: page(r.DeliverySchema) },
  },

  {
    method: 'post',
    path: '/v1/connect-sessions',
    tag: 'Connect sessions',
    summary: 'Create a connect session (a link for an end user)',
    auth: 'workspace',
    body: createSession,
    ok: { 201: r.CreatedConnectSessionSchema },
    errors: ['unknown_connector'],
  },
  {
    method: 'get',
    path: '/v1/connect-sessions/:sessionId',
    tag: 'Connect sessions',
    summary: 'Get a connect session',
    auth: 'workspace',
    ok: { 200: r.ConnectSessionSchema },
  },
  {
    method: 'get',
    path: '/v1/connect/session',
    tag: 'Connect page',
    summary: "The connect page's session (session token)",
    auth: 'session',
    ok: { 200: r.ConnectPageSessionSchema },
  },
  {
    method: 'post',
    path: '/v1/connect/connections',
    tag: 'Connect page',
    summary: 'Connect with a key (session token)',
    auth: 'session',
    body: connectWithKey,
    ok: { 200: r.ConnectPageResultSchema, 201: r.ConnectPageResultSchema },
    errors: ['invalid_credentials_shape', 'unknown_connector', 'upstream_unavailable'],
  },
  {
    method: 'post',
    path: '/v1/connect/oauth/:connectorId/authorize',
    tag: 'Connect page',
    summary: 'Start signing in with the provider (session token)',
    auth: 'session',
    body: connectWithOAuth,
    ok: { 200: r.AuthorizeUrlSchema },
    errors: ['unknown_connector', 'conflict'],
  },
  {
    method: 'get',
    path: '/v1/rate-limit-usage',
    tag: 'Projects',
    summary: 'Calls per minute per project and connector, the last hour',
    auth: 'workspace',
    ok: { 200: r.RateLimitUsageSchema },
  },

  {
    method: 'post',
    path: '/v1/mcp',
    tag: 'MCP',
    summary: 'MCP Streamable HTTP: a JSON-RPC message (project key)',
    auth: 'project',
    ok: { 200: anyJson, 202: null },
  },
  {
    method: 'get',
    path: '/v1/mcp',
    tag: 'MCP',
    summary: 'MCP Streamable HTTP: the server-sent event stream',
    auth: 'project',
    ok: {
      200: { contentType: 'text/event-stream', description: 'Server-sent events.', schema: { type: 'string' } },
      405: anyJson,
    },
  },
  {
    method: 'delete',
    path: '/v1/mcp',
    tag: 'MCP',
    summary: 'MCP Streamable HTTP: end a session',
    auth: 'project',
    ok: { 200: anyJson, 204: null, 405: anyJson },
  },
];

/** Codes a route can answer whatever it does, by how it authenticates and whether it reads a body. */
function commonErrors(route: RouteDoc): ErrorCode[] {
  const codes: ErrorCode[] = ['invalid_input', 'not_found', 'internal_error', 'unavailable'];
  if (route.body || route.method !== 'get') codes.push('invalid_json', 'payload_too_large');
  if (route.auth !== 'none') codes.push('unauthenticated', 'rate_limited');
  if (route.auth === 'workspace' || route.auth === 'project' || route.auth === 'any') codes.push('forbidden');
  return codes;
}

const toJson = (schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    target: 'draft-2020-12',
  }) as Record<string, unknown>;
  return rest;
};

/** Named response schemas, referenced from `components.schemas`. */
const COMPONENTS: Record<string, z.ZodType> = {
  Error: r.ErrorEnvelopeSchema,
  Project: r.ProjectSchema,
  ApiKey: r.ApiKeySchema,
  CreatedApiKey: r.CreatedApiKeySchema,
  Connection: r.ConnectionSchema,
  Invocation: r.InvocationSchema,
  ExecutionResult: r.ExecutionResultSchema,
  ExecutionAccepted: r.ExecutionAcceptedSchema,
  Webhook: r.WebhookSchema,
  CreatedWebhook: r.CreatedWebhookSchema,
  WebhookSecret: r.WebhookSecretSchema,
  Delivery: r.DeliverySchema,
  Event: r.InboundEventSchema,
  Connector: r.ConnectorSchema,
  CustomConnector: r.CustomConnectorSchema,
  Tool: r.ToolSchema,
  CreatedConnectSession: r.CreatedConnectSessionSchema,
  ConnectSession: r.ConnectSessionSchema,
  ConnectPageSession: r.ConnectPageSessionSchema,
  ConnectPageResult: r.ConnectPageResultSchema,
  AuthorizeUrl: r.AuthorizeUrlSchema,
  Authorization: r.AuthorizationSchema,
  RateLimitUsage: r.RateLimitUsageSchema,
  Health: r.HealthSchema,
};
const nameOf = new Map([...Object.entries(COMPONENTS)].map(([name, schema]) => [schema, name]));
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** A response schema: a named component by reference, a page of one as `data: [$ref]`, else inline. */
function responseSchema(schema: z.ZodType): Record<string, unknown> {
  const name = nameOf.get(schema);
  if (name) return ref(name);
  return toJson(schema, 'output');
}

const toOpenApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');

const HEADERS = {
  'X-Request-Id': {
    description:
      "The request's id (the client's `X-Request-Id` when it sent a sane one, else a new one); quote it when reporting a problem.",
    schema: { type: 'string' },
  },
  'Retry-After': {
    description: "Seconds to wait before retrying (never more than the limit's window).",
    schema: { type: 'integer', minimum: 0 },
  },
  Location: {
    description: 'Where the created or accepted resource is, or where the browser goes next.',
    schema: { type: 'string' },
  },
  'Content-Disposition': { description: '`attachment` with a file name.', schema: { type: 'string' } },
  RateLimit: {
    description:
      'IETF draft `RateLimit` field, e.g. `"resend";r=97;t=41`: calls to this connector that would start now for the project (`r`), and seconds until the oldest call of the window leaves it (`t`). Absent on an idempotent replay.',
    schema: { type: 'string' },
  },
  'RateLimit-Policy': {
    description:
      'IETF draft `RateLimit-Policy` field, e.g. `"resend";q=100;w=60`: the project\'s limit for this connector, `q` calls per `w` seconds.',
    schema: { type: 'string' },
  },
};
const headerRefs = (names: string[]) =>
  Object.fromEntries(names.map((n) => [n, { $ref: `#/components/headers/${n}` }]));

const SECURITY: Record<Auth, unknown[] | undefined> = {
  none: [],
  any: [{ workspaceKey: [] }, { projectKey: [] }],
  workspace: [{ workspaceKey: [] }],
  project: [{ projectKey: [] }],
  optional: [{}, { workspaceKey: [] }, { projectKey: [] }],
  session: [{ connectSessionToken: [] }],
};

function operation(route: RouteDoc): Record<string, unknown> {
  const parameters: unknown[] = [{ $ref: '#/components/parameters/X-Request-Id' }];
  for (const name of route.path.match(/:(\w+)/g) ?? []) {
    parameters.push({ name: name.slice(1), in: 'path', required: true, schema: { type: 'string' } });
  }
  if (route.query) {
    const schema = toJson(route.query, 'input') as { properties?: Record<string, unknown>; required?: string[] };
    for (const [name, prop] of Object.entries(schema.properties ?? {})) {
      parameters.push({ name, in: 'query', required: schema.required?.includes(name) ?? false, schema: prop });
    }
  }
  for (const h of route.headers ?? []) parameters.push({ $ref: `#/components/parameters/${h}` });

  const responses: Record<string, unknown> = {};
  for (const [status, body] of Object.entries(route.ok)) {
    const headers = headerRefs(['X-Request-Id', ...(route.okHeaders?.[Number(status)] ?? [])]);
    if (body === null) responses[status] = { description: statusText(Number(status)), headers };
    else if ('contentType' in body && typeof body.contentType === 'string' && !(body instanceof z.ZodType)) {
      responses[status] = {
        description: body.description,
        headers,
        content: { [body.contentType]: { schema: body.schema ?? {} } },
      };
    } else
      responses[status] = {
        description: statusText(Number(status)),
        headers,
        content: { 'application/json': { schema: responseSchema(body as z.ZodType) } },
      };
  }
  const codes = [...new Set([...commonErrors(route), ...(route.errors ?? [])])];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(statusByCode[code], [...(byStatus.get(statusByCode[code]) ?? []), code]);
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    const retry = status === 429 || status === 503;
    responses[String(status)] = {
      description: `Error: ${list.map((c) => `\`${c}\``).join(', ')}.`,
      headers: headerRefs(['X-Request-Id', ...(retry ? ['Retry-After'] : []), ...(route.errorHeaders?.[status] ?? [])]),
      content: {
        'application/json': {
          schema: {
            allOf: [
              ref('Error'),
              { type: 'object', properties: { error: { type: 'object', properties: { code: { enum: list } } } } },
            ],
          },
        },
      },
    };
  }
  return {
    operationId: operationId(route),
    tags: [route.tag],
    summary: route.summary,
    ...(SECURITY[route.auth] ? { security: SECURITY[route.auth] } : {}),
    parameters,
    ...(route.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: toJson(route.body, 'input') } } } }
      : {}),
    responses,
  };
}

const operationId = (route: RouteDoc) =>
  route.method +
  route.path
    .replace(/^\/v1/, '')
    .split(/[/.-]/)
    .filter(Boolean)
    .map((s) => (s.startsWith(':') ? `By${s[1]!.toUpperCase()}${s.slice(2)}` : s[0]!.toUpperCase() + s.slice(1)))
    .join('');

const statusText = (status: number) =>
  ({
    200: 'OK',
    201: 'Created',
    202: 'Accepted: the call goes on; poll the invocation at Location.',
    204: 'Done; no body.',
    302: 'Redirect to the registered redirect URI.',
    303: 'Redirect to the connect page result.',
    405: 'Not supported by this server (JSON-RPC error).',
  })[status] ?? String(status);

let built: Record<string, unknown> | undefined;

/** The document (built once: it depends only on the code). */
export function openApiDocument(): Record<string, unknown> {
  if (built) return built;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const path = toOpenApiPath(route.path);
    paths[path] ??= {};
    paths[path][route.method] = operation(route);
  }
  built = {
    openapi: '3.1.0',
    info: {
      title: 'Connector engine API',
      version: '1',
      description:
        'Execute actions of third-party services (connectors) through one API. Errors share the envelope `{"error":{"code","message","details?"}}` with stable codes; ' +
        'every response carries `X-Request-Id`. See docs/api.md in the repository.',
    },
    servers: [{ url: '/' }],
    tags: [...new Set(ROUTES.map((rt) => rt.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(COMPONENTS).map(([name, schema]) => [name, toJson(schema, 'output')])),
      securitySchemes: {
        workspaceKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'A workspace key (`Authorization: Bearer <key>`): manages the workspace.',
        },
        projectKey: {
          type: 'http',
          scheme: 'bearer',
          description: "A project key: executes and reads its project's invocations, tools and events.",
        },
        connectSessionToken: {
          type: 'http',
          scheme: 'bearer',
          description: "A connect session's token (the hosted connect page).",
        },
      },
      parameters: {
        'X-Request-Id': {
          name: 'X-Request-Id',
          in: 'header',
          required: false,
          description: 'Your id for this request, echoed back (else one is made).',
          schema: { type: 'string', maxLength: 200 },
        },
        'Idempotency-Key': {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          description:
            'Retrying with the same key and body returns the first outcome instead of calling again; another body with the key is `idempotency_key_reused`.',
          schema: { type: 'string', minLength: 1, maxLength: 255 },
        },
        Prefer: {
          name: 'Prefer',
          in: 'header',
          required: false,
          description: '`respond-async`: answer 202 at once and run the call in the background.',
          schema: { type: 'string', examples: ['respond-async'] },
        },
      },
      headers: HEADERS,
    },
  };
  return built;
}
