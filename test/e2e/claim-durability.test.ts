import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../shared/db/database.ts';
import { REPEATABLE_CLAIMS_APPLICATION } from '../../worker/execute/execute-processor.ts';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import {
  startTwilioFake,
  TWILIO_FAKE_ACCOUNT_SID,
  TWILIO_FAKE_AUTH_TOKEN,
  type TwilioFake,
} from '../fakes/twilio/twilio-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';

/**
 * A claim must be durable before the upstream call only when running the call twice could do harm
 * (docs/decisions/0020): a write the upstream does not dedupe. The claims of reads and deduped writes
 * go through a connection that commits without waiting for the WAL flush.
 */
describe('how durable a claim is', () => {
  let resend: ResendFake;
  let twilio: TwilioFake;
  let engine: Engine;
  let pgClient: pg.Client;
  let resendClient: ApiClient;
  let twilioClient: ApiClient;

  beforeAll(async () => {
    resend = await startResendFake({ rateLimitPerSecond: 1000 });
    twilio = await startTwilioFake();
    engine = await startEngine({ env: { RESEND_API_URL: resend.url, TWILIO_API_URL: twilio.url } });
    const admin = apiClient(engine.baseUrl, engine.workspaceKey);
    const resendSetup = await setUpProject(admin, {
      connectorId: 'resend',
      credentials: { apiKey: RESEND_FAKE_FULL_KEY },
    });
    resendClient = apiClient(engine.baseUrl, resendSetup.projectKey);
    const twilioSetup = await setUpProject(admin, {
      connectorId: 'twilio',
      credentials: { accountSid: TWILIO_FAKE_ACCOUNT_SID, authToken: TWILIO_FAKE_AUTH_TOKEN },
    });
    twilioClient = apiClient(engine.baseUrl, twilioSetup.projectKey);
    pgClient = new pg.Client({ connectionString: engine.database.url });
    await pgClient.connect();
  }, 90_000);

  afterAll(async () => {
    await pgClient?.end();
    await engine?.stop();
    await resend?.close();
    await twilio?.close();
  });

  /** The statements the repeatable-claims connection of the worker ran last (none before its first). */
  async function lastRepeatableClaim(): Promise<string[]> {
    const res = await pgClient.query<{ query: string }>(
      'select query from pg_stat_activity where datname = current_database() and application_name = $1',
      [REPEATABLE_CLAIMS_APPLICATION],
    );
    return res.rows.map((r) => r.query);
  }

  it('claims a write the upstream does not dedupe durably, and a deduped one without waiting for the flush', async () => {
    // Twilio's sendSms has no idempotency key: its claim must be flushed before the text goes out.
    const sms = await twilioClient.post('/v1/executions', {
      connectorId: 'twilio',
      actionId: 'sendSms',
      input: { to: '+14155552671', from: '+15005550006', body: 'Your order has shipped.' },
    });
    expect(sms.status, JSON.stringify(sms.body)).toBe(200);
    expect(await lastRepeatableClaim()).toEqual([]);

    // Resend dedupes a send by the Idempotency-Key we derive from the invocation: run twice, it sends once.
    const email = await resendClient.post('/v1/executions', {
      connectorId: 'resend',
      actionId: 'sendEmail',
      input: { from: 'Shop <orders@example.com>', to: ['ada@example.com'], subject: 'Hi', text: 'Thanks!' },
    });
    expect(email.status, JSON.stringify(email.body)).toBe(200);
    const queries = await lastRepeatableClaim();
    expect(queries).toHaveLength(1);
    expect(queries[0]).toMatch(/set status = 'running'/);

    // Both rows are claimed and finished the same way.
    const rows = await pgClient.query<{ status: string; attempts: number }>(
      'select status, attempts from invocations where id = any($1) order by id',
      [[sms.body.invocationId, email.body.invocationId]],
    );
    expect(rows.rows).toEqual([
      { status: 'succeeded', attempts: 1 },
      { status: 'succeeded', attempts: 1 },
    ]);
  });

  describe('a pool with asyncCommit', () => {
    const pools: Db[] = [];
    const setting = async (options: Parameters<typeof createDb>[1]) => {
      const db = createDb(engine.database.url, { max: 1, ...options });
      pools.push(db);
      const res = await sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(db);
      return res.rows[0]!.synchronous_commit;
    };
    afterAll(async () => {
      await Promise.all(pools.map((p) => p.destroy()));
    });

    it('commits without waiting for the flush; every other pool waits', async () => {
      // The test server may run with synchronous_commit off for speed: this database waits, as in production.
      await pgClient.query(`alter database "${engine.database.name}" set synchronous_commit = on`);
      expect(await setting({ asyncCommit: true })).toBe('off');
      expect(await setting({ asyncCommit: true, indexLookupsOnly: true })).toBe('off');
      expect(await setting({})).toBe('on');
      // Behind a transaction-pooling proxy (prepared statements off) no startup option is sent:
      // the commits stay durable.
      expect(await setting({ asyncCommit: true, preparedStatements: false })).toBe('on');
    });
  });
});
