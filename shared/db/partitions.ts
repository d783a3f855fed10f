import { type QueryExecutorProvider, sql } from 'kysely';
import type { Db } from './database.ts';

/**
 * Monthly partitions of the audit tables (docs/decisions/0013-partitioned-audit-log.md). Each table
 * is RANGE-partitioned on its creation timestamp, one partition per calendar month in UTC named
 * `<table>_pYYYY_MM`, plus `<table>_default` as a safety net: a row whose month has no partition
 * (maintenance stopped for months, a back-dated import) is still written, never refused on the hot
 * path. Creating a month later moves its rows out of the default partition.
 */
export interface PartitionedTable {
  table: 'invocations' | 'inbound_events';
  /** The partition key: the row's creation time. */
  key: 'created_at' | 'received_at';
  /**
   * Rows of other tables that belong to the rows in `[from, to)` of `partition` (a monthly partition
   * or the default one) and must go with them: run in the dropping transaction, before the drop.
   */
  removeDependents(db: QueryExecutorProvider, partition: string, from: Date, to: Date): Promise<void>;
}

/** The audit tables, in the order maintenance handles them. */
export const PARTITIONED_TABLES: readonly PartitionedTable[] = [
  {
    table: 'invocations',
    key: 'created_at',
    // Artifacts (audio) have no foreign key: audit rows outlive what they name, but not the other way.
    async removeDependents(db, partition, from, to) {
      await sql`delete from artifacts as a using ${sql.table(partition)} as i
                 where a.invocation_id = i.id and i.created_at >= ${from} and i.created_at < ${to}`.execute(db);
      await sql`delete from invocation_idempotency_keys as k using ${sql.table(partition)} as i
                 where k.invocation_id = i.id and i.created_at >= ${from} and i.created_at < ${to}`.execute(db);
    },
  },
  {
    table: 'inbound_events',
    key: 'received_at',
    // The dedupe of an upstream event id lasts as long as the event it stored.
    async removeDependents(db, partition, from, to) {
      await sql`delete from inbound_event_upstream_ids as u using ${sql.table(partition)} as e
                 where u.event_id = e.id and e.received_at >= ${from} and e.received_at < ${to}`.execute(db);
    },
  },
];

/** Months ahead of the current one that always have their partition: at migration time and every maintenance tick. */
export const DEFAULT_PARTITIONS_AHEAD = 2;

/** How long partition DDL waits for a lock before giving up until the next tick (it must never queue writers). */
const LOCK_TIMEOUT = '3s';

/** The first instant of `d`'s month, UTC. */
export function monthStart(d: Date): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
}

/** The first instant of the month `n` months after `month`'s. */
export function addMonths(month: Date, n: number): Date {
  return new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + n, 1));
}

/** `invocations_p2026_11` for November 2026. */
export function partitionName(table: PartitionedTable['table'], month: Date): string {
  return `${table}_p${month.getUTCFullYear()}_${String(month.getUTCMonth() + 1).padStart(2, '0')}`;
}

export const defaultPartitionName = (table: PartitionedTable['table']) => `${table}_default`;

export interface MonthlyPartition {
  name: string;
  from: Date;
  to: Date;
}

/** The table's monthly partitions (found by name, so a partition added by hand under another name is left alone), oldest first. */
export async function monthlyPartitions(
  db: QueryExecutorProvider,
  spec: PartitionedTable,
): Promise<MonthlyPartition[]> {
  const { rows } = await sql<{ name: string }>`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
     where i.inhparent = ${spec.table}::regclass order by c.relname`.execute(db);
  const pattern = new RegExp(`^${spec.table}_p(\\d{4})_(\\d{2})$`);
  return rows.flatMap(({ name }) => {
    const m = pattern.exec(name);
    if (!m) return [];
    const from = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1));
    return [{ name, from, to: addMonths(from, 1) }];
  });
}

/**
 * Creates the partition of `month` unless it exists, inside the caller's transaction; true when
 * created. Built beside the table and then attached (ATTACH takes SHARE UPDATE EXCLUSIVE on the
 * parent, so reads and writes go on; CREATE … PARTITION OF would take ACCESS EXCLUSIVE). Rows of the
 * month already in the default partition move into it first.
 */
