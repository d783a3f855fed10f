import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type {
  ConnectionRow,
  InvocationRow,
  InvocationStatus,
  InvocationTransport,
  NewInvocation,
} from '../db/schema.ts';
import { withoutNul } from '../json-safe.ts';
import { ALL_MONTHS, inIdPartitions } from './id-partition.ts';

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

/** Records one invocation, taking its Idempotency-Key (if any) in the same statement (idempotency-keys.ts). */
export async function insertInvocation(db: Db, row: NewInvocation): Promise<void> {
  const key = row.idempotency_key;
  if (key == null) {
    await db.insertInto('invocations').values(row).execute();
    return;
  }
  await db
    .with('taken', (d) =>
      d
        .insertInto('invocation_idempotency_keys')
        .values({ project_id: row.project_id, idempotency_key: key, invocation_id: row.id }),
    )
    .insertInto('invocations')
    .values(row)
    .execute();
}

/** A freshly accepted execution, as the api records it before enqueueing. */
export interface QueuedInvocation {
  id: string;
  workspace_id: string;
  project_id: string;
  connection_id: string;
  connector_id: string;
  action_id: string;
  idempotency_key: string | null;
  /** Of a call with an Idempotency-Key (api/execution/request-hash.ts); null without one. */
  request_hash: string | null;
  via: InvocationTransport;
  client_name: string | null;
  client_version: string | null;
  /** A custom connector's version (migration 0010); null or absent for a built-in. */
  connector_version?: number | null;
  /** The trace it was accepted in (migration 0014); null or absent with tracing off. */
  trace_id?: string | null;
}

/**
 * Records several accepted executions in one statement (status `queued`). Like completions, the
 * text does not depend on the number of rows. A taken Idempotency-Key fails the whole statement
 * with a unique violation, as a single insert would.
 */
export async function insertQueuedInvocations(db: Db, rows: ReadonlyArray<QueuedInvocation>): Promise<void> {
  const column = <K extends keyof QueuedInvocation>(key: K) => rows.map((r) => r[key]);
  // The keys are taken in the same statement (idempotency-keys.ts): both rows or neither.
  await sql`
    with v as (
      select * from unnest(${column('id')}::text[], ${column('workspace_id')}::text[], ${column('project_id')}::text[], ${column('connection_id')}::text[],
                           ${column('connector_id')}::text[], ${column('action_id')}::text[], ${column('idempotency_key')}::text[], ${column('request_hash')}::text[],
                           ${column('via')}::text[], ${column('client_name')}::text[], ${column('client_version')}::text[], ${rows.map((r) => r.connector_version ?? null)}::int[],
                           ${rows.map((r) => r.trace_id ?? null)}::text[])
             as v(id, workspace_id, project_id, connection_id, connector_id, action_id, idempotency_key, request_hash, via, client_name, client_version, connector_version, trace_id)
    ), taken as (
      insert into invocation_idempotency_keys (project_id, idempotency_key, invocation_id)
      select project_id, idempotency_key, id from v where idempotency_key is not null
    )
    insert into invocations (id, workspace_id, project_id, connection_id, connector_id, action_id, idempotency_key, request_hash, via, client_name, client_version, connector_version, trace_id, status)
    select v.*, 'queued' from v`.execute(db);
}

