import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../shared/db/database.ts';
import { newId } from '../../shared/ids.ts';
import { claimAttempts, completeInvocations } from '../../shared/invocations/invocation-store.ts';
import { createTestDatabase, type TestDatabase } from '../support/services.ts';

/**
 * Tuples read from the invocations partitions so far, by sequential and index scans: `reader`'s
 * statistics flushed first, read through `observer`.
 */
async function tuplesReadSoFar(reader: Db, observer: Db): Promise<number> {
  await sql`select pg_stat_force_next_flush()`.execute(reader);
  await new Promise((r) => setTimeout(r, 50));
  const { rows } = await sql<{ n: number }>`
    select (coalesce((select sum(seq_tup_read) from pg_stat_user_tables where relname like 'invocations_p%' or relname = 'invocations_default'), 0)
          + coalesce((select sum(idx_tup_read) from pg_stat_user_indexes where relname like 'invocations_p%' or relname = 'invocations_default'), 0))::float8 as n`.execute(
    observer,
  );
  return rows[0]!.n;
}

/**
 * The worker's claims run as named prepared statements, and Postgres may switch such a statement to a
 * generic plan (decided per connection, after five runs). On the partitioned invocations table a
 * completion bounded by the ids' time window got a generic plan that read the month's whole
 * partition through its created_at index (docs/benchmarks.md). On a populated and analyzed month,
 * over more than five runs of each, the tuples the statements read must stay near the rows they
 * touch, not the partition's size.
 */
describe("the worker's statements once Postgres may plan them generically", () => {
  let database: TestDatabase;
  let generic: Db;
  let observer: Db;
  const ROWS = 20_000;

  beforeAll(async () => {
    database = await createTestDatabase();
    generic = createDb(database.url, { max: 1, indexLookupsOnly: true }); // as the worker's jobWrites
    observer = createDb(database.url, { max: 1 });
    const ids = Array.from({ length: ROWS }, () => newId('invocation'));
    await sql`set session_replication_role = replica`.execute(generic); // no workspace or project rows needed
    await sql`insert into invocations (id, workspace_id, project_id, connection_id, connector_id, action_id, status, request_hash)
      select id, 'ws', 'prj', 'conn', 'resend', 'sendEmail', 'queued', 'h' from unnest(${ids}::text[]) as id`.execute(
      generic,
    );
    await sql`set session_replication_role = origin`.execute(generic);
    await sql`analyze invocations`.execute(generic);
  });
  afterAll(async () => {
    await generic?.destroy();
    await observer?.destroy();
    await database?.drop();
  });

  const tuplesRead = () => tuplesReadSoFar(generic, observer);

  it('claim and complete read about the rows they touch, not the month', async () => {
    const { rows } = await sql<{ id: string }>`select id from invocations order by id limit 30`.execute(observer);
    const before = await tuplesRead();
    for (let k = 0; k < 10; k++) {
      const batch = rows.slice(k * 3, k * 3 + 3).map((r) => r.id);
      const claimed = await claimAttempts(
        generic,
        batch.map((id) => ({ id, connectionId: 'conn' })),
      );
      expect(claimed.every((c) => c?.previousStatus === 'queued')).toBe(true);
      await completeInvocations(
        generic,
        batch.map((id) => ({ id, outcome: { output: { ok: k }, durationMs: 1 } })),
      );
    }
    const read = (await tuplesRead()) - before;
    // 30 claims and 30 completions: a few index probes each. One scan of the month would be 20,000.
    expect(read).toBeLessThan(2_000);
    const done = await sql<{
      n: number;
    }>`select count(*)::int as n from invocations where status = 'succeeded'`.execute(observer);
    expect(done.rows[0]!.n).toBe(30);

    // Claimed again, the finished rows are not in their month's answer, so each claim also runs on the
    // whole table (the unnamed fallback of id-partition.ts): still a few index probes per id.
    const again = await tuplesRead();
    for (let k = 0; k < 10; k++) {
      const batch = rows.slice(k * 3, k * 3 + 3).map((r) => r.id);
      expect(
        await claimAttempts(
          generic,
          batch.map((id) => ({ id, connectionId: 'conn' })),
        ),
      ).toEqual([null, null, null]);
    }
    expect((await tuplesRead()) - again).toBeLessThan(2_000);
  });

  it('claim and complete are planned once per connection, not on every run', async () => {
    const { rows } = await sql<{
      id: string;
    }>`select id from invocations where status = 'queued' order by id limit 12`.execute(observer);
    for (const { id } of rows) {
      await claimAttempts(generic, [{ id, connectionId: 'conn' }]);
      await completeInvocations(generic, [{ id, outcome: { output: null, durationMs: 1 } }]);
    }
    // The pool's one connection: its named statements and how each was planned.
    const plans = await sql<{ statement: string; generic_plans: number; custom_plans: number }>`
      select statement, generic_plans::int, custom_plans::int from pg_prepared_statements
       where statement like '%update "invocations_p%'`.execute(generic);
    const claim = plans.rows.filter((p) => p.statement.includes("set status = 'running'"));
    const complete = plans.rows.filter((p) => p.statement.includes('set finished_at = now()'));
    expect(claim.length).toBe(1);
    expect(complete.length).toBeGreaterThanOrEqual(1);
    for (const plan of [...claim, ...complete]) expect(plan.custom_plans).toBe(0);
    expect(claim[0]!.generic_plans).toBeGreaterThanOrEqual(12);
    expect(complete.reduce((n, p) => n + p.generic_plans, 0)).toBeGreaterThanOrEqual(12);
  });
});

