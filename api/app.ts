import type { Queue } from 'bullmq';
import express, { type Express } from 'express';
import type { Config } from '../shared/config.ts';
import { ConnectionBreaker } from '../shared/connections/connection-breaker.ts';
import { CredentialRefresher } from '../shared/connections/credential-refresher.ts';
import type { Vault } from '../shared/crypto/vault.ts';
import { createConnectorLookup } from '../shared/custom-connectors/connector-lookup.ts';
import type { Db } from '../shared/db/database.ts';
import { RateLimitPolicy } from '../shared/limiter/rate-limit-policy.ts';
import { MAX_RUNNING_CALLS_OVERRIDE } from '../shared/limiter/running-share.ts';
import { SlidingWindowLimiter } from '../shared/limiter/sliding-window-limiter.ts';
import type { Logger } from '../shared/logger.ts';
import { metricsText } from '../shared/metrics.ts';
import type { ExecuteQueues } from '../shared/queue/execute-queues.ts';
import type { InboundEventJobData } from '../shared/queue/inbound-event-job.ts';
import type { RedisClient } from '../shared/queue/redis.ts';
import type { ConnectionEvents } from '../shared/webhooks-out/connection-events.ts';
import { ConnectSessionAuth } from './connect/connect-tokens.ts';
import { AdmissionGate } from './execution/admission-gate.ts';
import { ExecutionService } from './execution/execution-service.ts';
import type { ReplyListener } from './execution/reply-listener.ts';
import { RequestHasher } from './execution/request-hash.ts';
import { TargetResolver } from './execution/resolve-target.ts';
import { BodyBudget } from './http/body-budget.ts';
import type { LookupCaches } from './lookup-caches.ts';
import { AuthFailureThrottle } from './middleware/auth-throttle.ts';
import { Authenticator, authenticate, requireWorkspaceKey } from './middleware/authenticate.ts';
import { errorHandler, notFoundRoute } from './middleware/errors.ts';
import { httpMetrics } from './middleware/http-metrics.ts';
import { jsonBody, jsonBodyReader, rawBodyReader } from './middleware/json-body.ts';
import { requestId } from './middleware/request-id.ts';
import { requestLog } from './middleware/request-log.ts';
import { openApiRoutes } from './openapi/openapi-routes.ts';
import { catalogRoutes } from './routes/catalog.ts';
import { connectPageRoutes, connectSessionRoutes } from './routes/connect-sessions.ts';
import { connectionRoutes } from './routes/connections.ts';
import { customConnectorRoutes } from './routes/custom-connectors.ts';
import { eventRoutes } from './routes/events.ts';
import { executionRoutes } from './routes/executions.ts';
import { healthRoutes } from './routes/health.ts';
import { inboundRoutes } from './routes/inbound.ts';
import { invocationRoutes } from './routes/invocations.ts';
import { mcpRoutes } from './routes/mcp.ts';
import { oauthAuthorizeRoutes, oauthCallbackRoutes } from './routes/oauth.ts';
import { projectRoutes } from './routes/projects.ts';
import { rateLimitUsageRoutes } from './routes/rate-limit-usage.ts';
import { toolRoutes } from './routes/tools.ts';
import { webhooksOutRoutes } from './routes/webhooks-out.ts';
import { webPageRoutes } from './web/web-pages.ts';

export interface ApiDeps {
  config: Config;
  db: Db;
  /** The audit-log lists' database: a read replica (DATABASE_READ_URL), or `db` itself. */
  readDb?: Db;
  vault: Vault;
  /** For readiness checks; the api's fail-fast connection. */
  redis: RedisClient;
  /** The execute queue's shards; a call goes to its project's. */
  queues: ExecuteQueues;
  replies: ReplyListener;
  /** Status changes → webhook deliveries. */
  events: ConnectionEvents;
  /** Inbound events → their fan-out to webhooks out, done by the workers. */
  inboundQueue: Queue<InboundEventJobData>;
  /** The key and call-target lookups' caches (docs/decisions/0016-lookup-cache.md). */
  lookups: LookupCaches;
  logger: Logger;
}

