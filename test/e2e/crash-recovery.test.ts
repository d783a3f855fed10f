import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalService, startRedis } from '../../scripts/lib/local-services.ts';
import { EXECUTE_QUEUE } from '../../shared/queue/execute-job.ts';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { SLACK_FAKE_BOT_TOKEN, type SlackFake, startSlackFake } from '../fakes/slack/slack-fake.ts';
import { type Engine, startEngine, waitForLog } from '../support/engine.ts';
import { type ApiClient, type ApiResponse, apiClient, setUpProject } from '../support/http.ts';

/**
 * Operating under failure: the api and three workers as OS processes under a mixed load; one
 * worker is SIGKILLed mid-call and Redis restarts once. Every accepted invocation must end in a
 * terminal state with exactly one audit row, nothing stuck in the queue, and no write repeated.
 */
describe('crash recovery', () => {
  let redisDir: string;
  let redis: LocalService;
  let resend: ResendFake;
  let slack: SlackFake;
  let engine: Engine;
  let resendClient: ApiClient;
  let slackClient: ApiClient;

  beforeAll(async () => {
    redisDir = mkdtempSync(join(tmpdir(), 'ce-crash-redis-'));
    redis = await startRedis({ dataDir: join(redisDir, 'data'), persistence: true });
    resend = await startResendFake({ rateLimitPerSecond: 100_000 });
    slack = await startSlackFake();
    engine = await startEngine({
      mode: 'processes',
      workers: 3,
      env: {
        REDIS_URL: redis.url,
        RESEND_API_URL: resend.url,
        SLACK_API_URL: `${slack.url}/api`,
        WORKER_CONCURRENCY: '4',
        LOG_LEVEL: 'info',
      },
    });
    await waitForLog(engine, /worker ready/, 3);
    const admin = apiClient(engine.baseUrl, engine.workspaceKey);
    resendClient = apiClient(
      engine.baseUrl,
      (await setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: RESEND_FAKE_FULL_KEY } })).projectKey,
    );
    slackClient = apiClient(
      engine.baseUrl,
      (await setUpProject(admin, { connectorId: 'slack', credentials: { botToken: SLACK_FAKE_BOT_TOKEN } })).projectKey,
    );
  }, 120_000);

  afterAll(async () => {
    await engine?.stop();
    await redis?.stop();
    await resend?.close();
    await slack?.close();
    if (redisDir) rmSync(redisDir, { recursive: true, force: true });
  });

  it('ends every accepted invocation exactly once through a SIGKILLed worker and a Redis restart', async () => {
    // Every upstream call takes 400 ms, so calls are in flight when the worker dies.
    resend.setLatency(400);
    slack.setLatency(400);
    const responses: Array<Promise<ApiResponse>> = [];
    const call = (i: number): Promise<ApiResponse> => {
      const async = { prefer: 'respond-async' };
      const safe = (p: Promise<ApiResponse>) =>
        p.catch((err: Error) => ({ status: 0, headers: new Headers(), body: { error: err.message } }));
      switch (i % 4) {
        case 0:
          return safe(
            resendClient.post(
              '/v1/executions',
              {
                connectorId: 'resend',
                actionId: 'sendEmail',
                input: { from: 'a@example.com', to: 'b@example.com', subject: `mail ${i}`, text: 'x' },
              },
              async,
            ),
          );
        case 1:
          return safe(
            resendClient.post('/v1/executions', { connectorId: 'resend', actionId: 'listDomains', input: {} }, async),
          );
        case 2:
          return safe(
            slackClient.post(
              '/v1/executions',
              { connectorId: 'slack', actionId: 'postMessage', input: { channel: 'C0FAKEGEN01', text: `post ${i}` } },
              async,
            ),
          );
        default:
          return safe(
            resendClient.post('/v1/executions', {
              connectorId: 'resend',
              actionId: 'sendEmail',
              input: { from: 'a@example.com', to: 'b@example.com', subject: `sync ${i}`, text: 'x' },
            }),
          );
      }
    };

    const started = Date.now();
    let i = 0;
    let killed = false;
    let restarted = false;
    while (Date.now() - started < 8_000) {
      responses.push(call(i++));
      await new Promise((r) => setTimeout(r, 40));
      if (!killed && Date.now() - started > 1_500) {
        killed = true;
        engine.processes.workers[0]!.kill('SIGKILL');
      }
      if (!restarted && Date.now() - started > 3_500) {
        restarted = true;
        const port = new URL(redis.url).port;
        await redis.stop(); // SHUTDOWN persists the AOF
        redis = await startRedis({ dataDir: join(redisDir, 'data'), port: Number(port), persistence: true });
      }
    }
    const results = await Promise.all(responses);
    resend.setLatency(0);
    slack.setLatency(0);

    const accepted = new Set(
      results.map((r) => r.body?.invocationId as string | undefined).filter((id): id is string => Boolean(id)),
    );
    const refused = results.filter((r) => !r.body?.invocationId);
    // Refusals are only the outage's 503s (or connection errors to a restarting dependency), never 5xx with a stack.
    for (const r of refused) expect([0, 503]).toContain(r.status);
    expect(accepted.size).toBeGreaterThan(100);

    const db = new pg.Client({ connectionString: engine.database.url });
    await db.connect();
    try {
      // Every accepted invocation reaches a terminal state (stalled jobs are recovered in seconds).
      const deadline = Date.now() + 90_000;
      let rows: Array<{ id: string; status: string; error_code: string | null; attempts: number }> = [];
      for (;;) {
        rows = (await db.query('select id, status, error_code, attempts from invocations')).rows;
        const unfinished = rows.filter((r) => r.status === 'queued' || r.status === 'running');
        if (unfinished.length === 0 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(rows.filter((r) => r.status === 'queued' || r.status === 'running')).toEqual([]);
      // Exactly one audit row per accepted call, and none for a refused one.
      const ids = rows.map((r) => r.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(new Set(ids)).toEqual(accepted);

      // No write repeated: one email per Idempotency-Key, one Slack post per call.
      const perKey = new Map<string, number>();
      for (const e of resend.sentEmails)
        perKey.set(e.idempotencyKey ?? '', (perKey.get(e.idempotencyKey ?? '') ?? 0) + 1);
      expect([...perKey.values()].every((n) => n === 1)).toBe(true);
      const posts = slack.postedMessages.map((p) => String(p.args.text));
      expect(new Set(posts).size).toBe(posts.length);

      // Most calls succeeded; the ones the dead worker held either re-ran (reads, deduped sends)
      // or were recorded as outcome_unknown (a Slack post that may have happened).
      const succeeded = rows.filter((r) => r.status === 'succeeded').length;
      // The dead worker's in-flight calls were picked up again by the others.
      expect(rows.filter((r) => r.attempts > 1).length).toBeGreaterThan(0);
      expect(succeeded / rows.length).toBeGreaterThan(0.8);
      const failedCodes = new Set(rows.filter((r) => r.status === 'failed').map((r) => r.error_code));
      for (const code of failedCodes) expect(['outcome_unknown', 'unavailable']).toContain(code);
    } finally {
      await db.end();
    }

    // Nothing left in the queue.
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(EXECUTE_QUEUE, { connection });
    try {
      const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
      expect(counts).toMatchObject({ waiting: 0, prioritized: 0, active: 0, delayed: 0 });
    } finally {
      await queue.close();
      connection.disconnect();
    }
  }, 180_000);
});
