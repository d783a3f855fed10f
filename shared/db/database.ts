import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { PreparedStatementPool } from './prepared-statement-pool.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;

// BIGINT counts (e.g. count(*)) arrive as strings by default; they fit in a JS number here.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));

export interface DbOptions {
  /** Pool size per process. */
  max?: number;
  /** Named prepared statements (see PreparedStatementPool); on unless turned off. */
  preparedStatements?: boolean;
  /**
   * Plans on this pool's connections go from keys to rows through indexes only: sequential scans,
   * hash joins and merge joins are priced out (Postgres's `enable_*` settings, set at connect). For
   * statements that look rows up by their keys, whose plans a connection caches: a plan cached while
   * the month's partition was empty (and not yet analyzed) otherwise hash-joins over the whole month
   * once it has filled (test/e2e/worker-statement-plans.test.ts). Such a plan is also used from the
   * first run on (`plan_cache_mode=force_generic_plan`): a statement over `unnest` of array parameters
   * otherwise stays custom-planned on every run, because its generic plan assumes ten elements where
   * the custom one counts them, and planning was 0.2-0.3 ms of each claim and completion.
   * Only with prepared statements: a transaction-pooling proxy may refuse the startup option.
   * Default false.
   */
  indexLookupsOnly?: boolean;
  /**
   * Commits on this pool's connections return before their WAL is flushed (`synchronous_commit=off`):
   * visible at once, durable within Postgres's WAL writer delay (200 ms by default), and lost only
   * if Postgres or its machine crashes first. Only for writes whose loss in such a crash does no harm
   * (docs/decisions/0020). Only with prepared statements, as `indexLookupsOnly`; without them the
   * commits stay durable. Default false.
   */
  asyncCommit?: boolean;
  /** `application_name` of the pool's connections (pg_stat_activity). */
  applicationName?: string;
}

const INDEX_LOOKUPS_ONLY =
  '-c plan_cache_mode=force_generic_plan -c enable_seqscan=off -c enable_hashjoin=off -c enable_mergejoin=off';

const ASYNC_COMMIT = '-c synchronous_commit=off';

export function createDb(databaseUrl: string, options: DbOptions = {}): Db {
  // Startup options: a transaction-pooling proxy (run with prepared statements off) may refuse them.
  const startup =
    options.preparedStatements === false
      ? []
      : [...(options.indexLookupsOnly ? [INDEX_LOOKUPS_ONLY] : []), ...(options.asyncCommit ? [ASYNC_COMMIT] : [])];
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    ...(startup.length > 0 ? { options: startup.join(' ') } : {}),
    ...(options.applicationName ? { application_name: options.applicationName } : {}),
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its server connection must not crash the process; the next query reports it.
  pool.on('error', () => {});
  return new Kysely<Database>({
    dialect: new PostgresDialect({
      pool: options.preparedStatements === false ? pool : new PreparedStatementPool(pool),
    }),
  });
}
