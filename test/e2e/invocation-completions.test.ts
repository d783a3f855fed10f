import type { KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../shared/db/database.ts';
import { GroupCommit } from '../../shared/db/group-commit.ts';
import { newId } from '../../shared/ids.ts';
import {
  completeInvocations,
  type InvocationOutcome,
  insertQueuedInvocations,
  type QueuedInvocation,
} from '../../shared/invocations/invocation-store.ts';
import { createTestDatabase, type TestDatabase } from '../support/services.ts';

/** Counts the statements sent through a Kysely instance. */
function counted(db: Db): { db: Db; statements: () => number } {
  let n = 0;
  const plugin: KyselyPlugin = {
    transformQuery: (args) => {
      n++;
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  return { db: db.withPlugin(plugin), statements: () => n };
}

/** The worker's group commit of completions. */
const completionsOf = (db: Db) =>
  new GroupCommit<{ id: string; outcome: InvocationOutcome }>((items) => completeInvocations(db, items));

describe('recording invocation outcomes', () => {
  let database: TestDatabase;
  let db: Db;
  const workspaceId = 'ws_completions';
  const projectId = 'prj_completions';

  async function insertRunning(
    overrides: { status?: 'running' | 'queued' | 'succeeded'; duration_ms?: number | null } = {},
  ): Promise<string> {
    const id = newId('invocation');
    await db
      .insertInto('invocations')
      .values({
        id,
        workspace_id: workspaceId,
        project_id: projectId,
        connection_id: null,
        connector_id: 'resend',
        action_id: 'sendEmail',
        status: overrides.status ?? 'running',
        attempts: 1,
        duration_ms: overrides.duration_ms ?? null,
      })
      .execute();
    return id;
  }

  const row = (id: string) =>
    db
      .selectFrom('invocations')
      .select(['status', 'output', 'error_code', 'error_message', 'error_details', 'duration_ms', 'finished_at'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();

  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDb(database.url, { max: 4 });
    await db.insertInto('workspaces').values({ id: workspaceId, name: 'completions' }).execute();
    await db.insertInto('projects').values({ id: projectId, workspace_id: workspaceId, display_name: 'p' }).execute();
  });
  afterAll(async () => {
    await db?.destroy();
    await database?.drop();
  });

  it('writes successes and failures of one batch, each with its own columns', async () => {
    const ok = await insertRunning();
    const failed = await insertRunning({ duration_ms: 40 });
    const withoutDuration = await insertRunning({ duration_ms: 7 });
    const alreadyDone = await insertRunning({ status: 'succeeded' });
    await completeInvocations(db, [
      { id: ok, outcome: { output: { id: 'email-1', text: 'nul \u0000 here' }, durationMs: 21 } },
      {
        id: failed,
        outcome: {
          failure: { code: 'upstream_error', message: 'bad \u0000 gateway', details: { status: 502 } },
          durationMs: 5,
        },
      },
      { id: withoutDuration, outcome: { failure: { code: 'internal_error', message: 'refused' }, durationMs: null } },
      { id: alreadyDone, outcome: { output: { overwritten: true }, durationMs: 1 } },
    ]);

    expect(await row(ok)).toMatchObject({
      status: 'succeeded',
      output: { id: 'email-1', text: 'nul \uFFFD here' },
      error_code: null,
      duration_ms: 21,
    });
    expect((await row(ok)).finished_at).toBeInstanceOf(Date);
    expect(await row(failed)).toMatchObject({
      status: 'failed',
      output: null,
      error_code: 'upstream_error',
      error_message: 'bad \uFFFD gateway',
      error_details: { status: 502 },
      duration_ms: 45,
    });
    expect(await row(withoutDuration)).toMatchObject({
      status: 'failed',
      error_code: 'internal_error',
      error_details: null,
      duration_ms: 7,
    });
    // A terminal row is never rewritten.
    expect(await row(alreadyDone)).toMatchObject({ status: 'succeeded', output: null, finished_at: null });
  });

  it('writes completions that arrive together in fewer statements, each settling when its row is written', async () => {
    const ids = await Promise.all(Array.from({ length: 30 }, () => insertRunning()));
    const { db: countingDb, statements } = counted(db);
    const batcher = completionsOf(countingDb);
    await Promise.all(ids.map((id, i) => batcher.add({ id, outcome: { output: { n: i }, durationMs: i } })));
    const rows = await db.selectFrom('invocations').select(['id', 'status', 'output']).where('id', 'in', ids).execute();
    expect(rows.every((r) => r.status === 'succeeded')).toBe(true);
    expect(new Map(rows.map((r) => [r.id, r.output]))).toEqual(new Map(ids.map((id, i) => [id, { n: i }])));
    // The first goes out alone; the 29 that arrived while it was in flight go out together.
    expect(statements()).toBe(2);
  });

  it('isolates a row that makes its batch fail: the others are still written', async () => {
    const ids = await Promise.all(Array.from({ length: 5 }, () => insertRunning()));
    const batcher = completionsOf(db);
    // An int overflow in one row fails the whole statement.
    const results = await Promise.allSettled(
      ids.map((id, i) => batcher.add({ id, outcome: { output: { i }, durationMs: i === 3 ? 2 ** 40 : i } })),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const rows = await db.selectFrom('invocations').select(['id', 'status']).where('id', 'in', ids).execute();
    expect(new Map(rows.map((r) => [r.id, r.status]))).toEqual(
      new Map(ids.map((id, i) => [id, i === 3 ? 'running' : 'succeeded'])),
    );
  });

  it('records accepted calls together, and refuses only the one whose Idempotency-Key is taken', async () => {
    const connectionId = 'con_completions';
    const queued = (key: string | null): QueuedInvocation => ({
      id: newId('invocation'),
      workspace_id: workspaceId,
      project_id: projectId,
      connection_id: connectionId,
      connector_id: 'resend',
      action_id: 'sendEmail',
      idempotency_key: key,
      request_hash: 'h',
      via: 'api',
      client_name: null,
      client_version: null,
    });
    await db
      .insertInto('connections')
      .values({
        id: connectionId,
        workspace_id: workspaceId,
        connector_id: 'resend',
        display_name: 'c',
        status: 'active',
        credentials_key_id: 'k1',
        credentials_iv: Buffer.alloc(12),
        credentials_tag: Buffer.alloc(16),
        credentials_ciphertext: Buffer.alloc(1),
        credentials_hint: '{}',
      })
      .execute();
    const taken = queued('key-1');
    await insertQueuedInvocations(db, [taken]);

    const rows = [queued(null), queued('key-1'), queued('key-2'), queued(null)];
    const inserts = new GroupCommit<QueuedInvocation>((items) => insertQueuedInvocations(db, items));
    const results = await Promise.allSettled(rows.map((r) => inserts.add(r)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(((results[1] as PromiseRejectedResult).reason as { code?: string }).code).toBe('23505');
    const stored = await db
      .selectFrom('invocations')
      .select(['id', 'status', 'idempotency_key', 'attempts', 'created_at'])
      .where('connection_id', '=', connectionId)
      .execute();
    expect(new Set(stored.map((r) => r.id))).toEqual(new Set([taken.id, rows[0]!.id, rows[2]!.id, rows[3]!.id]));
    for (const r of stored) expect(r).toMatchObject({ status: 'queued', attempts: 0, created_at: expect.any(Date) });
  });
});
