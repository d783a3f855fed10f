import { z } from 'zod';
import { type ErrorCode, statusByCode } from './errors.ts';

/**
 * The response shapes of the API as zod schemas: the presenters are typed by them (so a field added
 * to a presenter and not here fails `tsc`), and the OpenAPI document (api/openapi/document.ts) is
 * generated from them. Strict objects: the document says `additionalProperties: false`, so the
 * response-conformance test also catches an undocumented field at run time.
 */

const id = z.string();
const time = z.iso.datetime({ offset: true });
const nullableTime = time.nullable();
/** A JSON Schema document (a connector action's input or output). */
const jsonSchemaObject = z.record(z.string(), z.unknown());

export const ErrorCodeSchema = z.enum(Object.keys(statusByCode) as [ErrorCode, ...ErrorCode[]]);

export const ErrorEnvelopeSchema = z
  .object({
    error: z.object({ code: ErrorCodeSchema, message: z.string(), details: z.unknown().optional() }).strict(),
    /** Set when the error was recorded on an invocation (POST /v1/executions). */
    invocationId: z.string().optional(),
  })
  .strict();

export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), nextCursor: z.string().nullable() }).strict();

export const ProjectSchema = z
  .object({
    id,
    displayName: z.string(),
    externalId: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()),
    rateLimits: z.record(z.string(), z.number()),
    maxRunningCalls: z.number().int().nullable(),
    createdAt: nullableTime,
  })
  .strict();

export const ApiKeySchema = z
  .object({ id, name: z.string().nullable(), prefix: z.string(), createdAt: nullableTime })
  .strict();
/** The one response that shows a key in full: its creation. */
export const CreatedApiKeySchema = ApiKeySchema.extend({ key: z.string() }).strict();

export const ConnectionSchema = z
  .object({
    id,
    connectorId: z.string(),
    displayName: z.string(),
    status: z.enum(['active', 'broken']),
    statusReason: z.string().nullable(),
    statusChangedAt: nullableTime,
    externalId: z.string().nullable(),
    projectIds: z.array(z.string()),
    credentialsHint: z.record(z.string(), z.string()).nullable(),
    createdAt: nullableTime,
    updatedAt: nullableTime,
    inboundUrl: z.string().optional(),
  })
  .strict();

export const InvocationSchema = z
  .object({
    id,
    projectId: z.string().nullable(),
    connectionId: z.string().nullable(),
    connectorId: z.string(),
    actionId: z.string(),
    status: z.enum(['queued', 'running', 'succeeded', 'failed']),
    errorCode: z.string().nullable(),
    errorMessage: z.string().nullable(),
    errorDetails: z.unknown(),
    durationMs: z.number().nullable(),
    attempts: z.number().int(),
    via: z.enum(['api', 'mcp']),
    connectorVersion: z.number().int().nullable(),
    /** The W3C trace id (32 hex digits) of the request that accepted the call; null when tracing is off. */
    traceId: z.string().nullable(),
    client: z.object({ name: z.string().nullable(), version: z.string().nullable() }).strict().nullable(),
    createdAt: nullableTime,
    startedAt: nullableTime,
    finishedAt: nullableTime,
    output: z.unknown(),
  })
  .strict();

export const ExecutionResultSchema = z
  .object({ invocationId: z.string(), output: z.unknown(), durationMs: z.number().nullable() })
  .strict();
export const ExecutionAcceptedSchema = z
  .object({ invocationId: z.string(), status: z.enum(['queued', 'running', 'succeeded', 'failed']) })
  .strict();

export const WebhookSchema = z
  .object({ id, url: z.string(), events: z.array(z.string()), createdAt: nullableTime })
  .strict();
/** Creation and rotation are the only responses that show the signing secret. */
export const CreatedWebhookSchema = WebhookSchema.extend({ secret: z.string() }).strict();
export const WebhookSecretSchema = z.object({ secret: z.string() }).strict();

