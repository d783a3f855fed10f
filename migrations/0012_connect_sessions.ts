import { type Kysely, sql } from 'kysely';

/**
 * Connect sessions (docs/connect-pages.md): a short-lived, single-use, single-project token that lets
 * an end user connect their own account on the hosted page `/connect/{token}`. The token is stored
 * only as its SHA-256. An OAuth flow started from a connect page records its session and the hash of
 * a cookie of the browser that started it: the callback completes only in that browser.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('connect_sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_hash', 'bytea', (c) => c.notNull().unique())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('allowed_connectors', 'jsonb')
    .addColumn('end_user_id', 'text')
    .addColumn('end_user_display_name', 'text')
    .addColumn('redirect_uri', 'text')
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('completed_at', 'timestamptz')
    .addColumn('connection_id', 'text', (c) => c.references('connections.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .alterTable('oauth_states')
    .addColumn('connect_session_id', 'text', (c) => c.references('connect_sessions.id').onDelete('cascade'))
    .execute();
  await db.schema.alterTable('oauth_states').addColumn('browser_hash', 'bytea').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('oauth_states').dropColumn('browser_hash').execute();
  await db.schema.alterTable('oauth_states').dropColumn('connect_session_id').execute();
  await db.schema.dropTable('connect_sessions').ifExists().execute();
}
