import { createMcpHandler, fromJsonSchema, McpServer, type CallToolResult, type JsonSchemaType } from '@modelcontextprotocol/server';
import { ApiError } from '../../shared/errors.ts';
import { InvocationError } from '../middleware/errors.ts';
import { mcpToolCalls } from '../../shared/metrics.ts';
import type { AdmissionTicket } from '../execution/admission-gate.ts';
import { errorFromReply, type ExecuteOutcome, type ExecutionService } from '../execution/execution-service.ts';
import type { Principal } from '../middleware/authenticate.ts';
import { actionTakesConnectionId, toolAnnotations, toolInputSchema, toolOutputSchema, type ProjectTool } from '../tools/project-tools.ts';

/** What the HTTP route knows about one MCP request, handed to the per-request server. */
export interface McpRequestScope {
  principal: Extract<Principal, { kind: 'project' }>;
  tools: ProjectTool[];
  /** A `tools/call` took its place at the admission gate once authenticated (see routes/mcp.ts). */
  ticket?: AdmissionTicket;
  /** Absolute base of artifact URLs (PUBLIC_URL, or this server's address). */
  publicUrl: string;
}

/** How long a tool call waits for its result before answering with the invocation to poll. */
const TOOL_CALL_TIMEOUT_MS = 60_000;
const SERVER_INFO = { name: 'connector-engine', version: '0.1.0' };

/**
 * The SDK's schema objects, built once: the output's compiles a validator. Inputs depend on the
 * connection choice, so they are keyed by it too.
 */
const outputSchemas = new WeakMap<object, ReturnType<typeof fromJsonSchema>>();
const inputSchemas = new WeakMap<object, Map<string, ReturnType<typeof fromJsonSchema>>>();
function sdkSchemas(tool: ProjectTool) {
  let output = outputSchemas.get(tool.action);
  // Outputs are the engine's own, and fit their schema exactly (the conformance suite checks every
  // connector's): no second validation per call.
  if (!output) outputSchemas.set(tool.action, (output = fromJsonSchema(toolOutputSchema(tool) as JsonSchemaType, validatedByTheEngine)));
  let byChoice = inputSchemas.get(tool.action);
  if (!byChoice) inputSchemas.set(tool.action, (byChoice = new Map()));
  const choice = tool.connections.length > 1 ? tool.connections.map((c) => c.id).join(',') : '';
  let input = byChoice.get(choice);
  if (!input) {
    if (byChoice.size > 100) byChoice.clear();
    byChoice.set(choice, (input = fromJsonSchema(toolInputSchema(tool, true) as JsonSchemaType, validatedByTheEngine)));
  }
  return { input, output };
}

/** The engine validates tool input itself (ExecutionService), so a bad argument is a tool error with paths, as the spec asks. */
const validatedByTheEngine = { getValidator: () => (input: unknown) => ({ valid: true as const, data: input as never, errorMessage: undefined }) };

/**
 * The engine's MCP server: the project's tools, each call through the one ExecutionService
 * (validation, fairness, limits, retries, idempotency from `_meta.idempotencyKey`, one invocation
 * row with `via: "mcp"`). Stateless: the SDK builds a fresh McpServer per HTTP request, for
 * revision 2026-07-28 and (the `legacy: 'stateless'` default) 2025-06-18 and 2025-11-25 clients.
 */
export function createEngineMcpHandler(service: Pick<ExecutionService, 'execute'>) {
  return createMcpHandler(({ authInfo }) => {
    const scope = authInfo?.extra?.engine as McpRequestScope;
    const server = new McpServer(SERVER_INFO, {
      // Logging is declared for 2025-era clients, which may set a level; the server sends no log messages.
      capabilities: { tools: {}, logging: {} },
      // Tools depend on the caller's project and its bindings: never shared, never stale.
      cacheHints: { 'tools/list': { ttlMs: 0, cacheScope: 'private' }, 'server/discover': { ttlMs: 0, cacheScope: 'private' } },
      instructions: 'Each tool runs one action of a connected service for this project. Pass _meta.idempotencyKey to make a retried write safe.',
    });
    for (const tool of scope.tools) {
      const schemas = sdkSchemas(tool);
      server.registerTool(
        tool.name,
        {
          title: toolAnnotations(tool).title,
          description: `${tool.action.description} (${tool.connector.displayName}, ${tool.action.sideEffects})`,
          inputSchema: schemas.input,
          outputSchema: schemas.output,
          annotations: toolAnnotations(tool),
        },
        async (args: unknown, ctx) => callTool(service, scope, tool, args, ctx.mcpReq._meta, server.server.getClientVersion()),
      );
    }
    return server;
  }, { responseMode: 'json' });
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
      timeoutMs: TOOL_CALL_TIMEOUT_MS,
      ticket: scope.ticket,
      via: 'mcp',
      client: clientInfo && { name: clientInfo.name, version: clientInfo.version },
    });
  } catch (err) {
    // A refusal (invalid input, rate limit, no connection…) is the tool's error, for the model to act
    // on; an InvocationError names the row it was recorded on. Anything else is the server's failure.
    if (!(err instanceof ApiError)) throw err;
    return toolError(tool, err.code, err.message, err.details, err instanceof InvocationError ? err.invocationId : undefined);
  }
  switch (outcome.kind) {
    case 'accepted':
      return toolError(tool, 'internal_error', 'The call was queued instead of run.', undefined, outcome.invocationId);
    case 'timed_out':
      return toolError(tool, 'timeout', `The call did not finish within ${TOOL_CALL_TIMEOUT_MS} ms; it goes on. Read the invocation for its result.`, undefined, outcome.invocationId);
    case 'finished': {
      const { reply } = outcome;
      if (reply.status !== 'succeeded') {
        const error = errorFromReply(reply.error!);
        return toolError(tool, error.code, error.message, error.details, reply.invocationId);
      }
      mcpToolCalls.inc({ connector: tool.connector.id, action: tool.action.id, outcome: 'succeeded' });
      const output = (reply.output ?? {}) as Record<string, unknown>;
      return {
        content: [{ type: 'text', text: JSON.stringify(output) }, ...artifactLinks(output, scope.publicUrl)],
        structuredContent: output,
        _meta: { invocationId: reply.invocationId },
      };
    }
  }
}

/** A failure the model can read and act on: the API error code, its message and the invocation. */
function toolError(tool: ProjectTool, code: string, message: string, details: unknown, invocationId: string | undefined): CallToolResult {
  mcpToolCalls.inc({ connector: tool.connector.id, action: tool.action.id, outcome: 'failed' });
  const error = { code, message, ...(details === undefined ? {} : { details }) };
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
    if (!ref || typeof ref !== 'object' || typeof ref.url !== 'string' || typeof ref.contentType !== 'string' || !ref.url.startsWith('/v1/invocations/')) continue;
    links.push({ type: 'resource_link', uri: `${publicUrl}${ref.url}`, name, mimeType: ref.contentType, ...(typeof ref.sizeBytes === 'number' ? { size: ref.sizeBytes } : {}) });
  }
  return links;
}
