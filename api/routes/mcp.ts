import { type Request, type Response, Router } from 'express';
import type { Config } from '../../shared/config.ts';
import type { ConnectorLookup } from '../../shared/custom-connectors/connector-lookup.ts';
import type { Db } from '../../shared/db/database.ts';
import { ApiError } from '../../shared/errors.ts';
import { isWellFormedId } from '../../shared/ids.ts';
import { publicBaseUrl } from '../../shared/public-url.ts';
import { annotateActiveSpan } from '../../shared/tracing/tracing.ts';
import type { ExecutionService } from '../execution/execution-service.ts';
import { createEngineMcpNodeHandler, type McpRequestScope } from '../mcp/engine-mcp-server.ts';
import { mcpTraceCarrier } from '../mcp/mcp-trace-parent.ts';
import { type Authenticator, admissionCaller, type Principal } from '../middleware/authenticate.ts';
import { sendError } from '../middleware/errors.ts';
import type { BodyReader } from '../middleware/json-body.ts';
import { startRequestSpan } from '../middleware/trace-request.ts';
import { onFirstUse } from '../on-first-use.ts';
import { projectTools, toolByName } from '../tools/project-tools.ts';

const LOCALHOST = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * What a tool call costs the api relative to an HTTP execution, for the admission gate's pacing of a
 * heavy caller (docs/decisions/0018): measured under a flood, 1.97 against 1.03 ms of api CPU per
 * call (the SDK builds a server per request and checks the result against the tool's schema).
 */
const TOOL_CALL_COST = 2;

/**
 * Whether a browser-based MCP client may call from `origin`: a page of this machine (localhost, any
 * port, as the SDK's own localhost validation allows), the server's PUBLIC_URL, or the operator's
 * MCP_ALLOWED_ORIGINS. What it stops is DNS rebinding: a foreign site's page reaching the endpoint.
 */
export function mcpOriginAllowed(config: Config): (origin: string) => boolean {
  const listed = new Set(config.MCP_ALLOWED_ORIGINS);
  if (config.PUBLIC_URL) listed.add(new URL(config.PUBLIC_URL).origin);
  return (origin) => {
    if (listed.has(origin)) return true;
    try {
      const url = new URL(origin);
      return (url.protocol === 'http:' || url.protocol === 'https:') && LOCALHOST.has(url.hostname);
    } catch {
      return false;
    }
  };
}

/**
 * POST /v1/mcp: the Model Context Protocol server (Streamable HTTP, stateless; engine-mcp-server.ts).
 * Authenticated with a project key: the tools are that project's. A present `Origin` that is not
 * allowed is refused with 403 (DNS rebinding from a browser). The key is checked before the body is
 * read (`readBody`, as every route: a made-up key never makes the api buffer a body); a `tools/call`
 * then takes its place at the execution service's admission gate, exactly like POST /v1/executions:
 * agents get the same fairness as HTTP callers.
 */
export function mcpRoutes(
  authenticator: Authenticator,
  db: Db,
  service: ExecutionService,
  config: Config,
  readBody: BodyReader,
  connectors: ConnectorLookup,
): Router {
  const router = Router();
  // The SDK loads on the first MCP request, not at start-up (engine-mcp-server.ts).
  const nodeHandler = onFirstUse(() => createEngineMcpNodeHandler(service));
  const originAllowed = mcpOriginAllowed(config);
  const publicUrl = publicBaseUrl(config);

  const serve = async (req: Request, res: Response) => {
    const origin = req.get('origin');
    if (origin !== undefined && !originAllowed(origin)) {
      res.status(403).json({
        jsonrpc: '2.0',
        error: { code: -32600, message: `Origin ${JSON.stringify(origin.slice(0, 200))} is not allowed.` },
      });
      return;
    }
    let principal: Awaited<ReturnType<Authenticator['authenticate']>>;
    try {
      principal = await authenticator.authenticate(req);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (err.code === 'unauthenticated') res.setHeader('WWW-Authenticate', 'Bearer realm="connector-engine"');
      return sendError(res, err);
    }
    if (principal.kind !== 'project') {
      res.setHeader('WWW-Authenticate', 'Bearer realm="connector-engine"');
      return sendError(
        res,
        new ApiError('unauthenticated', 'The MCP server serves one project: authenticate with a project key.'),
      );
    }
    await readBody(req, res);
    const body = req.body as { method?: unknown } | undefined;
    const isCall = req.method === 'POST' && body?.method === 'tools/call';
    // A tools/call is traced from here, under the `traceparent` of its `_meta`, else of its headers.
    const span = isCall
      ? startRequestSpan(req, res, 'tools/call', '/v1/mcp', mcpTraceCarrier(body, req.headers))
      : undefined;
    return span
      ? span.run(() => respond(req, res, principal, body, isCall))
      : respond(req, res, principal, body, isCall);
  };

  /** The authenticated request, body read: its place at the gate (a call), its tools, the SDK's answer. */
  const respond = async (
    req: Request,
    res: Response,
    principal: Extract<Principal, { kind: 'project' }>,
    body: { method?: unknown } | undefined,
    isCall: boolean,
  ) => {
    const ticket = isCall
      ? await service.admission.enter(admissionCaller(req), res, { cost: TOOL_CALL_COST })
      : undefined;
    if (isCall && !ticket) return; // the client hung up while waiting
    try {
      // A call needs only its own tool, and no query: the execution service checks the binding.
      const called = isCall
        ? await toolByName(
            connectors,
            principal.workspaceId,
            String((body as { params?: { name?: unknown } }).params?.name ?? ''),
          )
        : undefined;
      if (called) annotateActiveSpan({ 'gen_ai.tool.name': called.name });
      const tools = isCall
        ? called
          ? [called]
          : []
        : await projectTools(db, connectors, principal.workspaceId, principal.projectId);
      const scope: McpRequestScope = {
        principal,
        tools,
        ticket: ticket ?? undefined,
        publicUrl,
        // A task is an invocation this project made over MCP; any other id names nothing.
        findTask: async (id) =>
          isWellFormedId('invocation', id)
            ? db
                .selectFrom('invocations')
                .selectAll()
                .where('id', '=', id)
                .where('project_id', '=', principal.projectId)
                .where('via', '=', 'mcp')
                .executeTakeFirst()
            : undefined,
        taskTtlMs: config.INVOCATION_RETENTION_DAYS * 24 * 3600 * 1000,
      };
      // The key itself never travels further: the handler gets the scope it authorizes.
      (req as Request & { auth?: unknown }).auth = {
        token: 'project-key',
        clientId: principal.keyId,
        scopes: [],
        extra: { engine: scope },
      };
      await (await nodeHandler())(req, res, req.body);
    } finally {
      ticket?.release();
    }
  };
  // POST carries every request; GET and DELETE (2025-era session operations) are answered 405 by the
  // SDK after authentication, as a stateless server should.
  router.post('/v1/mcp', serve);
  router.get('/v1/mcp', serve);
  router.delete('/v1/mcp', serve);

  return router;
}
