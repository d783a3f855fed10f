import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';

/** A busy project never delays another project's calls. */
describe('fairness between projects', () => {
  let fake: ResendFake;
  let engine: Engine;
  let admin: ApiClient;

  beforeAll(async () => {
    fake = await startResendFake({ rateLimitPerSecond: 100_000 });
    // A's limit of 600 a minute is above Resend's default ceiling (300).
    engine = await startEngine({
      env: { RESEND_API_URL: fake.url, WORKER_CONCURRENCY: '8', RESEND_RATE_LIMIT_PER_MINUTE: '600' },
    });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
  });
  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
  });

  const email = { from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' };

  async function flood(client: ApiClient, count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(100, count - i) }, () =>
          client.post(
            '/v1/executions',
            { connectorId: 'resend', actionId: 'listDomains', input: {} },
            { prefer: 'respond-async' },
          ),
        ),
      );
      for (const r of batch) {
        expect(r.status).toBe(202);
        ids.push(r.body.invocationId);
      }
    }
    return ids;
  }

  it('runs project B’s sync calls ahead of project A’s backlog, within A’s limit and beyond it', async () => {
    const a = await setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: RESEND_FAKE_FULL_KEY } });
    const b = await setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: RESEND_FAKE_FULL_KEY } });
    expect((await admin.patch(`/v1/projects/${a.projectId}`, { rateLimits: { resend: 600 } })).status).toBe(200);
    const clientA = apiClient(engine.baseUrl, a.projectKey);
    const clientB = apiClient(engine.baseUrl, b.projectKey);

    // Every upstream call takes 40 ms: A's 600 immediate jobs alone keep 8 workers busy for ~3 s,
    // and its other 1,400 wait in the delayed set for later windows.
    fake.setLatency(40);
    try {
      await flood(clientA, 2_000);
      const pendingA = async () =>
        (await admin.get(`/v1/invocations?projectId=${a.projectId}&status=queued&limit=100`)).body.data.length;

      for (let i = 0; i < 5; i++) {
        const started = Date.now();
        const res = await clientB.post('/v1/executions', {
          connectorId: 'resend',
          actionId: 'sendEmail',
          input: email,
        });
        expect(res.status).toBe(200);
        // Not behind A's queue: that would take seconds.
        expect(Date.now() - started).toBeLessThan(1_500);
      }
      // A's backlog is still there, deferred, not dropped.
      expect(await pendingA()).toBe(100);
    } finally {
      fake.setLatency(0);
    }
  }, 120_000);
});
