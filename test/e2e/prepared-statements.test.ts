import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../shared/db/database.ts';
import { MAX_NAMED_STATEMENTS, PreparedStatementPool } from '../../shared/db/prepared-statement-pool.ts';
import { createTestDatabase, type TestDatabase } from '../support/services.ts';

/** What the (single) pooled connection has prepared, read on that same connection. */
async function preparedOnConnection(db: Db): Promise<string[]> {
  const { rows } = await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(db);
  return rows.map((r) => r.statement);
}

describe('named prepared statements', () => {
  let database: TestDatabase;
  let db: Db;
  let plain: Db;

  beforeAll(async () => {
    database = await createTestDatabase();
    // One connection, so every query below runs on the session whose prepared statements we read.
    db = createDb(database.url, { max: 1 });
    plain = createDb(database.url, { max: 1, preparedStatements: false });
  });
  afterAll(async () => {
    await db?.destroy();
    await plain?.destroy();
    await database?.drop();
  });

  it('prepares each query text once per connection and reuses it with new parameters', async () => {
    for (const id of ['ws_a', 'ws_b', 'ws_c']) {
      const row = await db.selectFrom('workspaces').select('id').where('id', '=', id).executeTakeFirst();
      expect(row).toBeUndefined();
    }
    const prepared = await preparedOnConnection(db);
    const lookups = prepared.filter((s) => s.startsWith('select "id" from "workspaces"'));
    expect(lookups).toHaveLength(1);
  });

  it('returns the same results as unnamed statements, parameters included', async () => {
    const q = (d: Db) => sql<{ n: number; s: string }>`select ${41}::int + 1 as n, ${'x'}::text || 'y' as s`.execute(d);
    expect((await q(db)).rows).toEqual((await q(plain)).rows);
    expect((await q(db)).rows).toEqual([{ n: 42, s: 'xy' }]);
  });

  it('sends DDL and transaction control unnamed', async () => {
    await sql`create temporary table prepared_probe (x int)`.execute(db);
    await db.transaction().execute(async (trx) => {
      await sql`insert into prepared_probe values (${1})`.execute(trx);
    });
    const prepared = await preparedOnConnection(db);
    expect(prepared.some((s) => /^create|^begin|^commit/i.test(s))).toBe(false);
    expect(prepared.some((s) => s.startsWith('insert into prepared_probe'))).toBe(true);
  });

  it('stops naming new texts at the cap, so varying statements cannot grow without bound', () => {
    const pool = new PreparedStatementPool({} as never);
    for (let i = 0; i < MAX_NAMED_STATEMENTS; i++) expect(pool.nameFor(`select ${i}`)).toBe(`ce_${i + 1}`);
    expect(pool.nameFor('select -1')).toBeUndefined();
    // Texts named before the cap keep their names.
    expect(pool.nameFor('select 7')).toBe('ce_8');
  });

  it('is off when asked (transaction-pooling proxies)', async () => {
    await plain.selectFrom('workspaces').select('id').where('id', '=', 'ws_z').execute();
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements`.execute(plain);
    expect(rows[0]!.n).toBe(0);
  });

  it('keeps answering when a migration changes a table under a prepared statement', async () => {
    await sql`create table prepared_shape (id int primary key)`.execute(plain);
    await sql`insert into prepared_shape values (1)`.execute(plain);
    const read = () => sql<Record<string, unknown>>`select * from prepared_shape where id = ${1}`.execute(db);
    expect((await read()).rows).toEqual([{ id: 1 }]);
    await sql`alter table prepared_shape add column label text default 'x'`.execute(plain);
    expect((await read()).rows).toEqual([{ id: 1, label: 'x' }]);
    expect((await read()).rows).toEqual([{ id: 1, label: 'x' }]);
  });
});
