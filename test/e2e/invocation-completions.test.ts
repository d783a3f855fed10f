import type { KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../shared/db/database.ts';
import { GroupCommit } from '../../shared/db/group-commit.ts';
import { newId } from '../../shared/ids.ts';
import {
  type ClaimedAttempt,
  type ClaimRequest,
  claimAttempts,
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
    overrides: {
      status?: 'running' | 'queued' | 'succeeded';
      duration_ms?: number | null;
      connection_id?: string | null;
      created_at?: Date;
    } = {},
  ): Promise<string> {
    const id = newId('invocation');
    await db
      .insertInto('invocations')
      .values({
        id,
        workspace_id: workspaceId,
        project_id: projectId,
        connection_id: overrides.connection_id ?? null,
        connector_id: 'resend',
        action_id: 'sendEmail',
        status: overrides.status ?? 'running',
        attempts: 1,
        duration_ms: overrides.duration_ms ?? null,
        ...(overrides.created_at ? { created_at: overrides.created_at } : {}),
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

  async function insertConnection(id: string): Promise<string> {
    await db
      .insertInto('connections')
      .values({
        id,
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
    return id;
  }

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
    await insertConnection(connectionId);
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
  it('claims attempts that arrive together in fewer statements, each with its own row and connection', async () => {
    const connectionId = await insertConnection('con_claims');
    const queued = await Promise.all(
      Array.from({ length: 20 }, () => insertRunning({ status: 'queued', connection_id: connectionId })),
    );
    const rerun = await insertRunning({ status: 'running', connection_id: connectionId });
    const done = await insertRunning({ status: 'succeeded', connection_id: connectionId });
    const { db: countingDb, statements } = counted(db);
    const claims = new GroupCommit<ClaimRequest, ClaimedAttempt | null>((items) => claimAttempts(countingDb, items));
    const ids = [...queued, rerun, done];
    const results = await Promise.all(ids.map((id) => claims.add({ id, connectionId })));

    // The first goes out alone; the others, which arrived while it was in flight, together (and the
    // terminal row, not claimed within its id's window, is looked up once more without it).
    expect(statements()).toBe(3);
    for (const [i, id] of queued.entries()) {
      expect(results[i]).toMatchObject({ previousStatus: 'queued', attempts: 2, connectionId });
      expect(results[i]?.connection).toMatchObject({ id: connectionId, status: 'active', credentials_version: 1 });
      expect(await row(id)).toMatchObject({ status: 'running' });
    }
    // A row still running (its worker died mid-call) is claimed again; a terminal one is not.
    expect(results[queued.length]).toMatchObject({ previousStatus: 'running', attempts: 2 });
    expect(results[queued.length + 1]).toBeNull();
    expect(await row(done)).toMatchObject({ status: 'succeeded' });
  });

  it('claims a duplicate delivery in the same batch after the first, as if it came alone', async () => {
    const connectionId = await insertConnection('con_claims_dup');
    const id = await insertRunning({ status: 'queued', connection_id: connectionId });
    const other = await insertRunning({ status: 'queued', connection_id: connectionId });
    const results = await claimAttempts(db, [
      { id, connectionId },
      { id: other, connectionId: 'con_missing' },
      { id, connectionId },
    ]);
    expect(results[0]).toMatchObject({ previousStatus: 'queued', attempts: 2 });
    // The connection the job names, not the row's: gone here.
    expect(results[1]).toMatchObject({ previousStatus: 'queued', connection: null });
    expect(results[2]).toMatchObject({ previousStatus: 'running', attempts: 3 });
  });

  it("finds a row whose created_at is far from its id's time (the window's fallback): claimed, then completed", async () => {
    const connectionId = await insertConnection('con_claims_far');
    const farBack = new Date(Date.now() - 40 * 24 * 3600 * 1000);
    const far = await insertRunning({ status: 'queued', connection_id: connectionId, created_at: farBack });
    const near = await insertRunning({ status: 'queued', connection_id: connectionId });
    const [farClaim, nearClaim] = await claimAttempts(db, [
      { id: far, connectionId },
      { id: near, connectionId },
    ]);
    expect(farClaim).toMatchObject({ previousStatus: 'queued', attempts: 2 });
    expect(nearClaim).toMatchObject({ previousStatus: 'queued', attempts: 2 });
    await completeInvocations(db, [
      { id: far, outcome: { output: { id: 'far' }, durationMs: 5 } },
      { id: near, outcome: { output: { id: 'near' }, durationMs: 6 } },
    ]);
    expect(await row(far)).toMatchObject({ status: 'succeeded', output: { id: 'far' } });
    expect(await row(near)).toMatchObject({ status: 'succeeded', output: { id: 'near' } });
  });
});
