import type { CallToolResult, JsonSchemaType } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { InvocationRow } from '../../shared/db/schema.ts';
import { ApiError } from '../../shared/errors.ts';
import { mcpToolCalls } from '../../shared/metrics.ts';
import type { AdmissionTicket } from '../execution/admission-gate.ts';
import { type ExecuteOutcome, type ExecutionService, errorFromReply } from '../execution/execution-service.ts';
import type { Principal } from '../middleware/authenticate.ts';
import { InvocationError } from '../middleware/errors.ts';
import {
  actionTakesConnectionId,
  type ProjectTool,
  toolAnnotations,
  toolInputSchema,
  toolOutputSchema,
} from '../tools/project-tools.ts';

/** The MCP server SDK's runtime, loaded by createEngineMcpNodeHandler. */
type Sdk = typeof import('@modelcontextprotocol/server');

/** What the HTTP route knows about one MCP request, handed to the per-request server. */
export interface McpRequestScope {
  principal: Extract<Principal, { kind: 'project' }>;
  tools: ProjectTool[];
  /** A `tools/call` took its place at the admission gate once authenticated (see routes/mcp.ts). */
  ticket?: AdmissionTicket;
  /** Absolute base of artifact URLs (PUBLIC_URL, or this server's address). */
  publicUrl: string;
  /** The project's invocation made by an MCP call (a task), or undefined: for `tasks/get`. */
  findTask(invocationId: string): Promise<InvocationRow | undefined>;
  /** How long a task's result can be read: the invocations' retention period. */
  taskTtlMs: number;
}

/** How long a tool call waits for its result before answering with the invocation to poll. */
const TOOL_CALL_TIMEOUT_MS = 60_000;
/**
 * How long a tool call of a client that takes tasks (the `io.modelcontextprotocol/tasks` extension)
 * waits for its result before answering with a task instead: the invocation, polled by `tasks/get`.
 */
export const TASK_AFTER_MS = 5_000;
const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';
const TASK_POLL_INTERVAL_MS = 1_000;
const SERVER_INFO = { name: 'connector-engine', version: '0.1.0' };

/**
 * The SDK's schema objects, built once: the output's compiles a validator. Inputs depend on the
 * connection choice, so they are keyed by it too.
 */
const outputSchemas = new WeakMap<object, ReturnType<Sdk['fromJsonSchema']>>();
const inputSchemas = new WeakMap<object, Map<string, ReturnType<Sdk['fromJsonSchema']>>>();
function sdkSchemas({ fromJsonSchema }: Sdk, tool: ProjectTool) {
  let output = outputSchemas.get(tool.action);
  // Outputs are the engine's own, and fit their schema exactly (the conformance suite checks every
  // connector's): no second validation per call.
  if (!output) {
    output = fromJsonSchema(toolOutputSchema(tool) as JsonSchemaType, validatedByTheEngine);
    outputSchemas.set(tool.action, output);
  }
  let byChoice = inputSchemas.get(tool.action);
  if (!byChoice) {
    byChoice = new Map();
    inputSchemas.set(tool.action, byChoice);
  }
  const choice = tool.connections.length > 1 ? tool.connections.map((c) => c.id).join(',') : '';
  let input = byChoice.get(choice);
  if (!input) {
    if (byChoice.size > 100) byChoice.clear();
    input = fromJsonSchema(toolInputSchema(tool, true) as JsonSchemaType, validatedByTheEngine);
    byChoice.set(choice, input);
  }
  return { input, output };
}

/** The engine validates tool input itself (ExecutionService), so a bad argument is a tool error with paths, as the spec asks. */
const validatedByTheEngine = {
  getValidator: () => (input: unknown) => ({ valid: true as const, data: input as never, errorMessage: undefined }),
};

/**
 * The engine's MCP server as a node request handler, the SDK loaded now: it is imported on the
 * first MCP request (routes/mcp.ts), not at start-up, because an api that serves no agent should
 * not hold it: with what it pulls in (hono, its source maps) it was 12–15 MB of the api's RSS after
 * start-up and 7 MB of its live heap (issue 21). The first MCP request waits for it (about 70 ms).
 * A static `import` of a value from `@modelcontextprotocol/*` in any module the api loads would
 * undo that: test/unit/api-lazy-packages.test.ts checks the built api.
 */
export async function createEngineMcpNodeHandler(service: Pick<ExecutionService, 'execute'>) {
  const [sdk, { toNodeHandler }] = await Promise.all([
    import('@modelcontextprotocol/server'),
    import('@modelcontextprotocol/node'),
  ]);
  return toNodeHandler(createEngineMcpHandler(sdk, service));
}

/**
 * The engine's MCP server: the project's tools, each call through the one ExecutionService
 * (validation, fairness, limits, retries, idempotency from `_meta.idempotencyKey`, one invocation
 * row with `via: "mcp"`). Stateless: the SDK builds a fresh McpServer per HTTP request, for
 * revision 2026-07-28 and (the `legacy: 'stateless'` default) 2025-06-18 and 2025-11-25 clients.
 */