export async function findInvocation(db: Db, id: string): Promise<InvocationRow | undefined> {
  return db.selectFrom('invocations').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The invocation's status, or undefined while it has no (committed) row. */
export async function invocationStatus(db: Db, id: string): Promise<InvocationStatus | undefined> {
  const row = await db.selectFrom('invocations').select('status').where('id', '=', id).executeTakeFirst();
  return row?.status;
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
  /** The custom connector's version the call was accepted with; null (or absent) for a built-in. */
  connectorVersion?: number | null;
  /** Milliseconds since the first attempt started (0 for the first attempt), by the database's clock. */
  elapsedMs: number;
  /** The connection the job names, read in the same statement; null when it no longer exists. */
  connection: CallableConnection | null;
}

/** What running a call needs of its connection: who owns it, its status, its sealed credentials. */
export type CallableConnection = Pick<
  ConnectionRow,
  | 'id'
  | 'workspace_id'
  | 'status'
  | 'status_reason'
  | 'credentials_key_id'
  | 'credentials_iv'
  | 'credentials_tag'
  | 'credentials_ciphertext'
  | 'credentials_version'
>;

type ClaimRow = {
  id: string;
  previous_status: InvocationStatus;
  attempts: number;
  workspace_id: string;
  project_id: string;
  connection_id: string | null;
  connector_id: string;
  action_id: string;
  connector_version: number | null;
  elapsed_ms: number;
} & { [K in keyof CallableConnection as `c_${K}`]: CallableConnection[K] | null };

/** One attempt to claim: the invocation, and the connection its job names. */
export interface ClaimRequest {
  id: string;
  connectionId: string;
}

/**
 * Claims attempts and reads their connections in one statement: one round trip and one commit on
 * the hot path instead of a SELECT followed by an UPDATE, and one for all the claims of concurrent
 * jobs (the worker group-commits them). Each result, in the requests' order, is the claimed attempt
 * or null when the invocation is already terminal (or gone). Rows are locked in id order, so two
 * batches never wait on each other crosswise. The text does not depend on the number of claims.
 */
export async function claimAttempts(
  db: Db,
  requests: ReadonlyArray<ClaimRequest>,
): Promise<Array<ClaimedAttempt | null>> {
  // The same invocation twice in one statement would be updated once and reported to both: a
  // duplicate delivery's claim goes in a statement of its own after the first, as it would alone.
  const first = new Map<string, ClaimRequest>();
  const again: ClaimRequest[] = [];
  for (const r of requests) {
    if (first.has(r.id)) again.push(r);
    else first.set(r.id, r);
  }
  // Rows are locked in id order (so two batches cannot deadlock).
  const unique = [...first.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const rows = await inIdPartitions(
    unique,
    (r) => r.id,
    (row: ClaimRow) => row.id,
    (items, table) => claimStatement(db, items, table),
  );
  const claimed = new Map(rows.map((row) => [row.id, claimedAttempt(row)]));
  const later = again.length > 0 ? await claimAttempts(db, again) : [];
  return requests.map((r) => (first.get(r.id) === r ? (claimed.get(r.id) ?? null) : (later[again.indexOf(r)] ?? null)));
}

/**
 * How a claim or completion is sent. On a month's partition: named (shared/db/prepared-statement-pool.ts),
 * so each connection parses and plans it once; the worker sends them through a pool whose plans are
 * generic from the first run and use index lookups only (createDb's `indexLookupsOnly`), so a plan
 * cached while the month was empty still goes from each id to its row once the month has filled. On
 * the whole table, the rare fallback: unnamed (a leading comment keeps it out of the pool), so no
 * connection keeps a plan of it: as a named statement there, an earlier form of the completion got a
 * cached plan that read a month's whole partition (test/e2e/worker-statement-plans.test.ts checks
 * both kinds read only about the rows they touch).
 */
const planOnce = (table: string) => sql.raw(table === ALL_MONTHS ? '/* custom plan */' : '');

/*
 * Why claims and completions test "not terminal" as `status not in ('succeeded', 'failed')` rather than
 * `status in ('queued', 'running')`: the second is the predicate of the partial index of unfinished rows
 * (migration 0005). Where a month's partition has no statistics yet, the planner ANDs that whole index
 * into each id lookup, which reads every queued row of the month: O(backlog) per call under a flood
 * (test/e2e/worker-statement-plans.test.ts). The first cannot use it, and means the same.
 */

/**
 * One claim statement on `table` (a month's partition, or the whole table): one index lookup per id
 * (a lateral lookup keeps the planner off a hash join over a partition whose statistics are stale: a
 * fresh month fills faster than autovacuum analyzes it), then the update by the whole primary key
 * (id, created_at). Named or not as `planOnce` says.
 */
async function claimStatement(db: Db, requests: ReadonlyArray<ClaimRequest>, table: string): Promise<ClaimRow[]> {
  const t = sql.table(table);
  const result = await sql<ClaimRow>`${planOnce(table)}
    update ${t} as i
       set status = 'running', attempts = i.attempts + 1, started_at = coalesce(i.started_at, now())
      from (select inv.id, inv.created_at, inv.status, inv.started_at, v.connection_id
              from unnest(${requests.map((r) => r.id)}::text[], ${requests.map((r) => r.connectionId)}::text[]) as v(id, connection_id)
              cross join lateral (select x.id, x.created_at, x.status, x.started_at
                                    from ${t} as x where x.id = v.id for update) as inv) as before
      left join connections as c on c.id = before.connection_id
     where i.id = before.id and i.created_at = before.created_at and before.status not in ('succeeded', 'failed')
 returning i.id, before.status as previous_status, i.attempts, i.workspace_id, i.project_id, i.connection_id, i.connector_id, i.action_id, i.connector_version,
           coalesce(floor(extract(epoch from now() - before.started_at) * 1000), 0)::int as elapsed_ms,
           c.id as c_id, c.workspace_id as c_workspace_id, c.status as c_status, c.status_reason as c_status_reason,
           c.credentials_key_id as c_credentials_key_id, c.credentials_iv as c_credentials_iv, c.credentials_tag as c_credentials_tag,
           c.credentials_ciphertext as c_credentials_ciphertext, c.credentials_version as c_credentials_version`.execute(
    db,
  );
  return result.rows;
}

function claimedAttempt(row: ClaimRow): ClaimedAttempt {
  return {
    previousStatus: row.previous_status,
    attempts: row.attempts,
    workspaceId: row.workspace_id,
    projectId: row.project_id,
    connectionId: row.connection_id,
    connectorId: row.connector_id,
    actionId: row.action_id,
    connectorVersion: row.connector_version,
    elapsedMs: row.elapsed_ms,
    connection:
      row.c_id === null
        ? null
        : {
            id: row.c_id,
            workspace_id: row.c_workspace_id!,
            status: row.c_status!,
            status_reason: row.c_status_reason,
            credentials_key_id: row.c_credentials_key_id!,
            credentials_iv: row.c_credentials_iv!,
            credentials_tag: row.c_credentials_tag!,
            credentials_ciphertext: row.c_credentials_ciphertext!,
            credentials_version: row.c_credentials_version!,
          },
  };
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

export type InvocationOutcome =
  | { output: unknown; durationMs: number | null }
  | { failure: InvocationFailure; durationMs: number | null };

export async function completeInvocation(db: Db, id: string, outcome: InvocationOutcome): Promise<void> {
  await completeInvocations(db, [{ id, outcome }]);
}

/**
 * Records the final outcome of several invocations in one statement. Rows already terminal are left
 * as they are. The statement text does not depend on how many rows there are (arrays, not a VALUES
 * list), so it stays one prepared statement.
 */
export async function completeInvocations(
  db: Db,
  items: ReadonlyArray<{ id: string; outcome: InvocationOutcome }>,
): Promise<void> {
  // In the ids' months' partitions first; a row not found there is looked up in the whole table.
  await inIdPartitions(
    items,
    (item) => item.id,
    (id: string) => id,
    (batch, table) => completeStatement(db, batch, table),
  );
}

interface CompletionColumns {
  id: string[];
  status: string[];
  duration: (number | null)[];
  output: (string | null)[];
  code: (string | null)[];
  message: (string | null)[];
  details: (string | null)[];
}

/** The statement's arrays: one entry per item in each. */
function completionColumns(items: ReadonlyArray<{ id: string; outcome: InvocationOutcome }>): CompletionColumns {
  const columns: CompletionColumns = {
    id: [],
    status: [],
    duration: [],
    output: [],
    code: [],
    message: [],
    details: [],
  };
  for (const { id, outcome } of items) {
    columns.id.push(id);
    columns.duration.push(outcome.durationMs);
    if ('output' in outcome) {
      columns.status.push('succeeded');
      columns.output.push(storableJson(outcome.output));
      columns.code.push(null);
      columns.message.push(null);
      columns.details.push(null);
    } else {
      columns.status.push('failed');
      columns.output.push(null);
      columns.code.push(outcome.failure.code);
      columns.message.push(storableText(outcome.failure.message));
      columns.details.push(outcome.failure.details === undefined ? null : storableJson(outcome.failure.details));
    }
  }
  return columns;
}

/**
 * One completion statement on `table` (a month's partition, or the whole table); returns the ids it
 * updated. Named or not as `planOnce` says.
 */
async function completeStatement(
  db: Db,
  items: ReadonlyArray<{ id: string; outcome: InvocationOutcome }>,
  table: string,
): Promise<string[]> {
  const columns = completionColumns(items);
  // A failure leaves the output as it was and a success the error columns, as separate UPDATEs would.
  const result = await sql<{ id: string }>`${planOnce(table)}
    update ${sql.table(table)} as i
       set finished_at = now(),
           status = v.status,
           duration_ms = case when v.duration_ms is null then i.duration_ms else coalesce(i.duration_ms, 0) + v.duration_ms end,
           output = case when v.status = 'succeeded' then v.output::jsonb else i.output end,
           error_code = case when v.status = 'failed' then v.error_code else i.error_code end,
           error_message = case when v.status = 'failed' then v.error_message else i.error_message end,
           error_details = case when v.status = 'failed' then v.error_details::jsonb else i.error_details end
      from unnest(${columns.id}::text[], ${columns.status}::text[], ${columns.duration}::int[], ${columns.output}::text[],
                  ${columns.code}::text[], ${columns.message}::text[], ${columns.details}::text[])
           as v(id, status, duration_ms, output, error_code, error_message, error_details)
     where i.id = v.id and i.status not in ('succeeded', 'failed')
 returning i.id`.execute(db);
  return result.rows.map((r) => r.id);
}
