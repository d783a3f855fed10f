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
}

const INDEX_LOOKUPS_ONLY =
  '-c plan_cache_mode=force_generic_plan -c enable_seqscan=off -c enable_hashjoin=off -c enable_mergejoin=off';

export function createDb(databaseUrl: string, options: DbOptions = {}): Db {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    ...(options.indexLookupsOnly && options.preparedStatements !== false ? { options: INDEX_LOOKUPS_ONLY } : {}),
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