function createEngineMcpHandler(sdk: Sdk, service: Pick<ExecutionService, 'execute'>) {
  const { CLIENT_CAPABILITIES_META_KEY, McpServer, ProtocolError, ProtocolErrorCode } = sdk;
  return sdk.createMcpHandler(
    ({ authInfo }) => {
      const scope = authInfo?.extra?.engine as McpRequestScope;
      const server = new McpServer(SERVER_INFO, {
        // Logging is declared for 2025-era clients, which may set a level; the server sends no log messages.
        // Tasks (revision 2026-07-28's extension): long calls answer with their invocation, polled by tasks/get.
        capabilities: { tools: {}, logging: {}, extensions: { [TASKS_EXTENSION]: {} } },
        // Tools depend on the caller's project and its bindings: never shared, never stale.
        cacheHints: {
          'tools/list': { ttlMs: 0, cacheScope: 'private' },
          'server/discover': { ttlMs: 0, cacheScope: 'private' },
        },
        instructions:
          'Each tool runs one action of a connected service for this project. Pass _meta.idempotencyKey to make a retried write safe.',
      });
      for (const tool of scope.tools) {
        const schemas = sdkSchemas(sdk, tool);
        server.registerTool(
          tool.name,
          {
            title: toolAnnotations(tool).title,
            description: `${tool.action.description} (${tool.connector.displayName}, ${tool.action.sideEffects})`,
            inputSchema: schemas.input,
            outputSchema: schemas.output,
            annotations: toolAnnotations(tool),
          },
          async (args: unknown, ctx) =>
            callTool(
              service,
              scope,
              tool,
              args,
              ctx.mcpReq._meta,
              server.server.getClientVersion(),
              takesTasks((ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META_KEY]),
            ),
        );
      }
      server.server.setRequestHandler('tasks/get', { params: z.object({ taskId: z.string() }) }, async ({ taskId }) => {
        const row = await scope.findTask(taskId);
        if (!row)
          throw new ProtocolError(
            ProtocolErrorCode.InvalidParams,
            `Unknown task: ${JSON.stringify(taskId.slice(0, 100))}`,
          );
        return taskOf(row, scope) as never;
      });
      // Cooperative, as the extension allows: an invocation, once accepted, runs to its end.
      server.server.setRequestHandler(
        'tasks/cancel',
        { params: z.object({ taskId: z.string() }) },
        async ({ taskId }) => {
          if (!(await scope.findTask(taskId)))
            throw new ProtocolError(
              ProtocolErrorCode.InvalidParams,
              `Unknown task: ${JSON.stringify(taskId.slice(0, 100))}`,
            );
          return {} as never;
        },
      );
      return server;
    },
    { responseMode: 'json' },
  );
}

/**
 * One tools/call. `meta` is the request's `_meta` (where `idempotencyKey` travels); `clientInfo` the
 * client's self-reported identity (per request in 2026-07-28; unknown to a stateless 2025-era call).
 */
