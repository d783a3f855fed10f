import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';

/**
 * Per project+connector limits with real Redis, measured where it matters: at the upstream.
 * This file waits out one real minute window on purpose.
 */
describe('rate limits', () => {
  let fake: ResendFake;
  let engine: Engine;
  let admin: ApiClient;
  const email = (i: number) => ({ from: 'a@example.com', to: 'b@example.com', subject: `limited ${i}`, text: 'x' });

  beforeAll(async () => {
    fake = await startResendFake({ rateLimitPerSecond: 10_000 });
    engine = await startEngine({ env: { RESEND_API_URL: fake.url }, workers: 2 });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
  });
  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
  });

  it('lets at most N calls a minute reach the upstream, defers the rest, and completes every async call', async () => {
    const limit = 12;
    const { projectId, projectKey } = await setUpProject(admin, {
      connectorId: 'resend',
      credentials: { apiKey: RESEND_FAKE_FULL_KEY },
    });
    expect((await admin.patch(`/v1/projects/${projectId}`, { rateLimits: { resend: limit } })).body.rateLimits).toEqual(
      { resend: limit },
    );
    const client = apiClient(engine.baseUrl, projectKey);
    fake.reset();

    const accepted = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        client.post(
          '/v1/executions',
          { connectorId: 'resend', actionId: 'sendEmail', input: email(i) },
          { prefer: 'respond-async' },
        ),
      ),
    );
    expect(accepted.map((r) => r.status)).toEqual(Array(20).fill(202));
    // RateLimit headers (IETF draft): the policy, and what is left now; the 13th call on is deferred.
    expect(accepted.map((r) => r.headers.get('ratelimit-policy'))).toEqual(Array(20).fill(`"resend";q=${limit};w=60`));
    const remaining = accepted.map((r) => Number(/;r=(\d+);/.exec(r.headers.get('ratelimit') ?? '')?.[1]));
    expect(remaining.sort((a, b) => b - a)).toEqual([
      ...Array.from({ length: limit }, (_, i) => limit - 1 - i),
      ...Array(8).fill(0),
    ]);
    for (const r of accepted) expect(r.headers.get('ratelimit')).toMatch(/^"resend";r=\d+;t=(60|[1-5]?\d)$/);

    // A sync call now would have to wait a whole window: refused at once, nothing taken.
    const refused = await client.post('/v1/executions?timeoutMs=5000', {
      connectorId: 'resend',
      actionId: 'sendEmail',
      input: email(99),
    });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limited');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(50);
    expect(retryAfter).toBeLessThanOrEqual(60); // never past the limit's window
    expect(refused.headers.get('ratelimit')).toBe(`"resend";r=0;t=${retryAfter}`);

    await new Promise((r) => setTimeout(r, 3_000));
    expect(fake.sentEmails).toHaveLength(limit);
    const statuses = await Promise.all(
      accepted.map(async (r) => (await client.get(`/v1/invocations/${r.body.invocationId}`)).body.status),
    );
    expect(statuses.filter((s) => s === 'queued')).toHaveLength(20 - limit);

    // The deferred calls run when the window moves on, none dropped, none early.
    const deadline = Date.now() + 75_000;
    while (fake.sentEmails.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    expect(fake.sentEmails).toHaveLength(20);
    const times = fake.requests
      .filter((r) => r.path === '/emails')
      .map((r) => r.receivedAt.getTime())
      .sort((a, b) => a - b);
    for (let i = 0; i + limit < times.length; i++) expect(times[i + limit]! - times[i]!).toBeGreaterThanOrEqual(60_000);
    const final = await Promise.all(
      accepted.map(async (r) => (await client.get(`/v1/invocations/${r.body.invocationId}`)).body.status),
    );
    expect(final).toEqual(Array(20).fill('succeeded'));
  }, 120_000);
});