export const DeliverySchema = z
  .object({
    id,
    eventId: z.string(),
    type: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed']),
    attempts: z.number().int(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    nextAttemptAt: nullableTime,
    createdAt: nullableTime,
    deliveredAt: nullableTime,
  })
  .strict();

export const InboundEventSchema = z
  .object({
    id,
    connectionId: z.string(),
    connectorId: z.string(),
    type: z.string(),
    receivedAt: nullableTime,
    payload: z.unknown(),
  })
  .strict();

const AuthFieldSchema = z
  .object({ key: z.string(), label: z.string(), secret: z.boolean(), required: z.boolean() })
  .strict();

export const ConnectorSchema = z
  .object({
    id: z.string(),
    displayName: z.string(),
    category: z.string(),
    description: z.string(),
    source: z.enum(['builtin', 'custom']),
    version: z.number().int().optional(),
    authType: z.enum(['api_key', 'basic', 'oauth2']),
    authFields: z.array(AuthFieldSchema),
    rateLimit: z.object({ requestsPerMinute: z.number() }).strict(),
    actions: z.array(
      z
        .object({
          id: z.string(),
          displayName: z.string(),
          description: z.string(),
          sideEffects: z.enum(['read', 'write']),
          inputSchema: jsonSchemaObject,
          outputSchema: jsonSchemaObject,
        })
        .strict(),
    ),
  })
  .strict();

/** A custom connector: the catalog's Connector and the stored definition (never its OAuth client secret). */
export const CustomConnectorSchema = ConnectorSchema.extend({ definition: z.unknown() }).strict();

export const ToolSchema = z
  .object({
    name: z.string(),
    connectorId: z.string(),
    actionId: z.string(),
    connectionId: z.string().optional(),
    connections: z.array(z.object({ id: z.string(), displayName: z.string() }).strict()),
    title: z.string(),
    description: z.string(),
    sideEffects: z.enum(['read', 'write']),
    inputSchema: jsonSchemaObject,
    outputSchema: jsonSchemaObject,
    request: z
      .object({
        method: z.literal('POST'),
        path: z.literal('/v1/executions'),
        headers: z.record(z.string(), z.string()),
        body: z
          .object({
            connectorId: z.string(),
            actionId: z.string(),
            connectionId: z.string().optional(),
            input: z.unknown(),
          })
          .strict(),
      })
      .strict(),
  })
  .strict();

const EndUserSchema = z.object({ id: z.string(), displayName: z.string().nullable().optional() }).strict();

export const CreatedConnectSessionSchema = z
  .object({ id, token: z.string(), connectUrl: z.string(), expiresAt: time })
  .strict();

export const ConnectSessionSchema = z
  .object({
    id,
    projectId: z.string(),
    status: z.enum(['pending', 'completed', 'expired']),
    connectionId: z.string().nullable(),
    endUser: EndUserSchema.nullable(),
    expiresAt: nullableTime,
    createdAt: nullableTime,
  })
  .strict();

/** GET /v1/connect/session: what the hosted connect page shows. */
export const ConnectPageSessionSchema = z
  .object({
    id,
    expiresAt: nullableTime,
    endUser: EndUserSchema.nullable(),
    connectors: z.array(
      z
        .object({
          id: z.string(),
          displayName: z.string(),
          description: z.string(),
          authType: z.enum(['api_key', 'basic', 'oauth2']),
          authFields: z.array(AuthFieldSchema),
          signIn: z.boolean(),
          defaultDisplayName: z.string(),
        })
        .strict(),
    ),
  })
  .strict();

export const ConnectPageResultSchema = z
  .object({
    status: z.enum(['active', 'broken']),
    statusReason: z.string().nullable(),
    connection: z.object({ id: z.string(), connectorId: z.string(), displayName: z.string() }).strict().nullable(),
    redirectTo: z.string().nullable(),
  })
  .strict();

/** The connect page's start of an OAuth sign-in: where the browser goes. */
export const AuthorizeUrlSchema = z.object({ authorizeUrl: z.string(), expiresAt: z.string() }).strict();
/** POST /v1/oauth/{connectorId}/authorize: also the state, for an app that runs its own redirect. */
export const AuthorizationSchema = AuthorizeUrlSchema.extend({ state: z.string() }).strict();

export const RateLimitUsageSchema = z
  .object({
    windowStart: time,
    windowEnd: time,
    data: z.array(
      z
        .object({
          projectId: z.string(),
          projectName: z.string(),
          connectorId: z.string(),
          limitPerMinute: z.number().nullable(),
          minutes: z.array(z.object({ minute: time, calls: z.number().int() }).strict()),
        })
        .strict(),
    ),
  })
  .strict();

export const HealthSchema = z
  .object({ status: z.literal('ok'), checks: z.record(z.string(), z.unknown()).optional() })
  .strict();

export type Project = z.infer<typeof ProjectSchema>;
export type ApiKey = z.infer<typeof ApiKeySchema>;
export type Connection = z.infer<typeof ConnectionSchema>;
export type Invocation = z.infer<typeof InvocationSchema>;
export type Webhook = z.infer<typeof WebhookSchema>;
export type Delivery = z.infer<typeof DeliverySchema>;
export type InboundEvent = z.infer<typeof InboundEventSchema>;
export type Connector = z.infer<typeof ConnectorSchema>;
export type CustomConnector = z.infer<typeof CustomConnectorSchema>;
export type Tool = z.infer<typeof ToolSchema>;
export type ExecutionAccepted = z.infer<typeof ExecutionAcceptedSchema>;
export type ExecutionResult = z.infer<typeof ExecutionResultSchema>;
export type CreatedConnectSession = z.infer<typeof CreatedConnectSessionSchema>;
export type ConnectPageResult = z.infer<typeof ConnectPageResultSchema>;
export type AuthorizeUrl = z.infer<typeof AuthorizeUrlSchema>;
