import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPostgresBinDir } from '../../scripts/lib/local-services.ts';
import { type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine, waitForLog } from '../support/engine.ts';
import { type ApiClient, apiClient } from '../support/http.ts';

/**
 * No plaintext secret may be found in Redis, in a dump of Postgres, or in any log line: a whole
 * scenario runs (connections created, updated, re-tested, used sync and async, failing and
 * succeeding), then all three are searched for every secret the test handed the engine.
 */
describe('secrets never leave the vault', () => {
  let fake: ResendFake;
  let engine: Engine;
  let admin: ApiClient;
  const resendKey = 're_secret_live_key_A1b2C3d4E5f6G7h8';
  const rotatedKey = 're_secret_rotated_key_Z9y8X7w6V5u4';
  const badKey = 're_secret_bad_key_Q1w2E3r4T5y6U7';
  const secrets: string[] = [resendKey, rotatedKey, badKey];
  const run = promisify(execFile);

  beforeAll(async () => {
    fake = await startResendFake({ rateLimitPerSecond: 1000 });
    fake.addKey(resendKey, 'full');
    fake.addKey(rotatedKey, 'full');
    engine = await startEngine({
      mode: 'processes',
      workers: 1,
      env: { RESEND_API_URL: fake.url, LOG_LEVEL: 'trace' },
    });
    await waitForLog(engine, /worker ready/);
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    secrets.push(engine.workspaceKey, engine.env.CONNECTORS_ENCRYPTION_KEYS!.split(':')[1]!);

    const project = await admin.post('/v1/projects', { displayName: 'Secrets' });
    const key = await admin.post(`/v1/projects/${project.body.id}/api-keys`, {});
    secrets.push(key.body.key);
    const client = apiClient(engine.baseUrl, key.body.key);
    const conn = await admin.post('/v1/connections', {
      connectorId: 'resend',
      displayName: 'Main',
      credentials: { apiKey: resendKey },
      projectIds: [project.body.id],
    });
    expect(conn.body.status).toBe('active');
    await admin.post('/v1/connections', { connectorId: 'resend', displayName: 'Bad', credentials: { apiKey: badKey } });
    // A malformed credential is rejected without echoing it.
    const malformed = await admin.post('/v1/connections', {
      connectorId: 'resend',
      displayName: 'X',
      credentials: { apiKey: `not-${badKey}` },
    });
    expect(malformed.status).toBe(400);
    expect(JSON.stringify(malformed.body)).not.toContain(badKey);

    const email = { from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' };
    expect(
      (await client.post('/v1/executions', { connectorId: 'resend', actionId: 'sendEmail', input: email })).status,
    ).toBe(200);
    await client.post(
      '/v1/executions',
      { connectorId: 'resend', actionId: 'listDomains', input: {} },
      { prefer: 'respond-async' },
    );
    fake.failNext(1, { status: 500, name: 'application_error', message: 'boom' });
    await client.post('/v1/executions', { connectorId: 'resend', actionId: 'listDomains', input: {} });
    await admin.patch(`/v1/connections/${conn.body.id}`, { credentials: { apiKey: rotatedKey } });
    await admin.post(`/v1/connections/${conn.body.id}/test`);
    fake.revokeKey(rotatedKey);
    const revoked = await client.post('/v1/executions', { connectorId: 'resend', actionId: 'sendEmail', input: email });
    expect(revoked.status).toBe(409);
    // Let async work finish and its logs flush.
    await new Promise((r) => setTimeout(r, 1_000));
  }, 90_000);

  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
  });

  const findSecrets = (haystack: string) => secrets.filter((s) => haystack.includes(s));

  it('holds no secret in Redis keys or values', async () => {
    const redis = new Redis(engine.redisUrl);
    try {
      const keys = await redis.keys('*');
      expect(keys.length).toBeGreaterThan(0); // the queue is there: we are searching the right place
      let dump = keys.join('\n');
      for (const key of keys) {
        const type = await redis.type(key);
        const value =
          type === 'string'
            ? await redis.get(key)
            : type === 'hash'
              ? JSON.stringify(await redis.hgetall(key))
              : type === 'list'
                ? (await redis.lrange(key, 0, -1)).join('\n')
                : type === 'set'
                  ? (await redis.smembers(key)).join('\n')
                  : type === 'zset'
                    ? (await redis.zrange(key, 0, -1)).join('\n')
                    : type === 'stream'
                      ? JSON.stringify(await redis.xrange(key, '-', '+'))
                      : '';
        dump += `\n${value}`;
      }
      expect(dump).toContain('sendEmail'); // job data is in there
      expect(findSecrets(dump)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('holds no secret in a dump of Postgres', async () => {
    const binDir = findPostgresBinDir();
    let dump: string;
    if (binDir && existsSync(join(binDir, 'pg_dump'))) {
      dump = (
        await run(join(binDir, 'pg_dump'), ['--dbname', engine.database.url, '--data-only'], { maxBuffer: 64 << 20 })
      ).stdout;
    } else {
      // Without the client binaries (a container-only set-up), every row of every table as text.
      const client = new pg.Client({ connectionString: engine.database.url });
      await client.connect();
      const tables = await client.query<{ tablename: string }>(
        "select tablename from pg_tables where schemaname = 'public'",
      );
      dump = '';
      for (const { tablename } of tables.rows)
        dump += JSON.stringify((await client.query(`select t::text from "${tablename}" t`)).rows);
      await client.end();
    }
    expect(dump).toContain('conn_'); // connections are in there
    expect(findSecrets(dump)).toEqual([]);
  });

  it('writes no secret to any log line', () => {
    const logs = engine.logs();
    expect(logs).toContain('invocation succeeded');
    expect(logs).toContain('connection marked broken');
    expect(findSecrets(logs)).toEqual([]);
  });

  it('shows at most the last 4 characters of a secret in responses', async () => {
    const list = await admin.get('/v1/connections');
    const text = JSON.stringify(list.body);
    expect(findSecrets(text)).toEqual([]);
    expect(list.body.data.map((c: { credentialsHint: { apiKey: string } }) => c.credentialsHint.apiKey)).toContain(
      `…${rotatedKey.slice(-4)}`,
    );
  });
});
