import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';

const SLOW_KEY = 're_slow_0123456789abcdefghijklmnopqrstuv';
const HANGING_KEY = 're_hang_0123456789abcdefghijklmnopqrstuv';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Running work is shared fairly across projects (docs/decisions/0007): project A's calls to an
 * upstream that takes 1.5 s, and to one that never answers, hold at most A's share of the workers'
 * slots, so project B's sync calls run as fast as when A is idle; A's calls all finish later, the
 * hanging ones within the invocation's time budget.
 */
describe('fair shares of running work', () => {
  let fake: ResendFake;
  let engine: Engine;
  let admin: ApiClient;

  beforeAll(async () => {
    fake = await startResendFake({ rateLimitPerSecond: 100_000 });
    fake.addKey(SLOW_KEY, 'full', 'team_slow');
    fake.addKey(HANGING_KEY, 'full', 'team_hang');
    engine = await startEngine({
      env: {
        RESEND_API_URL: fake.url,
        WORKER_CONCURRENCY: '8',
        EXECUTION_RESERVE_SLOTS: '2',
        UPSTREAM_TIMEOUT_MS: '2000',
        EXECUTION_TIME_BUDGET_MS: '4500',
        PROJECT_MAX_RUNNING_CALLS: '50',
      },
    });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
  });
  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
  });

  it('keeps project B’s sync calls fast while project A’s slow and hanging calls hold its share', async () => {
    const a = await setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: SLOW_KEY } });
    const hanging = await admin.post('/v1/connections', {
      connectorId: 'resend',
      displayName: 'hangs',
      credentials: { apiKey: HANGING_KEY },
      projectIds: [a.projectId],
    });
    expect(hanging.status).toBe(201);
    const b = await setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: RESEND_FAKE_FULL_KEY } });
    const clientA = apiClient(engine.baseUrl, a.projectKey);
    const clientB = apiClient(engine.baseUrl, b.projectKey);
    const callB = async () => {
      const started = performance.now();
      const res = await clientB.post('/v1/executions', { connectorId: 'resend', actionId: 'listDomains', input: {} });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return performance.now() - started;
    };

    for (let i = 0; i < 3; i++) await callB(); // warm
    const alone: number[] = [];
    for (let i = 0; i < 10; i++) alone.push(await callB());

    // Credential tests are done: from now on A's keys are slow (1.5 s) or never answered.
    fake.setKeyLatency(SLOW_KEY, 1_500);
    fake.setKeyLatency(HANGING_KEY, Infinity);
    const ids: string[] = [];
    // From the first submission: A's first calls may run while the later ones are still being sent.
    const floodStarted = Date.now();
    for (const connectionId of [a.connectionId, hanging.body.id]) {
      for (let i = 0; i < 16; i++) {
        const res = await clientA.post(
          '/v1/executions',
          { connectorId: 'resend', actionId: 'listDomains', input: {}, connectionId },
          { prefer: 'respond-async' },
        );
        expect(res.status).toBe(202);
        ids.push(res.body.invocationId);
      }
    }
    // A's calls now hold every place A may have; 8 of them would have held every slot.
    await new Promise((r) => setTimeout(r, 500));
    const during: number[] = [];
    for (let i = 0; i < 10; i++) during.push(await callB());

    // Within noise of B alone: without shares each call waited over a second for a slot.
    expect(median(during), `B alone ${alone.map(Math.round)}, during ${during.map(Math.round)}`).toBeLessThan(
      median(alone) * 3 + 100,
    );
    expect(Math.max(...during)).toBeLessThan(1_000);

    // A's calls all finish: the slow ones succeed, the hanging ones fail once their budget is spent.
    const finished = await Promise.all(
      ids.map(async (id) => {
        for (;;) {
          const inv = (await admin.get(`/v1/invocations/${id}`)).body;
          if (inv.status === 'succeeded' || inv.status === 'failed') return inv;
          await new Promise((r) => setTimeout(r, 250));
        }
      }),
    );
    const slow = finished.slice(0, 16);
    const hung = finished.slice(16);
    expect(slow.every((inv) => inv.status === 'succeeded')).toBe(true);
    for (const inv of hung) {
      expect(inv.status).toBe('failed');
      expect(inv.errorCode).toBe('upstream_unavailable');
      // 2 s attempts inside a 4.5 s budget: never the 5 attempts of the retry policy.
      expect(inv.attempts).toBeLessThanOrEqual(2);
    }
    // A ran at most its share (8 − 2 reserved) at once: 16 × 1.5 s + 16 hanging × ~4 s ≥ 88 slot-seconds.
    expect(Date.now() - floodStarted).toBeGreaterThan(88_000 / 6 - 2_000);

    // In-process, the api's /metrics shows the worker's counters too.
    const metrics = await fetch(`${engine.baseUrl}/metrics`).then((r) => r.text());
    expect(
      Number(/connector_engine_jobs_held_back_total\{reason="share"\} (\d+)/.exec(metrics)?.[1] ?? 0),
    ).toBeGreaterThan(0);
  }, 180_000);

  it('holds a project to its own cap on running calls, within the operator’s maximum', async () => {
    const key = 're_capped_0123456789abcdefghijklmnopqrs';
    fake.addKey(key, 'full', 'team_capped');
    const p = await setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: key } });
    for (const bad of [0, 51, 2.5, '2']) {
      const res = await admin.patch(`/v1/projects/${p.projectId}`, { maxRunningCalls: bad });
      expect(res.status, String(bad)).toBe(400);
      expect(res.body.error.details[0].path).toBe('maxRunningCalls');
    }
    const capped = await admin.patch(`/v1/projects/${p.projectId}`, { maxRunningCalls: 2 });
    expect(capped.status).toBe(200);
    expect(capped.body.maxRunningCalls).toBe(2);

    fake.setKeyLatency(key, 600);
    const client = apiClient(engine.baseUrl, p.projectKey);
    const ids = await Promise.all(
      Array.from(
        { length: 8 },
        async () =>
          (
            await client.post(
              '/v1/executions',
              { connectorId: 'resend', actionId: 'listDomains', input: {} },
              { prefer: 'respond-async' },
            )
          ).body.invocationId as string,
      ),
    );
    for (const id of ids) {
      for (;;) {
        const inv = (await admin.get(`/v1/invocations/${id}`)).body;
        if (inv.status === 'succeeded') break;
        expect(inv.status).not.toBe('failed');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // Never a third call while two are running: any three arrivals span at least one call's latency.
    const arrivals = fake.requests
      .filter((r) => r.headers.authorization === `Bearer ${key}` && r.path === '/domains')
      .map((r) => r.receivedAt.getTime())
      .sort((a, b) => a - b);
    expect(arrivals.length).toBe(9); // the credential test, then the 8 calls
    const calls = arrivals.slice(1);
    for (let i = 0; i + 2 < calls.length; i++) expect(calls[i + 2]! - calls[i]!).toBeGreaterThanOrEqual(550);

    // null gives the project the operator's cap again.
    expect(
      (await admin.patch(`/v1/projects/${p.projectId}`, { maxRunningCalls: null })).body.maxRunningCalls,
    ).toBeNull();
  }, 60_000);
});
