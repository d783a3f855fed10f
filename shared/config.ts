import { isIP } from 'node:net';
import { z } from 'zod';
import { DEFAULT_PARTITIONS_AHEAD } from './db/partitions.ts';
import { invalidAllowEntries } from './egress/allow-list.ts';

/**
 * Process configuration, read once from the environment at start-up.
 * Every problem is reported on its own line naming the variable, so an operator can fix them all in one go.
 */
const httpUrl = z.url({ protocol: /^https?$/ });

/** One TRUST_PROXY entry: what Express's `trust proxy` accepts, minus hop counts and `true` (trusting every peer). */
function isProxySpec(spec: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(spec)) return true;
  const [address, bits, extra] = spec.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

const configSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  /**
   * An optional read replica (a streaming standby) for the audit-log lists (GET /v1/invocations and
   * GET /v1/events without an id), which may lag the primary by the replication delay. Everything
   * else, and every read that must see a write just made (idempotency, sync results, an invocation
   * by id), stays on DATABASE_URL. Unset: the lists read the primary.
   */
  DATABASE_READ_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  /** Send hot-path queries as named prepared statements; turn off behind a transaction-pooling proxy. */
  DB_PREPARED_STATEMENTS: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL'),
  /**
   * A Redis Cluster's seed nodes, comma-separated `host:port` (a few are enough; the rest are
   * discovered). Empty: the single Redis of REDIS_URL. With nodes set, REDIS_URL's user, password and
   * TLS (`rediss://`) apply to every node (docs/operations.md, "Redis Cluster").
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'must be a comma-separated list of host:port'))),
  /**
   * Execute queues the calls are spread over, by project (docs/decisions/0015). On a Redis Cluster
   * each shard is its own hash slot, so the shards spread over the masters; every worker consumes
   * all of them. Api and workers must agree on it. 1 keeps the single queue `execute`.
   */
  EXECUTE_QUEUE_SHARDS: z.coerce.number().int().min(1).max(64).default(1),
  CONNECTORS_ENCRYPTION_KEYS: z.string().min(1, 'is required'),
  BOOTSTRAP_WORKSPACE_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(1000),
  /**
   * The highest per-minute limit a project may give itself (`PATCH /v1/projects/{id}` rateLimits),
   * whatever the connector's ceiling (`<ID>_RATE_LIMIT_PER_MINUTE`): workspace admins are tenants.
   */
  RATE_LIMIT_MAX_PER_MINUTE: z.coerce.number().int().positive().default(10_000),
  WORKER_CONCURRENCY: z.coerce.number().int().positive().max(1000).default(16),
  /**
   * Places of the whole worker tier (the sum of every worker's WORKER_CONCURRENCY) kept for projects
   * below their fair share, so a project's first call starts at once however busy another is.
   */
  EXECUTION_RESERVE_SLOTS: z.coerce.number().int().min(0).max(1000).default(2),
  /**
   * While a light caller is active, each of a heavy caller's admission places (2 of 8 per api
   * process) stays taken at least this long: the heavy caller gets at most 2 calls in per this many
   * ms per api process (250/s at 8 ms) while others are served. 0: off (docs/decisions/0018).
   */
  ADMISSION_HEAVY_PACE_MS: z.coerce.number().int().min(0).max(10_000).default(8),
  /** Calls one project may run at once across all workers, whatever its share; 0: no cap beyond the fair share. */
  PROJECT_MAX_RUNNING_CALLS: z.coerce.number().int().min(0).max(100_000).default(0),
  /**
   * Total time an invocation's attempts may take, from the first attempt's start: no attempt starts
   * after it, and the last one's timeout is cut to what remains.
   */
  EXECUTION_TIME_BUDGET_MS: z.coerce.number().int().positive().default(60_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * `json`: one object per line, for machines; `pretty`: human lines (shared/logger.ts). `npm start`
   * passes `pretty` to its api and worker when its own stdout is a terminal and this is unset.
   */
  LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  PUBLIC_URL: httpUrl.optional(),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** The largest upstream answer read and parsed (JSON or text); a larger one fails the call with `upstream_error` (response_too_large). */
  UPSTREAM_MAX_RESPONSE_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024),
  /**
   * The largest binary upstream answer (audio), kept as an artifact. ElevenLabs' longest speech
   * input (40,000 characters) is about 45 minutes of 128 kbit/s MP3, ~43 MB.
   */
  UPSTREAM_MAX_BINARY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(64 * 1024 * 1024),
  /** Compiled custom connector definitions kept in memory per process (by workspace, id and version). */
  CUSTOM_CONNECTORS_CACHE_SIZE: z.coerce.number().int().positive().default(500),
  /** Custom connectors one workspace may define; POST /v1/connectors beyond it is 409 conflict. */
  CUSTOM_CONNECTORS_PER_WORKSPACE_MAX: z.coerce.number().int().positive().default(50),
  /** How often each active connection's credentials are re-tested; 0 turns health checks off. */
  HEALTH_CHECK_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(24 * 3600 * 1000),
  /** How often workers look for due health checks and other maintenance. */
  MAINTENANCE_TICK_MS: z.coerce.number().int().min(1_000).default(60_000),
  /**
   * A queued or running invocation older than this whose job is gone from Redis (lost with a failed
   * Redis master, or failed without a result) is closed as failed by the maintenance tick.
   */
  UNFINISHED_SWEEP_AFTER_MS: z.coerce.number().int().min(1_000).default(120_000),
  /** Invocation outputs and artifacts are deleted after this many days; the audit row stays. */
  INVOCATION_RETENTION_DAYS: z.coerce.number().int().min(1).default(30),
  /**
   * Audit rows themselves (invocations and inbound events) are dropped a whole month at a time once
   * the month is entirely older than this many days (docs/decisions/0013-partitioned-audit-log.md);
   * 0 keeps them forever, as before partitioning. Runs in the maintenance tick and `retention:run`.
   */
  AUDIT_LOG_RETENTION_DAYS: z.coerce.number().int().min(0).max(36_500).default(0),
  /** Months ahead of the current one whose audit-log partitions the maintenance tick keeps created. */
  PARTITIONS_AHEAD_MONTHS: z.coerce.number().int().min(1).max(24).default(DEFAULT_PARTITIONS_AHEAD),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /**
   * Deprecated alias (use EGRESS_ALLOW_HOSTS): `true` lets the egress guard through to loopback and
   * private ranges (and `localhost`); every other refused class (metadata, link-local, ...) stays refused.
   */
  WEBHOOK_ALLOW_PRIVATE_TARGETS: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  /** Host names, IPs and CIDRs the egress guard (shared/egress/) lets through, comma-separated. */
  EGRESS_ALLOW_HOSTS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((h) => h.trim())
        .filter(Boolean),
    )
    .refine(
      (entries) => invalidAllowEntries(entries).length === 0,
      'must be a comma-separated list of host names, IPs or CIDRs such as hooks.corp.example,10.1.2.3,192.168.0.0/16',
    ),
  /**
   * The largest body POST /v1/inbound/… reads (bytes). Larger is 413 unread; services send events of
   * a few KiB (Slack, Resend, Twilio), and the body is held raw until its signature is checked.
   */
  INBOUND_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .max(16 * 1024 * 1024)
    .default(256 * 1024),
  /** Webhooks one workspace may have; POST /v1/webhooks beyond it is 409 conflict. */
  WEBHOOKS_PER_WORKSPACE_MAX: z.coerce.number().int().positive().default(20),
  /** Webhook deliveries in flight at once per worker process (they wait on the network, not the CPU). */
  WEBHOOK_CONCURRENCY: z.coerce.number().int().positive().max(1000).default(16),
  /** Deliveries of one workspace in flight at once across all workers: its share; the rest wait their turn. */
  WEBHOOK_WORKSPACE_CONCURRENCY: z.coerce.number().int().positive().default(4),
  /** Consecutive timeouts or connection failures to one target host (per workspace) that open its circuit. */
  WEBHOOK_CIRCUIT_FAILURES: z.coerce.number().int().positive().default(5),
  /** How long an open circuit defers deliveries before one probe; doubles while probes fail (up to an hour). */
  WEBHOOK_CIRCUIT_COOLOFF_MS: z.coerce.number().int().min(1_000).default(60_000),
  /** Origins (scheme://host:port) browser-based MCP clients may call /v1/mcp from, besides this server's own. */
  MCP_ALLOWED_ORIGINS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .pipe(
      z.array(
        z
          .string()
          .regex(/^https?:\/\/[^/\s]+$/, 'must be a comma-separated list of origins such as https://app.example.com'),
      ),
    ),
  /**
   * How long a connect session's token (POST /v1/connect-sessions, the hosted page /connect/{token})
   * stays usable, in seconds; at most 30 minutes: the link may be forwarded or leak from a history.
   */
  CONNECT_SESSION_TTL_SECONDS: z.coerce.number().int().min(60).max(1800).default(1800),
  /**
   * Where a finished OAuth consent may send the user (`redirectUri` of POST /v1/oauth/{id}/authorize),
   * besides PUBLIC_URL's origin: comma-separated exact URLs, or origins (scheme://host:port) for any path on them.
   */
  OAUTH_REDIRECT_URIS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .pipe(z.array(httpUrl)),
  /** Each worker serves /metrics here; 0 picks a free port (logged). */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /** A client must have sent its request headers within this long of connecting (Node's headersTimeout). */
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /**
   * A client must have sent its whole request (headers and body) within this long (Node's
   * requestTimeout). It covers receiving the request only: a sync call's wait for its result is not
   * counted. Raised to HTTP_HEADERS_TIMEOUT_MS when lower.
   */
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  /** A request body that makes no progress for this long is abandoned and its connection closed. */
  HTTP_BODY_IDLE_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** How long an idle keep-alive connection stays open; above the usual 60 s idle timeout of load balancers. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(0).default(65_000),
  /** Open connections per client address; more are answered 429 and closed. Trusted proxies are exempt. */
  MAX_CONNECTIONS_PER_CLIENT: z.coerce.number().int().positive().default(64),
  /** Request body bytes one api process holds at once; a body that does not fit is refused (503) unread. */
  MAX_INFLIGHT_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(32 * 1024 * 1024),
  /** Failed authentications per client address and window before its keyed requests get 429 until the window ends. */
  AUTH_FAILURE_LIMIT: z.coerce.number().int().positive().default(20),
  /** The window AUTH_FAILURE_LIMIT counts in; a throttled address is let through again when it ends. */
  AUTH_FAILURE_WINDOW_MS: z.coerce.number().int().min(100).default(60_000),
  /**
   * How long the api serves a key's or a call target's lookup from memory at most
   * (docs/decisions/0016-lookup-cache.md). Changes reach every api process at once through Postgres
   * notifications; this bounds what a lost one could leave stale. 0 turns the cache off: every call
   * reads Postgres.
   */
  LOOKUP_CACHE_TTL_MS: z.coerce.number().int().min(0).default(30_000),
  /**
   * Proxies whose X-Forwarded-For names the client (comma-separated addresses, CIDR ranges, or
   * loopback / linklocal / uniquelocal). Empty: the client is the connection's peer address.
   */
  TRUST_PROXY: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    )
    .pipe(
      z.array(
        z
          .string()
          .refine(
            isProxySpec,
            'must be a comma-separated list of IP addresses, CIDR ranges, loopback, linklocal or uniquelocal',
          ),
      ),
    ),
});

