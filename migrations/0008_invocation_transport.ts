import { type Kysely, sql } from 'kysely';

/**
 * Which transport accepted an invocation (`api`: POST /v1/executions, `mcp`: an MCP tools/call) and,
 * for MCP, the client's self-reported name and version: display only, never used for decisions.
 * Existing rows were all accepted over HTTP. Adding a column with a constant default rewrites no rows.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('invocations')
    .addColumn('via', 'text', (c) => c.notNull().defaultTo('api').check(sql`via in ('api', 'mcp')`))
    .addColumn('client_name', 'text')
    .addColumn('client_version', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('invocations')
    .dropColumn('via')
    .dropColumn('client_name')
    .dropColumn('client_version')
    .execute();
}
