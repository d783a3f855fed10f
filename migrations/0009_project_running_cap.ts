import type { Kysely } from 'kysely';

/**
 * A project's own cap on the calls it runs at once across all workers (docs/decisions/0007); null:
 * the operator's PROJECT_MAX_RUNNING_CALLS. A nullable column without a default rewrites no rows.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('projects').addColumn('max_running_calls', 'integer').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('projects').dropColumn('max_running_calls').execute();
}
