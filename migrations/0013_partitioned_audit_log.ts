import { type Kysely, type QueryExecutorProvider, sql } from 'kysely';
import {
  addMonths,
  createMonthlyPartition,
  DEFAULT_PARTITIONS_AHEAD,
  defaultPartitionName,
  monthStart,
  PARTITIONED_TABLES,
  type PartitionedTable,
} from '../shared/db/partitions.ts';

/**
 * The audit tables `invocations` and `inbound_events` become RANGE-partitioned by month on their
 * creation time (docs/decisions/0013-partitioned-audit-log.md), so retention drops whole months
 * instead of deleting rows.
 *
 * On a populated database: each table is renamed aside, the partitioned table is created with the
 * same columns, defaults and checks, a partition per month that has rows (and up to two months
 * ahead) plus a default partition, the rows are copied, the indexes built once the rows are in, and
 * the old table dropped. Kysely runs the migration in one transaction: it either happens whole or
 * not at all, and writes to these tables wait for it: time it on a copy of the database first (docs/operations.md,
 * "Partition maintenance").
 *
 * A unique index of a partitioned table must contain the partition key, so the two uniqueness rules
 * that did not move to side tables that are not partitioned:
 * - `invocation_idempotency_keys (project_id, idempotency_key)`: an Idempotency-Key is taken once per
 *   project (was the partial unique index invocations_idempotency); keys past the 24-hour window are
 *   pruned by maintenance.
 * - `inbound_event_upstream_ids (connection_id, upstream_event_id)`: the dedupe of redelivered
 *   events (was the constraint inbound_events_upstream_id); its rows go with their event's partition.
 */
/** The indexes of each partitioned table, built on the parent (so on every partition, now and later). */
const INDEXES: Record<PartitionedTable['table'], string[]> = {
  invocations: [
    'alter table invocations add constraint invocations_pkey primary key (id, created_at)',
    'create index invocations_workspace_id on invocations (workspace_id, id)',
    'create index invocations_project_id on invocations (project_id, id)',
    'create index invocations_connection_id on invocations (connection_id, id)',
    "create index invocations_unfinished_created_at on invocations (created_at) where status in ('queued', 'running')",
    "create index invocations_project_failed on invocations (project_id, id) where status = 'failed'",
    "create index invocations_workspace_failed on invocations (workspace_id, id) where status = 'failed'",
    'create index invocations_retention on invocations (created_at) where output is not null',
  ],
  inbound_events: [
    'alter table inbound_events add constraint inbound_events_pkey primary key (id, received_at)',
    'alter table inbound_events add constraint inbound_events_workspace_id_fkey foreign key (workspace_id) references workspaces (id) on delete cascade',
    'alter table inbound_events add constraint inbound_events_connection_id_fkey foreign key (connection_id) references connections (id) on delete cascade',
    'create index inbound_events_workspace_id on inbound_events (workspace_id, id)',
    'create index inbound_events_connection_id on inbound_events (connection_id, id)',
    'create index inbound_events_pending_fanout on inbound_events (received_at) where fanned_out_at is null',
    'create index inbound_events_retention on inbound_events (received_at) where payload is not null',
  ],
};

/** The side tables (see above), filled from the rows before these are moved. */
const SIDE_TABLES = [
  `create table invocation_idempotency_keys (
     project_id text not null, idempotency_key text not null, invocation_id text not null,
     created_at timestamptz not null default now(),
     constraint invocation_idempotency_keys_pkey primary key (project_id, idempotency_key))`,
  'create index invocation_idempotency_keys_created_at on invocation_idempotency_keys (created_at)',
  `insert into invocation_idempotency_keys (project_id, idempotency_key, invocation_id, created_at)
     select project_id, idempotency_key, id, created_at from invocations where idempotency_key is not null`,
  `create table inbound_event_upstream_ids (
     connection_id text not null references connections (id) on delete cascade, upstream_event_id text not null,
     event_id text not null, received_at timestamptz not null,
     constraint inbound_event_upstream_ids_pkey primary key (connection_id, upstream_event_id))`,
  'create index inbound_event_upstream_ids_event_id on inbound_event_upstream_ids (event_id)',
  `insert into inbound_event_upstream_ids (connection_id, upstream_event_id, event_id, received_at)
     select connection_id, upstream_event_id, id, received_at from inbound_events`,
];

