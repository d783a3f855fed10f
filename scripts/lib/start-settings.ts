import { z } from 'zod';

const port = z.coerce.number().int().min(1).max(65535);

/**
 * What `npm start` (scripts/start.ts) reads for itself, besides the engine's settings
 * (shared/config.ts, which it passes on to the api and worker). Checked once at start-up; a bad value
 * stops it with one `config error:` line per problem, as the engine's own settings do.
 */
const startSettingsSchema = z.object({
  /** Where `npm start` keeps its data (Redis, Postgres, secrets), relative to the checkout. */
  START_DATA_DIR: z.string().default('.data'),
  /** `1` or `true`: start only Redis and Postgres (and migrate), print their URLs and wait. */
  START_SERVICES_ONLY: z
    .string()
    .optional()
    .transform((v) => v === '1' || v === 'true'),
  /** The port of the Redis that `npm start` runs itself (when REDIS_URL is unset). */
  REDIS_PORT: port.default(6390),
  /** The port of the Postgres that `npm start` runs itself (when DATABASE_URL is unset). */
  PG_PORT: port.default(5440),
  /** That Redis's memory cap: BullMQ needs noeviction, so a full Redis refuses new jobs rather than dropping old ones. */
  REDIS_MAXMEMORY: z
    .string()
    .regex(/^[1-9][0-9]*(kb|mb|gb)?$/i, 'must be a size such as 512mb')
    .default('512mb'),
  /** The directory of `initdb` and `postgres` to use, before the usual places. */
  POSTGRES_BIN_DIR: z.string().optional(),
  /** The `redis-server` to use, before PATH and the usual places. */
  REDIS_SERVER_BIN: z.string().optional(),
});

export type StartSettings = z.infer<typeof startSettingsSchema>;

/** The variables startSettingsSchema reads (test/unit/env-example.test.ts checks .env.example against them). */
export const START_VARIABLES: readonly string[] = Object.keys(startSettingsSchema.shape);

/** Parses `npm start`'s own settings; empty values count as unset. Throws with one line per problem. */
export function parseStartSettings(env: NodeJS.ProcessEnv): StartSettings {
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = startSettingsSchema.safeParse(set);
  if (parsed.success) return parsed.data;
  // Never echo the value.
  throw new Error(parsed.error.issues.map((i) => `config error: ${i.path.join('.')}: ${i.message}`).join('\n'));
}

/**
 * The LOG_FORMAT `npm start` gives its api and worker: the one set (environment or .env) wins, even
 * a wrong one (they then report it as a config error), else `pretty` when start's stdout is a
 * terminal (theirs is the same), else `json`, exactly as in production (pipes, CI, containers).
 */
export function childLogFormat(env: NodeJS.ProcessEnv, stdoutIsTTY: boolean): string {
  return env.LOG_FORMAT || (stdoutIsTTY ? 'pretty' : 'json');
}
