import type { Kysely } from 'kysely';

/**
 * The trace an invocation was accepted in (docs/decisions/0014-tracing.md): the W3C trace id (32 hex
 * digits) of the api's span, so an audit row leads to its trace. Null when tracing is off. A nullable
 * column without a default rewrites no rows, and works on a plain or a partitioned `invocations`.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('invocations').addColumn('trace_id', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('invocations').dropColumn('trace_id').execute();
}
