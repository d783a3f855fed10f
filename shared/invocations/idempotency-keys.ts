import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { InvocationRow } from '../db/schema.ts';

/**
 * Idempotency-Key (docs/api.md): a key names one invocation of its project for this long; past it
 * the key is free again. The key is taken in `invocation_idempotency_keys` (migration 0013), in the
 * same statement as the invocation row, because the partitioned invocations table cannot hold a
 * unique index without its partition key. A taken key fails the insert with a unique violation.
 */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000;

/**
 * The invocation that holds the project's key within the window, or undefined. A key past the
 * window, or whose invocation is gone (its month dropped by retention), is released here, so the
 * caller's insert can take it.
 */
export async function findByIdempotencyKey(
  db: Db,
  projectId: string,
  key: string,
  now = Date.now(),
): Promise<InvocationRow | undefined> {
  // The key row knows the invocation's created_at: the join reads one partition.
  const found = await db
    .selectFrom('invocation_idempotency_keys as k')
    .leftJoin('invocations as i', (join) =>
      join.onRef('i.id', '=', 'k.invocation_id').onRef('i.created_at', '=', 'k.created_at'),
    )
    .selectAll('i')
    .select(['k.invocation_id as taken_by', 'k.created_at as taken_at'])
    .where('k.project_id', '=', projectId)
    .where('k.idempotency_key', '=', key)
    .executeTakeFirst();
  if (!found) return undefined;
  const { taken_by, taken_at, ...row } = found;
  if (row.id !== null && now - new Date(taken_at).getTime() <= IDEMPOTENCY_WINDOW_MS) return row as InvocationRow;
  await db
    .deleteFrom('invocation_idempotency_keys')
    .where('project_id', '=', projectId)
    .where('idempotency_key', '=', key)
    .where('invocation_id', '=', taken_by)
    .execute();
  return undefined;
}

/**
 * Releases the keys taken before `olderThan` (the maintenance tick passes now − the window), in
 * batches, so the table holds about a day of keys whatever the audit log's size. Returns how many.
 */
export async function pruneIdempotencyKeys(db: Db, olderThan: Date, batchSize = 1000): Promise<number> {
  let total = 0;
  for (;;) {
    const { rows } = await sql<{ n: number }>`
      with gone as (
        delete from invocation_idempotency_keys where (project_id, idempotency_key) in (
          select project_id, idempotency_key from invocation_idempotency_keys where created_at < ${olderThan} limit ${batchSize})
        returning 1)
      select count(*)::int as n from gone`.execute(db);
    const n = rows[0]?.n ?? 0;
    total += n;
    if (n < batchSize) return total;
  }
}
