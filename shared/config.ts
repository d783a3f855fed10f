import { z } from 'zod';

/**
 * Process configuration, read once from the environment at start-up.
 * Every problem is reported on its own line naming the variable, so an operator can fix them all in one go.
 */
const httpUrl = z.url({ protocol: /^https?$/ });

const configSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  /** Send hot-path queries as named prepared statements; turn off behind a transaction-pooling proxy. */
  DB_PREPARED_STATEMENTS: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL'),
  CONNECTORS_ENCRYPTION_KEYS: z.string().min(1, 'is required'),
  BOOTSTRAP_WORKSPACE_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(1000),
  WORKER_CONCURRENCY: z.coerce.number().int().positive().max(1000).default(16),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PUBLIC_URL: httpUrl.optional(),
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(1024 * 1024),
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** How often each active connection's credentials are re-tested; 0 turns health checks off. */
  HEALTH_CHECK_INTERVAL_MS: z.coerce.number().int().min(0).default(24 * 3600 * 1000),
  /** How often workers look for due health checks and other maintenance. */
  MAINTENANCE_TICK_MS: z.coerce.number().int().min(1_000).default(60_000),
  /** Invocation outputs and artifacts are deleted after this many days; the audit row stays. */
  INVOCATION_RETENTION_DAYS: z.coerce.number().int().min(1).default(30),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** Allow webhook URLs on loopback and private networks (local development and tests only). */
  WEBHOOK_ALLOW_PRIVATE_TARGETS: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  /** Each worker serves /metrics here; 0 picks a free port (logged). */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  SLACK_CLIENT_ID: z.string().optional(),
  SLACK_CLIENT_SECRET: z.string().optional(),
  RESEND_API_URL: httpUrl.default('https://api.resend.com'),
  SLACK_API_URL: httpUrl.default('https://slack.com/api'),
  SLACK_OAUTH_AUTHORIZE_URL: httpUrl.default('https://slack.com/oauth/v2/authorize'),
  ELEVENLABS_API_URL: httpUrl.default('https://api.elevenlabs.io'),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Empty strings count as unset, as they do in most deployment tools. */
function withoutEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(withoutEmpty(env));
  if (!parsed.success) {
    // Never echo the value: some of these variables are secrets.
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const missing = i.code === 'invalid_type' && (i as { input?: unknown }).input === undefined;
        return `${i.path.join('.') || '(env)'}: ${missing ? 'is required' : i.message}`;
      }),
    );
  }
  return parsed.data;
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
