import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine, waitForLog } from '../support/engine.ts';
import { apiClient, setUpProject } from '../support/http.ts';

/** Parses Prometheus text into "name{labels}" → value. */
function parse(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}
const sum = (m: Map<string, number>, prefix: string, ...contains: string[]) =>
  [...m].filter(([k]) => k.startsWith(prefix) && contains.every((c) => k.includes(c))).reduce((a, [, v]) => a + v, 0);

describe('metrics', () => {
  let fake: ResendFake;
  let engine: Engine;
  let workerMetricsUrl: string;

  beforeAll(async () => {
    fake = await startResendFake({ rateLimitPerSecond: 10_000 });
    engine = await startEngine({ mode: 'processes', workers: 1, env: { RESEND_API_URL: fake.url } });
    await waitForLog(engine, /worker metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/);
    workerMetricsUrl = engine.logs().match(/worker metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/)![1]!;
  }, 120_000);
  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
  });

  const scrape = async (url: string) => parse(await (await fetch(url)).text());

  it('moves the api and worker series with the load, with bounded labels only', async () => {
    const admin = apiClient(engine.baseUrl, engine.workspaceKey);
    const { projectId, projectKey } = await setUpProject(admin, {
      connectorId: 'resend',
      credentials: { apiKey: RESEND_FAKE_FULL_KEY },
    });
    await admin.patch(`/v1/projects/${projectId}`, { rateLimits: { resend: 5 } });
    const client = apiClient(engine.baseUrl, projectKey);
    const apiBefore = await scrape(`${engine.baseUrl}/metrics`);
    const workerBefore = await scrape(workerMetricsUrl);

    const email = { from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' };
    for (let i = 0; i < 4; i++)
      expect(
        (await client.post('/v1/executions', { connectorId: 'resend', actionId: 'sendEmail', input: email })).status,
      ).toBe(200);
    fake.failNext(1, { status: 422, name: 'invalid_parameter', message: 'bad' });
    await client.post('/v1/executions', { connectorId: 'resend', actionId: 'sendEmail', input: email });
    // Over the limit of 5/min: one sync refusal, two async deferrals.
    expect(
      (
        await client.post('/v1/executions?timeoutMs=1000', {
          connectorId: 'resend',
          actionId: 'sendEmail',
          input: email,
        })
      ).status,
    ).toBe(429);
    for (let i = 0; i < 2; i++)
      await client.post(
        '/v1/executions',
        { connectorId: 'resend', actionId: 'listDomains', input: {} },
        { prefer: 'respond-async' },
      );
    // A connection turning broken.
    const key = 're_metrics_key_0000000001';
    fake.addKey(key, 'full');
    const other = await setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: key } });
    fake.revokeKey(key);
    await apiClient(engine.baseUrl, other.projectKey).post('/v1/executions', {
      connectorId: 'resend',
      actionId: 'listDomains',
      input: {},
    });

    const api = await scrape(`${engine.baseUrl}/metrics`);
    const worker = await scrape(workerMetricsUrl);
    const delta = (m: Map<string, number>, before: Map<string, number>, prefix: string, ...c: string[]) =>
      sum(m, prefix, ...c) - sum(before, prefix, ...c);

    expect(
      delta(api, apiBefore, 'connector_engine_http_requests_total', 'route="/v1/executions"', 'status="200"'),
    ).toBe(4);
    expect(
      delta(api, apiBefore, 'connector_engine_http_requests_total', 'route="/v1/executions"', 'status="429"'),
    ).toBe(1);
    expect(
      delta(api, apiBefore, 'connector_engine_http_request_duration_seconds_count', 'route="/v1/executions"'),
    ).toBeGreaterThanOrEqual(9);
    expect(
      delta(
        api,
        apiBefore,
        'connector_engine_executions_accepted_total',
        'connector="resend"',
        'action="sendEmail"',
        'mode="sync"',
      ),
    ).toBe(5);
    expect(delta(api, apiBefore, 'connector_engine_rate_limit_rejected_total', 'connector="resend"')).toBe(1);
    expect(delta(api, apiBefore, 'connector_engine_rate_limit_deferred_total', 'connector="resend"')).toBe(2);
    expect(sum(api, 'connector_engine_queue_jobs', 'queue="execute"', 'state="delayed"')).toBe(2);
    // Every execution request passed the admission gate; nothing is waiting now.
    expect(delta(api, apiBefore, 'connector_engine_admission_wait_seconds_count')).toBe(9);
    expect(sum(api, 'connector_engine_admission_waiting')).toBe(0);

    expect(
      delta(worker, workerBefore, 'connector_engine_jobs_total', 'action="sendEmail"', 'outcome="succeeded"'),
    ).toBe(4);
    expect(delta(worker, workerBefore, 'connector_engine_jobs_total', 'action="sendEmail"', 'outcome="failed"')).toBe(
      1,
    );
    expect(delta(worker, workerBefore, 'connector_engine_job_duration_seconds_count', 'action="sendEmail"')).toBe(5);
    expect(
      delta(
        worker,
        workerBefore,
        'connector_engine_upstream_request_duration_seconds_count',
        'connector="resend"',
        'status="200"',
      ),
    ).toBe(4);
    expect(
      delta(
        worker,
        workerBefore,
        'connector_engine_upstream_request_duration_seconds_count',
        'connector="resend"',
        'status="422"',
      ),
    ).toBe(1);
    expect(
      delta(worker, workerBefore, 'connector_engine_connections_broken_total', 'connector="resend"', 'source="call"'),
    ).toBe(1);
    expect(sum(worker, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    // Labels never carry ids, keys or paths a caller chose.
    for (const text of [[...api.keys()].join('\n'), [...worker.keys()].join('\n')]) {
      expect(text).not.toMatch(/prj_|conn_|inv_|ck_|re_|whk_/);
      expect(text).not.toContain(key);
    }
  });
});
