import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { InvocationRow, InvocationStatus, NewInvocation } from '../db/schema.ts';
import { withoutNul } from '../json-safe.ts';

/**
 * JSON text Postgres accepts: jsonb and text refuse NUL, which an upstream may send in an answer or
 * an error. The walk only runs when the serialised text shows one, so the common case costs nothing.
 */
function storableJson(value: unknown): string {
  const text = JSON.stringify(value ?? null);
  return text.includes('\\u0000') ? JSON.stringify(withoutNul(value ?? null)) : text;
}
const storableText = (value: string) => value.replaceAll('\u0000', '\uFFFD');

/**
 * Writes to the audit log. One row per accepted execution; status moves queued → running →
 * succeeded|failed, and back to queued between retry attempts.
 */
export interface InvocationFailure {
  code: string;
  message: string;
  details?: unknown;
}

export async function insertInvocation(db: Db, row: NewInvocation): Promise<void> {
  await db.insertInto('invocations').values(row).execute();
}

export async function findInvocation(db: Db, id: string): Promise<InvocationRow | undefined> {
  return db.selectFrom('invocations').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Starts an attempt. Returns the status the row had before (a `running` row means an earlier
 * worker died mid-call), or null when the invocation is already terminal and must not run again.
 */
export interface ClaimedAttempt {
  previousStatus: InvocationStatus;
  attempts: number;
  /** What the row says the call is: the worker trusts this, not the job data in Redis. */
  workspaceId: string;
  projectId: string;
  connectionId: string | null;
  connectorId: string;
  actionId: string;
}

export async function claimAttempt(db: Db, id: string): Promise<ClaimedAttempt | null> {
  const result = await sql<{
    previous_status: InvocationStatus;
    attempts: number;
    workspace_id: string;
    project_id: string;
    connection_id: string | null;
    connector_id: string;
    action_id: string;
  }>`
    update invocations as i
       set status = 'running', attempts = i.attempts + 1, started_at = coalesce(i.started_at, now())
      from (select id, status from invocations where id = ${id} for update) as before
     where i.id = before.id and before.status in ('queued', 'running')
 returning before.status as previous_status, i.attempts, i.workspace_id, i.project_id, i.connection_id, i.connector_id, i.action_id`.execute(db);
  const row = result.rows[0];
  return row
    ? {
        previousStatus: row.previous_status,
        attempts: row.attempts,
        workspaceId: row.workspace_id,
        projectId: row.project_id,
        connectionId: row.connection_id,
        connectorId: row.connector_id,
        actionId: row.action_id,
      }
    : null;
}

/** Between attempts: waiting for the retry, with the upstream time spent so far. */
export async function requeueInvocation(db: Db, id: string, attemptDurationMs: number): Promise<void> {
  await db
    .updateTable('invocations')
    .set({ status: 'queued', duration_ms: sql`coalesce(duration_ms, 0) + ${attemptDurationMs}` })
    .where('id', '=', id)
    .where('status', '=', 'running')
    .execute();
}

export async function completeInvocation(
  db: Db,
  id: string,
  outcome: { output: unknown; durationMs: number | null } | { failure: InvocationFailure; durationMs: number | null },
): Promise<void> {
  const base = {
    finished_at: sql<Date>`now()`,
    duration_ms: outcome.durationMs === null ? sql<number>`duration_ms` : sql<number>`coalesce(duration_ms, 0) + ${outcome.durationMs}`,
  };
  const values =
    'output' in outcome
      ? { ...base, status: 'succeeded' as const, output: storableJson(outcome.output) }
      : {
          ...base,
          status: 'failed' as const,
          error_code: outcome.failure.code,
          error_message: storableText(outcome.failure.message),
          error_details: outcome.failure.details === undefined ? null : storableJson(outcome.failure.details),
        };
  await db.updateTable('invocations').set(values).where('id', '=', id).where('status', 'in', ['queued', 'running']).execute();
}