const aside = (table: string) => `${table}_pre0013`;

/** Renames the table and its indexes out of the way, so the partitioned table takes their names. */
async function renameAside(db: QueryExecutorProvider, table: string): Promise<void> {
  await sql`alter table ${sql.table(table)} rename to ${sql.table(aside(table))}`.execute(db);
  const { rows } = await sql<{
    name: string;
  }>`select indexname as name from pg_indexes where tablename = ${aside(table)}`.execute(db);
  for (const { name } of rows)
    await sql`alter index ${sql.table(name)} rename to ${sql.table(aside(name))}`.execute(db);
}

async function partitionTable(db: QueryExecutorProvider, spec: PartitionedTable): Promise<void> {
  const [old, key] = [sql.table(aside(spec.table)), sql.ref(spec.key)];
  await renameAside(db, spec.table);
  await sql`create table ${sql.table(spec.table)} (like ${old} including defaults including constraints)
              partition by range (${key})`.execute(db);
  await sql`create table ${sql.table(defaultPartitionName(spec.table))} partition of ${sql.table(spec.table)} default`.execute(
    db,
  );
  const { rows } = await sql<{ oldest: Date | null }>`select min(${key}) as oldest from ${old}`.execute(db);
  const now = monthStart(new Date());
  const oldest = rows[0]?.oldest ? monthStart(rows[0].oldest) : now;
  for (let month = oldest; month <= addMonths(now, DEFAULT_PARTITIONS_AHEAD); month = addMonths(month, 1)) {
    await createMonthlyPartition(db, spec, month);
  }
  // Rows first, indexes after: one sorted build per index and partition instead of row-by-row inserts.
  await sql`insert into ${sql.table(spec.table)} select * from ${old}`.execute(db);
  for (const statement of INDEXES[spec.table]) await sql.raw(statement).execute(db);
}

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of SIDE_TABLES) await sql.raw(statement).execute(db);
  for (const spec of PARTITIONED_TABLES) {
    await partitionTable(db, spec);
    await sql`drop table ${sql.table(aside(spec.table))}`.execute(db);
  }
}

/** Back to plain tables (the rows copied back); the side tables' uniqueness returns to the tables. */
export async function down(db: Kysely<any>): Promise<void> {
  for (const spec of PARTITIONED_TABLES) {
    await renameAside(db, spec.table);
    const old = sql.table(aside(spec.table));
    await sql`create table ${sql.table(spec.table)} (like ${old} including defaults including constraints)`.execute(db);
    await sql`insert into ${sql.table(spec.table)} select * from ${old}`.execute(db);
    await sql`drop table ${old} cascade`.execute(db);
  }
  await sql`alter table invocations add primary key (id)`.execute(db);
  for (const statement of INDEXES.invocations.slice(1)) await sql.raw(statement).execute(db);
  await sql`create unique index invocations_idempotency on invocations (project_id, idempotency_key) where idempotency_key is not null`.execute(
    db,
  );
  await sql`alter table inbound_events add primary key (id)`.execute(db);
  for (const statement of INDEXES.inbound_events.slice(1)) await sql.raw(statement).execute(db);
  await sql`alter table inbound_events add constraint inbound_events_upstream_id unique (connection_id, upstream_event_id)`.execute(
    db,
  );
  await db.schema.dropTable('inbound_event_upstream_ids').execute();
  await db.schema.dropTable('invocation_idempotency_keys').execute();
}