/**
 * A month's partition starts empty and fills faster than autovacuum analyzes it. Plans the worker's
 * statements got while it was empty (a cached generic plan is kept until the table's statistics
 * change) must still go from each id to its row once the month holds many rows.
 */
describe("the worker's statements on a month that filled after they were planned", () => {
  let database: TestDatabase;
  let worker: Db;
  let observer: Db;

  beforeAll(async () => {
    database = await createTestDatabase();
    worker = createDb(database.url, { max: 1, indexLookupsOnly: true }); // as the worker's jobWrites
    observer = createDb(database.url, { max: 1 });
  });
  afterAll(async () => {
    await worker?.destroy();
    await observer?.destroy();
    await database?.drop();
  });

  async function insertQueued(n: number): Promise<string[]> {
    const ids = Array.from({ length: n }, () => newId('invocation'));
    await sql`set session_replication_role = replica`.execute(observer);
    await sql`insert into invocations (id, workspace_id, project_id, connection_id, connector_id, action_id, status, request_hash)
      select id, 'ws', 'prj', 'conn', 'resend', 'sendEmail', 'queued', 'h' from unnest(${ids}::text[]) as id`.execute(
      observer,
    );
    await sql`set session_replication_role = origin`.execute(observer);
    return ids;
  }

  async function claimAndComplete(ids: string[], batch: number): Promise<void> {
    for (let k = 0; k < ids.length; k += batch) {
      const some = ids.slice(k, k + batch);
      const claimed = await claimAttempts(
        worker,
        some.map((id) => ({ id, connectionId: 'conn' })),
      );
      expect(claimed.every((c) => c?.previousStatus === 'queued')).toBe(true);
      await completeInvocations(
        worker,
        some.map((id) => ({ id, outcome: { output: { ok: true }, durationMs: 1 } })),
      );
    }
  }

  const tuplesRead = () => tuplesReadSoFar(worker, observer);

  it('claim and complete still read about the rows they touch', async () => {
    // Planned, and run past the fifth time, on an almost empty month...
    await claimAndComplete(await insertQueued(24), 2);
    // ...which then fills, with no ANALYZE in between.
    await insertQueued(20_000);
    const fresh = await insertQueued(30);
    const before = await tuplesRead();
    await claimAndComplete(fresh, 3);
    expect((await tuplesRead()) - before).toBeLessThan(2_000);
  });
});
