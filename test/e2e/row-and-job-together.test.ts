import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../shared/db/database.ts';
import { newId } from '../../shared/ids.ts';
import { insertQueuedInvocations, type QueuedInvocation } from '../../shared/invocations/invocation-store.ts';
import { type ExecuteJobData, executeJobOptions } from '../../shared/queue/execute-job.ts';
import { ExecuteQueues } from '../../shared/queue/execute-queues.ts';
import { createRedis } from '../../shared/queue/redis.ts';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';

/**
 * A keyless sync call's row and job are written together (docs/decisions/0019), so its job can reach a
 * worker before its row has committed. The worker waits for the row, runs the call once it comes, and
 * never runs a call whose row never comes; a row that fails to be written takes its job with it.
 */
describe('a call whose job comes before its row', () => {
  let fake: ResendFake;
  let engine: Engine;
  let client: ApiClient;
  let db: Db;
  let sql: pg.Client;
  let queues: ExecuteQueues;
  let target: { workspaceId: string; projectId: string; connectionId: string };

  const email = { from: 'Shop <orders@example.com>', to: ['ada@example.com'], subject: 'Your order', text: 'Thanks!' };

  beforeAll(async () => {
    fake = await startResendFake({ rateLimitPerSecond: 1000 });
    engine = await startEngine({ env: { RESEND_API_URL: fake.url } });
    const admin = apiClient(engine.baseUrl, engine.workspaceKey);
    const setup = await setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: RESEND_FAKE_FULL_KEY } });
    client = apiClient(engine.baseUrl, setup.projectKey);
    db = createDb(engine.database.url);
    sql = new pg.Client({ connectionString: engine.database.url });
    await sql.connect();
    const project = await sql.query<{ workspace_id: string }>('select workspace_id from projects where id = $1', [
      setup.projectId,
    ]);
    target = {
      workspaceId: project.rows[0]!.workspace_id,
      projectId: setup.projectId,
      connectionId: setup.connectionId,
    };
    queues = new ExecuteQueues(() => createRedis(engine.redisUrl, 'api'), Number(engine.env.EXECUTE_QUEUE_SHARDS ?? 1));
  }, 90_000);

  afterAll(async () => {
    await queues?.close();
    await sql?.end();
    await db?.destroy();
    await engine?.stop();
    await fake?.close();
  });

  /** What the api writes for a keyless call: the queued row, and the job naming it. */
  function call(subject: string): { row: QueuedInvocation; job: ExecuteJobData } {
    const id = newId('invocation');
    const row: QueuedInvocation = {
      id,
      workspace_id: target.workspaceId,
      project_id: target.projectId,
      connection_id: target.connectionId,
      connector_id: 'resend',
      action_id: 'sendEmail',
      idempotency_key: null,
      request_hash: null,
      via: 'api',
      client_name: null,
      client_version: null,
      connector_version: null,
      trace_id: null,
    };
    const job: ExecuteJobData = {
      invocationId: id,
      workspaceId: target.workspaceId,
      projectId: target.projectId,
      connectionId: target.connectionId,
      connectorId: 'resend',
      actionId: 'sendEmail',
      input: { ...email, subject },
      replyTo: null,
      limitPerMinute: 1000,
    };
    return { row, job };
  }

  const enqueue = (job: ExecuteJobData, timestamp?: number) =>
    queues.forProject(job.projectId).add('resend.sendEmail', job, {
      ...executeJobOptions,
      jobId: job.invocationId,
      ...(timestamp ? { timestamp } : {}),
    });

  const sentWith = (subject: string) =>
    fake.requests.filter(
      (r) => r.path === '/emails' && (r.json as { subject?: string } | undefined)?.subject === subject,
    );

  async function statusOf(id: string): Promise<string | undefined> {
    const res = await sql.query<{ status: string }>('select status from invocations where id = $1', [id]);
    return res.rows[0]?.status;
  }

  async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value) || Date.now() > deadline) return value;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it.each([
    ['a few milliseconds', 5],
    ['longer than the worker waits in place (the job waits in the delayed set)', 400],
  ])('runs the call once when its row commits %s after its job', async (_, lagMs) => {
    const subject = `late row ${lagMs}`;
    const { row, job } = call(subject);
    await enqueue(job);
    await new Promise((r) => setTimeout(r, lagMs));
    expect(sentWith(subject)).toHaveLength(0);
    await insertQueuedInvocations(db, [row]);

    expect(
      await until(
        () => statusOf(row.id),
        (s) => s === 'succeeded',
      ),
    ).toBe('succeeded');
    expect(sentWith(subject)).toHaveLength(1);
    const attempts = await sql.query<{ attempts: number }>('select attempts from invocations where id = $1', [row.id]);
    expect(attempts.rows[0]!.attempts).toBe(1);
  });

  it('never runs a job whose row never came', async () => {
    const subject = 'row never written';
    const { row, job } = call(subject);
    // Added long enough ago that no INSERT can still be on its way.
    await enqueue(job, Date.now() - 5 * 60_000);
    const queue = queues.forProject(job.projectId);
    // Completed jobs leave Redis at once (executeJobOptions).
    expect(
      await until(
        () => queue.getJobState(job.invocationId),
        (s) => s === 'unknown',
      ),
    ).toBe('unknown');
    expect(engine.logs()).toContain('no invocation row came for this job');
    expect(sentWith(subject)).toHaveLength(0);
    expect(await statusOf(row.id)).toBeUndefined();
  });

  it('answers an error, runs nothing and leaves no job when the row cannot be written', async () => {
    // The row's INSERT fails for this one connection (as a constraint or a full disk would).
    await sql.query(`
      create function refuse_invocation() returns trigger language plpgsql as $$
      begin raise exception 'refused for the test'; end $$`);
    await sql.query(`
      create trigger refuse_invocation before insert on invocations for each row
      when (new.action_id = 'sendEmail' and new.idempotency_key is null) execute function refuse_invocation()`);
    try {
      const before = fake.requests.length;
      const res = await client.post('/v1/executions', {
        connectorId: 'resend',
        actionId: 'sendEmail',
        input: { ...email, subject: 'refused row' },
      });
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(res.body.error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
      expect(JSON.stringify(res.body)).not.toContain('refused for the test');

      // Nothing ran: no upstream request and no row. The api removed the job, unless a worker had
      // taken it already: then it waits in the delayed set for a row that does not come.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(fake.requests.length).toBe(before);
      const rows = await sql.query('select id from invocations where action_id = $1 and status <> $2', [
        'sendEmail',
        'succeeded',
      ]);
      expect(rows.rows).toHaveLength(0);
      const queue = queues.forProject(target.projectId);
      const counts = await queue.getJobCounts('waiting', 'active', 'prioritized', 'failed');
      expect(counts).toEqual({ waiting: 0, active: 0, prioritized: 0, failed: 0 });
    } finally {
      await sql.query('drop trigger refuse_invocation on invocations');
      await sql.query('drop function refuse_invocation()');
    }
  });

  it('answers every one of many concurrent keyless sync calls with its result, each run once', async () => {
    // Group-committed INSERTs lag behind their jobs under concurrency: some claims find no row, or
    // find it committed between the claim and the look at its status (each interleaving is in
    // test/unit/claim-row.test.ts).
    const before = fake.requests.length;
    let next = 0;
    const answers: Array<{ status: number; id: string }> = [];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next++ < 200) {
          const res = await client.post('/v1/executions', {
            connectorId: 'resend',
            actionId: 'sendEmail',
            input: { ...email, subject: 'concurrent' },
          });
          answers.push({ status: res.status, id: res.body.invocationId });
        }
      }),
    );
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(answers.map((a) => a.id)).size).toBe(200);
    expect(fake.requests.length - before).toBe(200);
  });

  it('still answers a keyless sync call with its result', async () => {
    const res = await client.post('/v1/executions', {
      connectorId: 'resend',
      actionId: 'sendEmail',
      input: { ...email, subject: 'plain sync' },
    });
    expect(res.status).toBe(200);
    expect(await statusOf(res.body.invocationId)).toBe('succeeded');
    expect(sentWith('plain sync')).toHaveLength(1);
  });
});
