import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalService, startPostgres, startRedis } from '../../scripts/lib/local-services.ts';
import { migrateToLatest } from '../../shared/db/migrate.ts';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, type ApiResponse, apiClient, setUpProject } from '../support/http.ts';

/**
 * Postgres and Redis of its own, stopped and started again under the engine: the api answers 503
 * `unavailable` while one is down and recovers without a restart; accepted calls wait and complete.
 */
describe('dependency outages', () => {
  let dir: string;
  let postgres: LocalService;
  let redis: LocalService;
  let fake: ResendFake;
  let engine: Engine;
  let client: ApiClient;
  const email = (i: number) => ({ from: 'a@example.com', to: 'b@example.com', subject: `outage ${i}`, text: 'x' });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ce-outage-'));
    postgres = await startPostgres({ dataDir: join(dir, 'pg'), fast: true });
    redis = await startRedis({ dataDir: join(dir, 'redis'), persistence: true });
    await migrateToLatest(postgres.url);
    fake = await startResendFake({ rateLimitPerSecond: 10_000 });
    engine = await startEngine({
      env: { DATABASE_URL: postgres.url, REDIS_URL: redis.url, RESEND_API_URL: fake.url, WORKER_CONCURRENCY: '1' },
    });
    const admin = apiClient(engine.baseUrl, engine.workspaceKey);
    client = apiClient(
      engine.baseUrl,
      (await setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: RESEND_FAKE_FULL_KEY } })).projectKey,
    );
  }, 120_000);
  afterAll(async () => {
    await engine?.stop();
    await redis?.stop();
    await postgres?.stop();
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const waitAll = async (ids: string[], timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const statuses = await Promise.all(
        ids.map(async (id) => (await client.get(`/v1/invocations/${id}`)).body.status as string),
      );
      if (statuses.every((s) => s === 'succeeded' || s === 'failed') || Date.now() > deadline) return statuses;
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  it('answers 503 while Postgres is down, and runs the calls it had accepted once it is back', async () => {
    // One worker slot and a slow upstream: the accepted calls are queued or in flight when Postgres stops.
    fake.setLatency(1_000);
    const accepted = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        client.post(
          '/v1/executions',
          { connectorId: 'resend', actionId: 'sendEmail', input: email(i) },
          { prefer: 'respond-async' },
        ),
      ),
    );
    const ids = accepted.map((r) => r.body.invocationId as string);
    await new Promise((r) => setTimeout(r, 500));

    const port = Number(new URL(postgres.url).port);
    await postgres.stop();
    const down = await client.get('/v1/invocations');
    expect(down.status).toBe(503);
    expect(down.body).toEqual({ error: { code: 'unavailable', message: expect.any(String) } });
    expect(down.headers.get('retry-after')).toBe('1');
    expect((await fetch(`${engine.baseUrl}/readyz`)).status).toBe(503);
    const refused = await client.post(
      '/v1/executions',
      { connectorId: 'resend', actionId: 'sendEmail', input: email(9) },
      { prefer: 'respond-async' },
    );
    expect(refused.status).toBe(503);

    await new Promise((r) => setTimeout(r, 6_000)); // longer than 5 attempts a second apart
    postgres = await startPostgres({ dataDir: join(dir, 'pg'), port, fast: true });
    fake.setLatency(0);

    expect(await waitAll(ids)).toEqual(Array(5).fill('succeeded'));
    // The call cut off mid-flight was run again with its Idempotency-Key: five emails, not six.
    for (let i = 0; i < 5; i++)
      expect(fake.sentEmails.filter((e) => (e.body as { subject: string }).subject === `outage ${i}`)).toHaveLength(1);
    expect((await fetch(`${engine.baseUrl}/readyz`)).status).toBe(200);
  }, 120_000);

  it('answers 503 while Redis is down and recovers without a restart', async () => {
    const port = Number(new URL(redis.url).port);
    await redis.stop();
    const down = await client.post('/v1/executions', {
      connectorId: 'resend',
      actionId: 'sendEmail',
      input: email(20),
    });
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('unavailable');
    expect((await fetch(`${engine.baseUrl}/readyz`)).status).toBe(503);

    redis = await startRedis({ dataDir: join(dir, 'redis'), port, persistence: true });
    let res: ApiResponse | undefined;
    for (let i = 0; i < 40; i++) {
      res = await client.post('/v1/executions', { connectorId: 'resend', actionId: 'sendEmail', input: email(21) });
      if (res.status === 200) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(res!.status).toBe(200);
  }, 60_000);
});