/** The variables configSchema reads, by name (test/unit/env-example.test.ts checks .env.example against them). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(configSchema.shape);

/**
 * Settings that connectors and OAuth providers bring, named from their ids
 * (connectors/toolkit/settings.ts): any variable with one of these suffixes is read, checked by its
 * kind, and handed to the connectors as `Config.connectorSettings`. Their defaults live in the
 * connector definitions, so this file never names a service.
 */
export const CONNECTOR_SETTING_SUFFIXES = [
  '_API_URL',
  '_OAUTH_AUTHORIZE_URL',
  '_OAUTH_TOKEN_URL',
  '_CLIENT_ID',
  '_CLIENT_SECRET',
  '_RATE_LIMIT_PER_MINUTE',
  '_SIGNING_SECRET',
] as const;
const connectorSettingName = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;
const isUrlSetting = (name: string) => name.endsWith('_URL');
const isRateSetting = (name: string) => name.endsWith('_RATE_LIMIT_PER_MINUTE');

export type Config = z.infer<typeof configSchema> & {
  /** `<ID>_API_URL`, `<ID>_CLIENT_ID`, … as set in the environment (see CONNECTOR_SETTING_SUFFIXES). */
  connectorSettings: Readonly<Record<string, string>>;
};

function parseConnectorSettings(env: Record<string, string>): { settings: Record<string, string>; problems: string[] } {
  const settings: Record<string, string> = {};
  const problems: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!connectorSettingName.test(name) || !CONNECTOR_SETTING_SUFFIXES.some((s) => name.endsWith(s))) continue;
    if (isUrlSetting(name) && !httpUrl.safeParse(value).success) {
      problems.push(`${name}: must be an http(s) URL`);
      continue;
    }
    if (isRateSetting(name) && !/^[1-9][0-9]{0,8}$/.test(value)) {
      problems.push(`${name}: must be a positive whole number of calls per minute`);
      continue;
    }
    settings[name] = value;
  }
  return { settings, problems };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Empty strings count as unset, as they do in most deployment tools. */
function withoutEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''),
  );
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const set = withoutEmpty(env);
  const parsed = configSchema.safeParse(set);
  const connector = parseConnectorSettings(set);
  // Never echo the value: some of these variables are secrets.
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((i) => {
        const missing = i.code === 'invalid_type' && (i as { input?: unknown }).input === undefined;
        return `${i.path.join('.') || '(env)'}: ${missing ? 'is required' : i.message}`;
      });
  problems.push(...connector.problems);
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  return { ...parsed.data, connectorSettings: connector.settings };
}

/** Entry points call this: a bad configuration stops the process with one clear line per problem. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) process.stderr.write(`config error: ${p}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}
