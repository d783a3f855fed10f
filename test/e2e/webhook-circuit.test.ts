import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../shared/db/database.ts';
import { type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine, waitForLog } from '../support/engine.ts';
import { type ApiClient, apiClient } from '../support/http.ts';
import {
  breakAConnection,
  eventually,
  metricValue,
  startTestReceiver,
  type TestReceiver,
} from '../support/webhooks.ts';

/**
 * A target that keeps timing out: after WEBHOOK_CIRCUIT_FAILURES timeouts its circuit opens and the
 * other deliveries to it are deferred (no attempt spent, no slot held); after the cool-off one probe
 * goes, and its answer closes the circuit. Its own file: the metrics registry is per test file.
 */
describe('webhook target circuit', () => {
  let fake: ResendFake;
  let target: TestReceiver;
  let engine: Engine;
  let admin: ApiClient;
  let db: Db;
  let metricsUrl: string;
  const webhooks = 10;
  const share = 4;
  const failures = 3;

  beforeAll(async () => {
    fake = await startResendFake({ rateLimitPerSecond: 10_000 });
    target = await startTestReceiver({ hang: true });
    engine = await startEngine({
      env: {
        RESEND_API_URL: fake.url,
        WEBHOOK_TIMEOUT_MS: '1000',
        WEBHOOK_CIRCUIT_FAILURES: String(failures),
        WEBHOOK_CIRCUIT_COOLOFF_MS: '8000',
        WEBHOOK_WORKSPACE_CONCURRENCY: String(share),
      },
    });
    await waitForLog(engine, /worker metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/);
    metricsUrl = engine.logs().match(/worker metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/)![1]!;
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    db = createDb(engine.database.url, { max: 2 });
  });
  afterAll(async () => {
    await target?.close();
    await db?.destroy();
    await engine?.stop();
    await fake?.close();
  });

  it('defers deliveries to a target that keeps timing out, then lets one probe through and closes on its answer', async () => {
    for (let i = 0; i < webhooks; i++)
      expect(
        (await admin.post('/v1/webhooks', { url: target.url(`/h/${i}`), events: ['connection.broken'] })).status,
      ).toBe(201);
    await breakAConnection(admin, fake);

    // The first wave times out and opens the circuit; every other delivery is then deferred, not attempted.
    await eventually(
      async () => ((await metricValue(metricsUrl, 'connector_engine_webhook_circuits_open')) === 1 ? true : undefined),
      20_000,
    );
    await eventually(
      async () =>
        (await metricValue(metricsUrl, 'connector_engine_webhook_deliveries_deferred_total{reason="circuit_open"}')) >=
        webhooks - share - failures + 1
          ? true
          : undefined,
      20_000,
    );
    expect(await metricValue(metricsUrl, 'connector_engine_webhook_circuits_opened_total')).toBe(1);
    // At most: the share in flight when the first timeouts came, plus one started after each of the
    // failures before the threshold; the rest were never attempted.
    const mostAttempted = share + failures - 1;
    expect(target.requests.length).toBeLessThanOrEqual(mostAttempted);
    const attempted = await db.selectFrom('webhook_deliveries').select('attempts').where('attempts', '>', 0).execute();
    expect(attempted.length).toBeLessThanOrEqual(mostAttempted);
    expect(attempted.length).toBeLessThan(webhooks);

    // The target recovers: after the cool-off one probe is answered, the circuit closes, and everything is delivered.
    target.answerFromNowOn();
    await eventually(async () => {
      const rows = await db.selectFrom('webhook_deliveries').select('status').execute();
      return rows.length === webhooks && rows.every((r) => r.status === 'succeeded') ? true : undefined;
    }, 45_000);
    expect(await metricValue(metricsUrl, 'connector_engine_webhook_circuits_open')).toBe(0);
    expect(await metricValue(metricsUrl, 'connector_engine_webhook_circuits_opened_total')).toBe(1);
  }, 90_000);
});