export async function createMonthlyPartition(
  db: QueryExecutorProvider,
  spec: PartitionedTable,
  month: Date,
): Promise<boolean> {
  const name = partitionName(spec.table, month);
  const { rows } = await sql<{ exists: boolean }>`select to_regclass(${name}) is not null as exists`.execute(db);
  if (rows[0]?.exists) return false;
  const from = monthStart(month);
  const to = addMonths(from, 1);
  const [table, key, partition] = [sql.table(spec.table), sql.ref(spec.key), sql.table(name)];
  await sql`create table ${partition} (like ${table} including defaults including constraints)`.execute(db);
  // The matching CHECK lets ATTACH skip its validation scan of the new partition.
  await sql`alter table ${partition} add constraint ${sql.ref(`${name}_bound`)}
              check (${key} is not null and ${key} >= ${sql.lit(from.toISOString())}::timestamptz and ${key} < ${sql.lit(to.toISOString())}::timestamptz)`.execute(
    db,
  );
  const fallback = sql.table(defaultPartitionName(spec.table));
  await sql`with moved as (delete from ${fallback} where ${key} >= ${from} and ${key} < ${to} returning *)
            insert into ${partition} select * from moved`.execute(db);
  await sql`alter table ${table} attach partition ${partition}
              for values from (${sql.lit(from.toISOString())}) to (${sql.lit(to.toISOString())})`.execute(db);
  await sql`alter table ${partition} drop constraint ${sql.ref(`${name}_bound`)}`.execute(db);
  return true;
}

/**
 * The partitions from the current month to `monthsAhead` months ahead, for every audit table: what
 * the worker's maintenance tick and `npm run migrate` call. Each creation is its own short
 * transaction with a lock timeout; one that times out is retried at the next tick. Returns the
 * names created.
 */
export async function ensureMonthlyPartitions(db: Db, monthsAhead: number, now = new Date()): Promise<string[]> {
  const created: string[] = [];
  for (const spec of PARTITIONED_TABLES) {
    for (let n = 0; n <= monthsAhead; n++) {
      const month = addMonths(monthStart(now), n);
      const made = await db.transaction().execute(async (trx) => {
        await sql`set local lock_timeout = ${sql.lit(LOCK_TIMEOUT)}`.execute(trx);
        return createMonthlyPartition(trx, spec, month);
      });
      if (made) created.push(partitionName(spec.table, month));
    }
  }
  return created;
}

export interface DroppedPartition {
  table: PartitionedTable['table'];
  /** The partition dropped, or the default partition's name when old rows were deleted from it. */
  name: string;
  /** True when the whole partition was dropped; false for old rows deleted from the default partition. */
  dropped: boolean;
  rows: number;
}

/**
 * Retention by partition: drops every monthly partition whose month ended before `cutoff` (a month
 * straddling the cutoff is kept whole until it is entirely past), and deletes the rows older than
 * `cutoff` in the default partition. Dependent rows (artifacts, idempotency keys, upstream event
 * ids) go in the same transaction. One transaction per partition, with a lock timeout: the drop
 * takes a brief ACCESS EXCLUSIVE lock on the table. `onDropped` reports progress.
 */
export async function dropPartitionsBefore(
  db: Db,
  cutoff: Date,
  onDropped: (dropped: DroppedPartition) => void = () => {},
): Promise<DroppedPartition[]> {
  const done: DroppedPartition[] = [];
  const report = (d: DroppedPartition) => {
    done.push(d);
    onDropped(d);
  };
  for (const spec of PARTITIONED_TABLES) {
    for (const p of await monthlyPartitions(db, spec)) {
      if (p.to.getTime() > cutoff.getTime()) continue;
      const rows = await db.transaction().execute(async (trx) => {
        await sql`set local lock_timeout = ${sql.lit(LOCK_TIMEOUT)}`.execute(trx);
        await spec.removeDependents(trx, p.name, p.from, p.to);
        const { rows: counted } = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(p.name)}`.execute(
          trx,
        );
        await sql`drop table ${sql.table(p.name)}`.execute(trx);
        return counted[0]?.n ?? 0;
      });
      report({ table: spec.table, name: p.name, dropped: true, rows });
    }
    const fallback = defaultPartitionName(spec.table);
    const rows = await db.transaction().execute(async (trx) => {
      await spec.removeDependents(trx, fallback, new Date(0), cutoff);
      const { rows: gone } = await sql<{ n: number }>`
        with gone as (delete from ${sql.table(fallback)} where ${sql.ref(spec.key)} < ${cutoff} returning 1)
        select count(*)::int as n from gone`.execute(trx);
      return gone[0]?.n ?? 0;
    });
    if (rows > 0) report({ table: spec.table, name: fallback, dropped: false, rows });
  }
  return done;
}
