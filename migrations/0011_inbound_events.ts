import { type Kysely, sql } from 'kysely';

/**
 * Events connected services send to POST /v1/inbound/{connectorId}/{connectionId}. The unique
 * (connection, upstream event id) is the dedupe: a redelivery inserts nothing. Deliveries to webhooks
 * out become unique per (webhook, event), so fanning an event out twice records it once.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('inbound_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('connection_id', 'text', (c) => c.notNull().references('connections.id').onDelete('cascade'))
    .addColumn('connector_id', 'text', (c) => c.notNull())
    .addColumn('upstream_event_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb')
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('fanned_out_at', 'timestamptz')
    .addUniqueConstraint('inbound_events_upstream_id', ['connection_id', 'upstream_event_id'])
    .execute();
  // Lists: newest first per workspace, per connection, per type.
  await db.schema
    .createIndex('inbound_events_workspace_id')
    .on('inbound_events')
    .columns(['workspace_id', 'id'])
    .execute();
  await db.schema
    .createIndex('inbound_events_connection_id')
    .on('inbound_events')
    .columns(['connection_id', 'id'])
    .execute();
  // The maintenance tick's two scans: events not fanned out yet, and payloads past retention.
  await db.schema
    .createIndex('inbound_events_pending_fanout')
    .on('inbound_events')
    .column('received_at')
    .where(sql.ref('fanned_out_at'), 'is', null)
    .execute();
  await db.schema
    .createIndex('inbound_events_retention')
    .on('inbound_events')
    .column('received_at')
    .where(sql.ref('payload'), 'is not', null)
    .execute();

  await db.schema
    .createIndex('webhook_deliveries_webhook_event')
    .on('webhook_deliveries')
    .columns(['webhook_id', 'event_id'])
    .unique()
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('webhook_deliveries_webhook_event').ifExists().execute();
  await db.schema.dropTable('inbound_events').ifExists().execute();
}