async function callTool(
  service: Pick<ExecutionService, 'execute'>,
  scope: McpRequestScope,
  tool: ProjectTool,
  args: unknown,
  meta: Record<string, unknown> | undefined,
  clientInfo: { name?: string; version?: string } | undefined,
  /** The request declared the tasks extension (2026-07-28 requests carry their capabilities each). */
  tasksTaken: boolean,
): Promise<CallToolResult> {
  const all = (args && typeof args === 'object' ? args : {}) as Record<string, unknown>;
  // `connectionId` is the tool's own argument (a choice among connections), unless the action has
  // such an input field itself.
  const choosing = typeof all.connectionId === 'string' && !actionTakesConnectionId(tool.action);
  const { connectionId, ...rest } = all;
  const input = choosing ? rest : all;
  const key = meta?.idempotencyKey;
  let outcome: ExecuteOutcome;
  try {
    outcome = await service.execute({
      principal: scope.principal,
      connectorId: tool.connector.id,
      actionId: tool.action.id,
      input,
      // Without a choice the service takes the project's one connection of this connector.
      connectionId: choosing ? (connectionId as string) : undefined,
      idempotencyKey: typeof key === 'string' && key.length > 0 && key.length <= 255 ? key : undefined,
      respondAsync: false,
      timeoutMs: tasksTaken ? TASK_AFTER_MS : TOOL_CALL_TIMEOUT_MS,
      ticket: scope.ticket,
      via: 'mcp',
      client: clientInfo && { name: clientInfo.name, version: clientInfo.version },
    });
  } catch (err) {
    // A refusal (invalid input, rate limit, no connection…) is the tool's error, for the model to act
    // on; an InvocationError names the row it was recorded on. Anything else is the server's failure.
    if (!(err instanceof ApiError)) throw err;
    return toolError(
      tool,
      err.code,
      err.message,
      err.details,
      err instanceof InvocationError ? err.invocationId : undefined,
    );
  }
  switch (outcome.kind) {
    case 'accepted':
      return toolError(tool, 'internal_error', 'The call was queued instead of run.', undefined, outcome.invocationId);
    case 'timed_out':
      if (tasksTaken) {
        // The invocation's row was written before its job was queued: the task is durable.
        const now = new Date().toISOString();
        const task = {
          taskId: outcome.invocationId,
          status: 'working',
          createdAt: now,
          lastUpdatedAt: now,
          ttlMs: scope.taskTtlMs,
          pollIntervalMs: TASK_POLL_INTERVAL_MS,
        };
        // (The SDK checks a tool's result against its output schema before it passes a `resultType`
        // through; the empty structuredContent satisfies that check and means nothing.)
        return { resultType: 'task', ...task, structuredContent: {}, content: [] } as unknown as CallToolResult;
      }
      return toolError(
        tool,
        'timeout',
        `The call did not finish within ${TOOL_CALL_TIMEOUT_MS} ms; it goes on. Read the invocation for its result.`,
        undefined,
        outcome.invocationId,
      );
    case 'finished': {
      const { reply } = outcome;
      if (reply.status !== 'succeeded') {
        const error = errorFromReply(reply.error!);
        return toolError(tool, error.code, error.message, error.details, reply.invocationId);
      }
      mcpToolCalls.inc({ connector: tool.connector.id, action: tool.action.id, outcome: 'succeeded' });
      return successResult(reply.output, reply.invocationId, scope.publicUrl);
    }
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether a request's declared client capabilities include the tasks extension: the server never returns a task otherwise. */
function takesTasks(capabilities: unknown): boolean {
  return isRecord(capabilities) && isRecord(capabilities.extensions) && TASKS_EXTENSION in capabilities.extensions;
}

/** A succeeded call's result: the output as structuredContent, its text rendering, and links to its artifacts. */
function successResult(output: unknown, invocationId: string, publicUrl: string): CallToolResult {
  const structured = (output ?? {}) as Record<string, unknown>;
  return {
    content: [{ type: 'text', text: JSON.stringify(structured) }, ...artifactLinks(structured, publicUrl)],
    structuredContent: structured,
    _meta: { invocationId },
  };
}

/**
 * A task's state (`tasks/get`): the invocation. A queued or running call is `working`; a finished one
 * is `completed` with exactly the result the tool call would have returned, an upstream's failure
 * included (as an `isError` result: a tool's failure is not a protocol failure).
 */
function taskOf(row: InvocationRow, scope: McpRequestScope) {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  const base = {
    taskId: row.id,
    createdAt: iso(row.created_at)!,
    lastUpdatedAt: iso(row.finished_at) ?? iso(row.started_at) ?? iso(row.created_at)!,
    ttlMs: scope.taskTtlMs,
  };
  if (row.status === 'queued' || row.status === 'running')
    return { ...base, status: 'working', pollIntervalMs: TASK_POLL_INTERVAL_MS };
  const result =
    row.status === 'succeeded'
      ? successResult(row.output, row.id, scope.publicUrl)
      : errorResult(
          row.error_code ?? 'internal_error',
          row.error_message ?? 'The call failed.',
          row.error_details ?? undefined,
          row.id,
        );
  return { ...base, status: 'completed', result };
}

/** A failure the model can read and act on: the API error code, its message and the invocation. */
function toolError(
  tool: ProjectTool,
  code: string,
  message: string,
  details: unknown,
  invocationId: string | undefined,
): CallToolResult {
  mcpToolCalls.inc({ connector: tool.connector.id, action: tool.action.id, outcome: 'failed' });
  return errorResult(code, message, details, invocationId);
}

function errorResult(
  code: string,
  message: string,
  details: unknown,
  invocationId: string | undefined,
): CallToolResult {
  const error = { code, message, ...(details === undefined || details === null ? {} : { details }) };
  return {
    isError: true,
    content: [{ type: 'text', text: JSON.stringify({ error, ...(invocationId ? { invocationId } : {}) }) }],
    _meta: { error, ...(invocationId ? { invocationId } : {}) },
  };
}

/** Binary outputs (audio) are artifacts: each becomes a resource link the client downloads with the same key. */
function artifactLinks(output: Record<string, unknown>, publicUrl: string): CallToolResult['content'] {
  const links: CallToolResult['content'] = [];
  for (const [name, value] of Object.entries(output)) {
    const ref = value as { contentType?: unknown; sizeBytes?: unknown; url?: unknown } | null;
    if (
      !ref ||
      typeof ref !== 'object' ||
      typeof ref.url !== 'string' ||
      typeof ref.contentType !== 'string' ||
      !ref.url.startsWith('/v1/invocations/')
    )
      continue;
    links.push({
      type: 'resource_link',
      uri: `${publicUrl}${ref.url}`,
      name,
      mimeType: ref.contentType,
      ...(typeof ref.sizeBytes === 'number' ? { size: ref.sizeBytes } : {}),
    });
  }
  return links;
}
