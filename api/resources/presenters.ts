import { z } from 'zod';
import type { ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import type {
  ApiKey,
  Connector,
  CustomConnector,
  Delivery,
  Invocation,
  Project,
  Tool,
  Webhook,
} from '../../shared/api-resources.ts';
import type { InvocationRow, ProjectRow, WebhookDeliveryRow } from '../../shared/db/schema.ts';
import { toIso as iso } from '../../shared/iso-time.ts';
import { type ProjectTool, toolAnnotations, toolInputSchema, toolOutputSchema } from '../tools/project-tools.ts';

/**
 * Definitions and database rows → the resource shapes of docs/api.md (camelCase, ISO timestamps, no
 * secrets), typed by their schemas in shared/api-resources.ts (which the OpenAPI document is built from). Every response body of the API is built here, except `Connection`
 * (shared/connections/connection-resource.ts), which webhook payloads carry too.
 */

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') =>
  z.toJSONSchema(schema, { io, unrepresentable: 'any' });

/** The catalog's `Connector`, with input and output JSON Schemas generated from the action's zod schemas. */
export function presentConnector(c: ConnectorDefinition): Connector {
  return {
    id: c.id,
    displayName: c.displayName,
    category: c.category,
    description: c.description,
    source: c.origin ? ('custom' as const) : ('builtin' as const),
    ...(c.origin ? { version: c.origin.version } : {}),
    authType: c.auth.type,
    authFields: c.auth.fields,
    rateLimit: c.rateLimit,
    actions: c.actions.map((a) => ({
      id: a.id,
      displayName: a.displayName,
      description: a.description,
      sideEffects: a.sideEffects,
      inputSchema: jsonSchema(a.input, 'input'),
      outputSchema: jsonSchema(a.output, 'output'),
    })),
  };
}

/** A custom connector as POST, PUT and GET return it: the catalog's `Connector` and its definition (never the OAuth client secret). */
export function presentCustomConnector(c: ConnectorDefinition, storedDefinition: unknown): CustomConnector {
  return { ...presentConnector(c), definition: storedDefinition };
}

export function presentProject(p: ProjectRow): Project {
  return {
    id: p.id,
    displayName: p.display_name,
    externalId: p.external_id,
    metadata: p.metadata,
    rateLimits: p.rate_limits,
    maxRunningCalls: p.max_running_calls,
    createdAt: iso(p.created_at),
  };
}

export function presentInvocation(i: InvocationRow): Invocation {
  return {
    id: i.id,
    projectId: i.project_id,
    connectionId: i.connection_id,
    connectorId: i.connector_id,
    actionId: i.action_id,
    status: i.status,
    errorCode: i.error_code,
    errorMessage: i.error_message,
    errorDetails: i.error_details ?? null,
    durationMs: i.duration_ms,
    attempts: i.attempts,
    via: i.via,
    connectorVersion: i.connector_version ?? null,
    traceId: i.trace_id ?? null,
    client:
      i.client_name === null && i.client_version === null ? null : { name: i.client_name, version: i.client_version },
    createdAt: iso(i.created_at),
    startedAt: iso(i.started_at),
    finishedAt: iso(i.finished_at),
    output: i.output ?? null,
  };
}

export function presentApiKey(k: { id: string; name: string | null; prefix: string; created_at: Date }): ApiKey {
  return { id: k.id, name: k.name, prefix: k.prefix, createdAt: iso(k.created_at) };
}

export function presentWebhook(h: { id: string; url: string; events: string[]; created_at: Date }): Webhook {
  return { id: h.id, url: h.url, events: h.events, createdAt: iso(h.created_at) };
}

export function presentDelivery(d: WebhookDeliveryRow): Delivery {
  return {
    id: d.id,
    eventId: d.event_id,
    type: d.event_type,
    status: d.status,
    attempts: d.attempts,
    lastStatusCode: d.last_status_code,
    lastError: d.last_error,
    nextAttemptAt: iso(d.next_attempt_at),
    createdAt: iso(d.created_at),
    deliveredAt: iso(d.delivered_at),
  };
}

/**
 * A `Tool` of GET /v1/tools: the action with its schemas, and `request`, the exact
 * `POST /v1/executions` an AI builder should generate for it (with the action's first example as
 * `input`). With one connection `connectionId` names it; with several, `connections` lists the
 * choices and `request.body.connectionId` must be one of them.
 */
export function presentTool(tool: ProjectTool): Tool {
  const single = tool.connections.length === 1 ? tool.connections[0]!.id : undefined;
  return {
    name: tool.name,
    connectorId: tool.connector.id,
    actionId: tool.action.id,
    ...(single ? { connectionId: single } : {}),
    connections: tool.connections,
    title: toolAnnotations(tool).title,
    description: tool.action.description,
    sideEffects: tool.action.sideEffects,
    inputSchema: toolInputSchema(tool, false),
    outputSchema: toolOutputSchema(tool),
    request: {
      method: 'POST' as const,
      path: '/v1/executions',
      headers: {
        authorization: 'Bearer <project key>',
        'content-type': 'application/json',
        'idempotency-key': '<a unique key per intended call>',
      },
      body: {
        connectorId: tool.connector.id,
        actionId: tool.action.id,
        ...(tool.connections.length > 1 ? { connectionId: tool.connections[0]!.id } : {}),
        input: tool.action.examples[0]?.input ?? {},
      },
    },
  };
}
