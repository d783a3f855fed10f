import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '../db/database.ts';

/**
 * Retention of the audit log (docs/api.md: "`output` is kept for the configured retention"). Past
 * INVOCATION_RETENTION_DAYS an invocation's `output` is set to NULL and its artifacts (audio) are
 * deleted; the invocation row itself (who called what, when, with which result) stays.
 */
export const DEFAULT_RETENTION_DAYS = 30;

const retentionDaysSchema = z.coerce.number().int().min(1).max(36_500).default(DEFAULT_RETENTION_DAYS);
const auditRetentionDaysSchema = z.coerce.number().int().min(0).max(36_500).default(0);

/** A number of days from the environment (empty counts as unset); throws a one-line message, never the value. */
function daysFromEnv(env: NodeJS.ProcessEnv, name: string, schema: z.ZodType<number, unknown>, rule: string): number {
  const raw = env[name];
  const parsed = schema.safeParse(raw === '' ? undefined : raw);
  if (!parsed.success) throw new Error(`${name}: must be a whole number of days, ${rule}`);
  return parsed.data;
}

/** INVOCATION_RETENTION_DAYS from the environment. */
export function retentionDaysFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  return daysFromEnv(env, 'INVOCATION_RETENTION_DAYS', retentionDaysSchema, '1 or more');
}

/**
 * AUDIT_LOG_RETENTION_DAYS from the environment: past it, audit rows go a whole month (partition)
 * at a time (shared/db/partitions.ts, dropPartitionsBefore); 0, the default, keeps them forever.
 */
export function auditRetentionDaysFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  return daysFromEnv(env, 'AUDIT_LOG_RETENTION_DAYS', auditRetentionDaysSchema, '0 (keep forever) or more');
}

/** Invocations created before this instant are past retention. */
export function retentionCutoff(days: number, now: Date = new Date()): Date {
  return new Date(now.getTime() - days * 24 * 3600 * 1000);
}

export interface PurgeResult {
  /** Invocations whose output was removed. */
  outputsCleared: number;
  /** Artifact rows deleted. */
  artifactsDeleted: number;
}

export interface PurgeOptions {
  /** Called after every batch with the running totals. */
  onBatch?: (totals: PurgeResult) => void;
}

/**
 * Removes the outputs and artifacts of invocations created before `olderThan`, `batchSize` rows per
 * statement (each statement is its own short transaction, so the job can be stopped and re-run at
 * any time, and never holds many locks). Rows locked by someone else are skipped, not waited for.
 * Returns what was removed.
 */
export async function purgeExpired(
  db: Db,
  olderThan: Date,
  batchSize = 1000,
  options: PurgeOptions = {},
): Promise<PurgeResult> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
  const totals: PurgeResult = { outputsCleared: 0, artifactsDeleted: 0 };

  // 1. Outputs, with the artifacts of the same invocations, in one statement per batch. The
  //    partial index invocations_retention (created_at) WHERE output IS NOT NULL serves this scan
  //    and shrinks as rows are purged (migrations/0003_audit_indexes.ts).
  for (;;) {
    const { rows } = await sql<{ cleared: number; artifacts: number }>`
      with batch as (
        select id from invocations
         where created_at < ${olderThan} and output is not null
         order by created_at
         limit ${batchSize}
         for update skip locked
      ), cleared as (
        update invocations as i set output = null from batch where i.id = batch.id returning i.id
      ), gone as (
        delete from artifacts as a using cleared where a.invocation_id = cleared.id returning a.id
      )
      select (select count(*) from cleared)::int as cleared, (select count(*) from gone)::int as artifacts`.execute(db);
    const { cleared = 0, artifacts = 0 } = rows[0] ?? {};
    totals.outputsCleared += cleared;
    totals.artifactsDeleted += artifacts;
    options.onBatch?.({ ...totals });
    if (cleared < batchSize) break;
  }

  // 2. Artifacts of expired invocations that had no output left (e.g. an attempt stored audio and
  //    the call then failed), so nothing binary outlives retention.
  for (;;) {
    const { rows } = await sql<{ artifacts: number }>`
      with batch as (
        select a.id from artifacts as a join invocations as i on i.id = a.invocation_id
         where i.created_at < ${olderThan}
         limit ${batchSize}
         for update of a skip locked
      ), gone as (
        delete from artifacts as a using batch where a.id = batch.id returning a.id
      )
      select count(*)::int as artifacts from gone`.execute(db);
    const artifacts = rows[0]?.artifacts ?? 0;
    totals.artifactsDeleted += artifacts;
    if (artifacts > 0) options.onBatch?.({ ...totals });
    if (artifacts < batchSize) break;
  }
  return totals;
}
