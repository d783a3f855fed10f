import { type Kysely, sql } from 'kysely';

/** Lets the sweeper find invocations that never finished without scanning the audit log. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('invocations_unfinished_created_at')
    .on('invocations')
    .column('created_at')
    .where(sql.ref('status'), 'in', sql`('queued', 'running')`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('invocations_unfinished_created_at').ifExists().execute();
}
