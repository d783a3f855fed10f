import { type Kysely, sql } from 'kysely';

/**
 * Custom connectors (docs/decisions/0010): each version of a workspace's definition is a row of its
 * own, never changed, so a queued call finds the version it was accepted with. An OAuth client
 * secret is sealed like credentials (AAD: workspace, connector id and version), never stored in the
 * definition. Invocations record the version they ran on; null for built-in connectors.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('custom_connectors')
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('connector_id', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('definition', 'jsonb', (c) => c.notNull())
    .addColumn('secret_key_id', 'text')
    .addColumn('secret_iv', 'bytea')
    .addColumn('secret_tag', 'bytea')
    .addColumn('secret_ciphertext', 'bytea')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('custom_connectors_pkey', ['workspace_id', 'connector_id', 'version'])
    .execute();
  // A nullable column without a default rewrites no rows.
  await db.schema.alterTable('invocations').addColumn('connector_version', 'integer').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('invocations').dropColumn('connector_version').execute();
  await db.schema.dropTable('custom_connectors').ifExists().execute();
}
