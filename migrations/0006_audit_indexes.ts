import { type Kysely, sql } from 'kysely';

/**
 * Indexes for the audit log at millions of rows (measurements in docs/audit-log.md).
 *
 * - "Show me the failures" (`status=failed`) of a project or a workspace: without these, a healthy
 *   project (few failures) made Postgres walk the whole table newest-first (655 ms at 1.5M rows,
 *   linear beyond); with them, 0.05 ms. Partial, so they hold only failed rows (3.5% of the rows:
 *   4.4 MB each at 1.5M rows, against 220 MB for a full (project_id, status, id) index).
 *   `queued`/`running` are served by invocations_unfinished_created_at (0005); `succeeded` is most
 *   rows, found at once on the (…, id) indexes.
 * - Retention (shared/invocations/retention.ts): the invocations whose output is still there, by
 *   age. It shrinks as the purge runs, so each batch reads only what it removes (1 s → 0.9 ms per
 *   batch of 1000 at 1.5M rows).
 *
 * Plain CREATE INDEX blocks writes to invocations while it builds (about 1 s per index per million
 * rows). On a large live database build them first with CREATE INDEX CONCURRENTLY under the same
 * names (docs/audit-log.md); this migration then finds them and does nothing.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('invocations_project_failed')
    .ifNotExists()
    .on('invocations')
    .columns(['project_id', 'id'])
    .where(sql.ref('status'), '=', 'failed')
    .execute();
  await db.schema
    .createIndex('invocations_workspace_failed')
    .ifNotExists()
    .on('invocations')
    .columns(['workspace_id', 'id'])
    .where(sql.ref('status'), '=', 'failed')
    .execute();
  await db.schema
    .createIndex('invocations_retention')
    .ifNotExists()
    .on('invocations')
    .column('created_at')
    .where(sql.ref('output'), 'is not', null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const name of ['invocations_retention', 'invocations_workspace_failed', 'invocations_project_failed']) {
    await db.schema.dropIndex(name).ifExists().execute();
  }
}
