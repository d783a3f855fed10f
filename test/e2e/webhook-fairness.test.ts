import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace } from '../../shared/auth/workspaces.ts';
import { createDb, type Db } from '../../shared/db/database.ts';
import { type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient } from '../support/http.ts';
import { breakAConnection, eventually, startTestReceiver, type TestReceiver } from '../support/webhooks.ts';

/**
 * Red-team finding: 20 webhooks of one workspace to a receiver that never answers held all delivery
 * slots, and another workspace's delivery waited 49 s. Here the timeout is long on purpose (60 s):
 * B's delivery must arrive while A's deliveries are still hanging, so what lets it through is A's
 * share of the slots, not a timeout ending.
 */
describe('webhook delivery fairness between workspaces', () => {
  let fake: ResendFake;
  let hanging: TestReceiver;
  let answering: TestReceiver;
  let engine: Engine;
  let db: Db;
  let adminA: ApiClient;
  let adminB: ApiClient;
  const cap = 20;
  const share = 4;

  beforeAll(async () => {
    fake = await startResendFake({ rateLimitPerSecond: 10_000 });
    hanging = await startTestReceiver({ hang: true });
    answering = await startTestReceiver();
    engine = await startEngine({
      env: {
        RESEND_API_URL: fake.url,
        WEBHOOK_TIMEOUT_MS: '60000',
        WEBHOOKS_PER_WORKSPACE_MAX: String(cap),
        WEBHOOK_WORKSPACE_CONCURRENCY: String(share),
      },
    });
    db = createDb(engine.database.url, { max: 2 });
    adminA = apiClient(engine.baseUrl, engine.workspaceKey);
    adminB = apiClient(engine.baseUrl, (await createWorkspace(db, 'Tenant B')).key);
  });
  afterAll(async () => {
    // Answer nothing, but end the hanging requests so the worker drains at once.
    await hanging?.close();
    await db?.destroy();
    await engine?.stop();
    await answering?.close();
    await fake?.close();
  });

  it('caps webhooks per workspace: one over the cap is 409 conflict, other workspaces unaffected', async () => {
    for (let i = 0; i < cap; i++) {
      const res = await adminA.post('/v1/webhooks', { url: hanging.url(`/a/${i}`), events: ['connection.broken'] });
      expect(res.status, `webhook ${i}`).toBe(201);
    }
    const over = await adminA.post('/v1/webhooks', { url: hanging.url('/a/over'), events: ['connection.broken'] });
    expect(over.status).toBe(409);
    expect(over.body.error).toMatchObject({ code: 'conflict', message: expect.stringContaining(`${cap} webhooks`) });
    expect((await adminA.get('/v1/webhooks?limit=100')).body.data).toHaveLength(cap);
    expect(
      (await adminB.post('/v1/webhooks', { url: answering.url('/b'), events: ['connection.broken'] })).status,
    ).toBe(201);
  });

  it("delivers workspace B's event while workspace A's deliveries hang, A holding only its share", async () => {
    await breakAConnection(adminA, fake);
    // A takes every slot it may have...
    await eventually(() => (hanging.open() >= share ? true : undefined), 20_000);
    await breakAConnection(adminB, fake);
    // ...and B's delivery still arrives, long before any of A's attempts could time out.
    await eventually(() => (answering.requests.length >= 1 ? true : undefined), 20_000);
    expect(hanging.open()).toBeLessThanOrEqual(share);
    expect(hanging.requests.length).toBeLessThanOrEqual(share);
    const attemptsOfA = await db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
      .select(['d.attempts', 'd.status'])
      .where('w.url', 'like', `${hanging.url('/a/')}%`)
      .execute();
    expect(attemptsOfA).toHaveLength(cap);
    expect(attemptsOfA.every((d) => d.attempts === 0 && d.status === 'pending')).toBe(true);
  }, 60_000);
});
