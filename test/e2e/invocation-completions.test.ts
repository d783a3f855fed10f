import type { KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../shared/db/database.ts';
import { newId } from '../../shared/ids.ts';
import { CompletionBatcher } from '../../shared/invocations/completion-batcher.ts';
import { completeInvocations } from '../../shared/invocations/invocation-store.ts';
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

describe('recording invocation outcomes', () => {
  let database: TestDatabase;
  let db: Db;
  const workspaceId = 'ws_completions';
  const projectId = 'prj_completions';

  async function insertRunning(overrides: { status?: 'running' | 'queued' | 'succeeded'; duration_ms?: number | null } = {}): Promise<string> {
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
    db.selectFrom('invocations').select(['status', 'output', 'error_code', 'error_message', 'error_details', 'duration_ms', 'finished_at']).where('id', '=', id).executeTakeFirstOrThrow();

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
      { id: failed, outcome: { failure: { code: 'upstream_error', message: 'bad \u0000 gateway', details: { status: 502 } }, durationMs: 5 } },
      { id: withoutDuration, outcome: { failure: { code: 'internal_error', message: 'refused' }, durationMs: null } },
      { id: alreadyDone, outcome: { output: { overwritten: true }, durationMs: 1 } },
    ]);

    expect(await row(ok)).toMatchObject({ status: 'succeeded', output: { id: 'email-1', text: 'nul \uFFFD here' }, error_code: null, duration_ms: 21 });
    expect((await row(ok)).finished_at).toBeInstanceOf(Date);
    expect(await row(failed)).toMatchObject({
      status: 'failed',
      output: null,
      error_code: 'upstream_error',
      error_message: 'bad \uFFFD gateway',
      error_details: { status: 502 },
      duration_ms: 45,
    });
    expect(await row(withoutDuration)).toMatchObject({ status: 'failed', error_code: 'internal_error', error_details: null, duration_ms: 7 });
    // A terminal row is never rewritten.
    expect(await row(alreadyDone)).toMatchObject({ status: 'succeeded', output: null, finished_at: null });
  });

  it('writes completions that arrive together in fewer statements, each settling when its row is written', async () => {
    const ids = await Promise.all(Array.from({ length: 30 }, () => insertRunning()));
    const { db: countingDb, statements } = counted(db);
    const batcher = new CompletionBatcher(countingDb);
    await Promise.all(ids.map((id, i) => batcher.complete(id, { output: { n: i }, durationMs: i })));
    const rows = await db.selectFrom('invocations').select(['id', 'status', 'output']).where('id', 'in', ids).execute();
    expect(rows.every((r) => r.status === 'succeeded')).toBe(true);
    expect(new Map(rows.map((r) => [r.id, r.output]))).toEqual(new Map(ids.map((id, i) => [id, { n: i }])));
    // The first goes out alone; the 29 that arrived while it was in flight go out together.
    expect(statements()).toBe(2);
  });

  it('isolates a row that makes its batch fail: the others are still written', async () => {
    const ids = await Promise.all(Array.from({ length: 5 }, () => insertRunning()));
    const batcher = new CompletionBatcher(db);
    // An int overflow in one row fails the whole statement.
    const results = await Promise.allSettled(
      ids.map((id, i) => batcher.complete(id, { output: { i }, durationMs: i === 3 ? 2 ** 40 : i })),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const rows = await db.selectFrom('invocations').select(['id', 'status']).where('id', 'in', ids).execute();
    expect(new Map(rows.map((r) => [r.id, r.status]))).toEqual(new Map(ids.map((id, i) => [id, i === 3 ? 'running' : 'succeeded'])));
  });
});