export function createApp(deps: ApiDeps): Express {
  const { config, db, vault, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // X-Forwarded-For counts only from the proxies the operator listed (api/http/client-address.ts).
  app.set('trust proxy', config.TRUST_PROXY.length > 0 ? config.TRUST_PROXY : false);

  app.use(requestId);
  app.use(httpMetrics);
  // Request lines are written at info. At a quieter level (warn in production) pino-http would still
  // build a child logger per request for nothing: 11 % of the api's CPU (docs/benchmarks.md). Errors
  // are logged by the error handler either way.
  if (logger.isLevelEnabled('info')) app.use(requestLog(logger));
  // No body parser here: a route reads its body (readBody) only once the request has authenticated,
  // so a made-up key never makes the api buffer one (docs/security.md, "Abuse of the api").
  const authThrottle = new AuthFailureThrottle(config.AUTH_FAILURE_LIMIT, config.AUTH_FAILURE_WINDOW_MS);
  const authenticator = new Authenticator(db, authThrottle, deps.lookups.keys);
  const bodyBudget = new BodyBudget(config.MAX_INFLIGHT_BODY_BYTES);
  const readBody = jsonBodyReader(config, bodyBudget);

  // The hot path first, so it does not walk the routers below: authentication, body, admission.
  const limits = new RateLimitPolicy(config);
  // Built-in connectors, and each workspace's custom ones (compiled versions cached).
  const connectors = createConnectorLookup(db, vault, config);
  const executions = new ExecutionService(
    db,
    deps.queues,
    deps.replies,
    new SlidingWindowLimiter(deps.redis),
    limits,
    AdmissionGate.paced(config.ADMISSION_HEAVY_PACE_MS),
    new RequestHasher(vault),
    connectors,
    new TargetResolver(db, deps.lookups.targets),
  );
  app.use(executionRoutes(executions, (req) => authenticator.authenticate(req), readBody));

  app.use(healthRoutes(db, deps.redis));
  app.get('/metrics', async (_req, res) => {
    const { contentType, body } = await metricsText();
    res.type(contentType).send(body);
  });
  app.use(catalogRoutes(connectors, (req) => authenticator.authenticate(req)));
  app.use(oauthCallbackRoutes(db, vault, config, connectors));
  // Inbound events authenticate by the service's signature over the raw body, not by an API key.
  app.use(
    inboundRoutes({ db, vault, config, readRaw: rawBodyReader(config, bodyBudget), queue: deps.inboundQueue, logger }),
  );
  // The console and the connect page (static), and the connect page's API (its session token authenticates).
  app.use(webPageRoutes());
  app.use(openApiRoutes()); // the API reference: /openapi.json and /docs
  app.use(connectPageRoutes(db, vault, config, connectors, new ConnectSessionAuth(db, authThrottle), readBody));
  // MCP authenticates itself (a project key; JSON-RPC clients get a WWW-Authenticate challenge).
  app.use(mcpRoutes(authenticator, db, executions, config, readBody, connectors));

  app.use('/v1', authenticate(authenticator), jsonBody(readBody));
  app.use(invocationRoutes(db, deps.readDb ?? db));
  app.use(toolRoutes(db, connectors));
  app.use(eventRoutes(db, deps.readDb ?? db));
  // Everything below manages the workspace.
  app.use('/v1', requireWorkspaceKey);
  app.use(projectRoutes(db, limits, config.PROJECT_MAX_RUNNING_CALLS || MAX_RUNNING_CALLS_OVERRIDE));
  const breaker = new ConnectionBreaker(db, deps.events, logger);
  const refresher = new CredentialRefresher(db, vault, deps.redis, config, logger, breaker);
  app.use(connectionRoutes(db, vault, config, refresher, breaker, deps.events, connectors));
  app.use(oauthAuthorizeRoutes(db, config, connectors));
  app.use(customConnectorRoutes(db, config, connectors));
  app.use(webhooksOutRoutes(db, vault, config));
  app.use(connectSessionRoutes(db, config));
  app.use(rateLimitUsageRoutes(db, limits));

  app.use(notFoundRoute);
  app.use(errorHandler(logger));
  return app;
}
