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
}

export function createDb(databaseUrl: string, options: DbOptions = {}): Db {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
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
