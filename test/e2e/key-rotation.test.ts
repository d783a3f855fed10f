import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from '../../api/server.ts';
import { findFreePort } from '../../scripts/lib/local-services.ts';
import { loadConfig } from '../../shared/config.ts';
import { findMissingKeyIds } from '../../shared/connections/connection-status.ts';
import { openCredentials, sealCredentials } from '../../shared/connections/credentials.ts';
import { parseKeyring } from '../../shared/crypto/keyring.ts';
import { reencryptAll } from '../../shared/crypto/reencrypt.ts';
import { Vault } from '../../shared/crypto/vault.ts';
import { createDb, type Db } from '../../shared/db/database.ts';
import { newId } from '../../shared/ids.ts';
import { createLogger } from '../../shared/logger.ts';
import { startWorker } from '../../worker/worker-runner.ts';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type ApiClient, apiClient } from '../support/http.ts';
import { createTestDatabase, type TestDatabase, testRedisUrl } from '../support/services.ts';

const run = promisify(execFile);

/**
 * Key rotation: connections sealed under `k1`; the ring becomes `k2,k1`; `npm run cli --
 * keys:reencrypt` moves every row to `k2`; the engine then runs on `k2` alone. The command is
 * resumable and never loses a credentials update that races it.
 */
describe('encryption key rotation', () => {
  let fake: ResendFake;
  let database: TestDatabase;
  let redisUrl: string;
  let db: Db;
  const k1 = `k1:${randomBytes(32).toString('base64')}`;
  const k2 = `k2:${randomBytes(32).toString('base64')}`;
  const vaultK1 = new Vault(parseKeyring(k1));
  const vaultK2Only = new Vault(parseKeyring(k2));
  const workspaceKey = `ck_ws_${randomBytes(32).toString('base64url')}`;
  const email = { from: 'a@example.com', to: 'b@example.com', subject: 'Hi', text: 'Hello' };
  const logs: string[] = [];

  /** The api and one worker in this process, on a database this file keeps across restarts. */
  async function startEngine(keyring: string): Promise<{ admin: ApiClient; baseUrl: string; stop(): Promise<void> }> {
    const port = await findFreePort();
    const config = loadConfig({
      PORT: String(port),
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
      CONNECTORS_ENCRYPTION_KEYS: keyring,
      BOOTSTRAP_WORKSPACE_KEY: workspaceKey,
      RESEND_API_URL: fake.url,
      LOG_LEVEL: 'debug',
    });
    const vault = new Vault(parseKeyring(config.CONNECTORS_ENCRYPTION_KEYS));
    const sink = new Writable({
      write(chunk, _enc, done) {
        logs.push(String(chunk));
        done();
      },
    });
    const worker = await startWorker(config, vault, createLogger('worker', config.LOG_LEVEL, sink));
    const api = await startApi(config, vault, createLogger('api', config.LOG_LEVEL, sink));
    const baseUrl = `http://127.0.0.1:${port}`;
    return {
      baseUrl,
      admin: apiClient(baseUrl, workspaceKey),
      async stop() {
        await api.stop();
        await worker.stop();
      },
    };
  }

  const keyIds = async (table: 'connections' | 'webhooks' = 'connections') => {
    const column = table === 'connections' ? 'credentials_key_id' : 'secret_key_id';
    const { rows } = await sql<{
      kid: string;
    }>`select ${sql.ref(column)} as kid from ${sql.table(table)} order by id`.execute(db);
    return rows.map((r) => r.kid);
  };

  const webhooksTableExists = async () =>
    (
      await sql<{ n: number }>`select count(*)::int as n from information_schema.columns
        where table_schema = current_schema() and table_name = 'webhooks'
          and column_name in ('secret_key_id', 'secret_iv', 'secret_tag', 'secret_ciphertext')`.execute(db)
    ).rows[0]!.n === 4;

  /** A webhook row sealed like the webhooks code seals it (AAD = webhook id), when that table exists. */
  async function insertWebhook(vault: Vault, secret: string): Promise<string> {
    const ws = await db
      .selectFrom('api_keys')
      .select('workspace_id')
      .where('kind', '=', 'workspace')
      .executeTakeFirstOrThrow();
    const id = newId('webhook');
    const s = vault.seal(secret, id);
    await sql`insert into webhooks (id, workspace_id, url, events, secret_key_id, secret_iv, secret_tag, secret_ciphertext)
              values (${id}, ${ws.workspace_id}, 'https://hooks.example.com/in', '["connection.broken"]'::jsonb, ${s.keyId}, ${s.iv}, ${s.tag}, ${s.ciphertext})`.execute(
      db,
    );
    return id;
  }

  async function openWebhookSecret(vault: Vault, id: string): Promise<unknown> {
    const { rows } = await sql<{ k: string; iv: Buffer; tag: Buffer; c: Buffer }>`
      select secret_key_id as k, secret_iv as iv, secret_tag as tag, secret_ciphertext as c from webhooks where id = ${id}`.execute(
      db,
    );
    const r = rows[0]!;
    return vault.open({ keyId: r.k, iv: r.iv, tag: r.tag, ciphertext: r.c }, id);
  }

  const credentialsOf = async (vault: Vault, id: string) =>
    openCredentials(
      vault,
      await db.selectFrom('connections').selectAll().where('id', '=', id).executeTakeFirstOrThrow(),
    );

  beforeAll(async () => {
    fake = await startResendFake({ rateLimitPerSecond: 1000 });
    database = await createTestDatabase();
    redisUrl = await testRedisUrl();
    db = createDb(database.url, { max: 4 });
  });

  afterAll(async () => {
    await db?.destroy();
    await database?.drop();
    await fake?.close();
  });

  describe('the keys:reencrypt command, end to end', () => {
    const connectionIds: string[] = [];
    let projectKey: string;
    let boundConnectionId: string;
    let webhookId: string | undefined;
    const webhookSecret = `whsec_${randomBytes(24).toString('base64url')}`;
    const versionsBefore = new Map<string, { version: number; updatedAt: string }>();

    beforeAll(async () => {
      // 1. Under k1 alone: a project, a key, 12 connections (distinct credentials), one bound.
      const engine = await startEngine(k1);
      try {
        const project = await engine.admin.post('/v1/projects', { displayName: 'Rotation' });
        projectKey = (await engine.admin.post(`/v1/projects/${project.body.id}/api-keys`, {})).body.key;
        for (let i = 0; i < 12; i++) {
          const apiKey = `re_rotation_${String(i).padStart(2, '0')}_${randomBytes(8).toString('hex')}`;
          fake.addKey(apiKey, 'full');
          const conn = await engine.admin.post('/v1/connections', {
            connectorId: 'resend',
            displayName: `c${i}`,
            credentials: { apiKey },
            ...(i === 5 ? { projectIds: [project.body.id] } : {}),
          });
          expect(conn.status).toBe(201);
          connectionIds.push(conn.body.id);
          if (i === 5) boundConnectionId = conn.body.id;
        }
        // One connection updated once, so versions differ between rows.
        await engine.admin.patch(`/v1/connections/${connectionIds[3]}`, {
          credentials: { apiKey: RESEND_FAKE_FULL_KEY },
        });
        const res = await apiClient(engine.baseUrl, projectKey).post('/v1/executions', {
          connectorId: 'resend',
          actionId: 'sendEmail',
          input: email,
        });
        expect(res.status).toBe(200);
        if (await webhooksTableExists()) webhookId = await insertWebhook(vaultK1, webhookSecret);
      } finally {
        await engine.stop();
      }
      expect(new Set(await keyIds())).toEqual(new Set(['k1']));
      for (const row of await db
        .selectFrom('connections')
        .select(['id', 'credentials_version', 'updated_at'])
        .execute()) {
        versionsBefore.set(row.id, { version: row.credentials_version, updatedAt: row.updated_at.toISOString() });
      }
    }, 60_000);

    it('keeps working on ring k2,k1 before the re-encryption (old rows decrypt with k1, new ones seal with k2)', async () => {
      const engine = await startEngine(`${k2},${k1}`);
      try {
        const res = await apiClient(engine.baseUrl, projectKey).post('/v1/executions', {
          connectorId: 'resend',
          actionId: 'sendEmail',
          input: email,
        });
        expect(res.status).toBe(200);
        const created = await engine.admin.post('/v1/connections', {
          connectorId: 'resend',
          displayName: 'new',
          credentials: { apiKey: RESEND_FAKE_FULL_KEY },
        });
        expect(created.status).toBe(201);
        const row = await db
          .selectFrom('connections')
          .select('credentials_key_id')
          .where('id', '=', created.body.id)
          .executeTakeFirstOrThrow();
        expect(row.credentials_key_id).toBe('k2');
        // Start-up on k2 alone would be refused now: rows still need k1.
        expect(await findMissingKeyIds(db, (kid) => kid === 'k2')).toEqual(['k1']);
      } finally {
        await engine.stop();
      }
    });

    it('re-encrypts every row with k2 as a process, in batches, printing progress and a final count', async () => {
      const { stdout, stderr } = await run(
        'npm',
        ['run', '--silent', 'cli', '--', 'keys:reencrypt', '--batch-size', '5'],
        {
          cwd: process.cwd(),
          env: {
            PATH: process.env.PATH ?? '',
            HOME: process.env.HOME ?? '',
            DATABASE_URL: database.url,
            CONNECTORS_ENCRYPTION_KEYS: `${k2},${k1}`,
          },
          timeout: 30_000,
        },
      );
      const webhooks = webhookId ? 1 : 0;
      expect(stdout).toContain('re-encrypting stored secrets with the active key "k2" (batches of 5)');
      // 12 rows on k1 (and the webhook's), batches of 5. Not a terminal: plain lines at most every
      // few seconds, so the first batch's and the final count.
      expect(stdout).toContain(`re-sealed 5 / ${12 + webhooks} secrets\n`);
      expect(stdout).toContain(`re-sealed ${12 + webhooks} / ${12 + webhooks} secrets\n`);
      expect(stdout).not.toContain('\r');
      expect(stdout).toContain(
        'connections: 12 re-encrypted, 0 skipped, 0 concurrent update(s) retried, 0 failed, 0 still on other keys',
      );
      expect(stdout).toContain(
        `done: ${12 + webhooks} secret(s) re-encrypted with key "k2"; 0 failed; 0 still on other keys`,
      );
      // Nothing secret in what the operator sees.
      for (const s of [k1.slice(3), k2.slice(3), RESEND_FAKE_FULL_KEY, webhookSecret])
        expect(stdout + stderr).not.toContain(s);

      expect(new Set(await keyIds())).toEqual(new Set(['k2']));
      expect(await findMissingKeyIds(db, (kid) => kid === 'k2')).toEqual([]);
      // Same credentials: neither the version (in-flight calls keep their claim) nor updated_at moved.
      for (const row of await db
        .selectFrom('connections')
        .select(['id', 'credentials_version', 'updated_at'])
        .where('id', 'in', connectionIds)
        .execute()) {
        expect({ version: row.credentials_version, updatedAt: row.updated_at.toISOString() }).toEqual(
          versionsBefore.get(row.id),
        );
      }
      for (const id of connectionIds) expect((await credentialsOf(vaultK2Only, id)).apiKey).toMatch(/^re_/);
      if (webhookId) {
        expect(await keyIds('webhooks')).toEqual(['k2']);
        expect(await openWebhookSecret(vaultK2Only, webhookId)).toBe(webhookSecret);
      }
    });

    it('does nothing on a second run', async () => {
      const { stdout } = await run('npm', ['run', '--silent', 'cli', '--', 'keys:reencrypt'], {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          DATABASE_URL: database.url,
          CONNECTORS_ENCRYPTION_KEYS: `${k2},${k1}`,
        },
        timeout: 30_000,
      });
      expect(stdout).toContain('done: 0 secret(s) re-encrypted with key "k2"; 0 failed; 0 still on other keys');
    });

    it('runs on ring k2 alone afterwards: calls, credential tests and updates work', async () => {
      const engine = await startEngine(k2);
      try {
        const client = apiClient(engine.baseUrl, projectKey);
        const res = await client.post('/v1/executions', { connectorId: 'resend', actionId: 'sendEmail', input: email });
        expect(res.status).toBe(200);
        expect((await client.get(`/v1/invocations/${res.body.invocationId}`)).body.connectionId).toBe(
          boundConnectionId,
        );
        const tested = await engine.admin.post(`/v1/connections/${connectionIds[7]}/test`);
        expect(tested.body.status).toBe('active');
      } finally {
        await engine.stop();
      }
    });

    it('refuses a bad keyring without echoing it', async () => {
      const err = await run('npm', ['run', '--silent', 'cli', '--', 'keys:reencrypt'], {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          DATABASE_URL: database.url,
          CONNECTORS_ENCRYPTION_KEYS: 'k3:c2hvcnQ=',
        },
        timeout: 30_000,
      }).catch((e: { code: number; stderr: string }) => e);
      expect((err as { code: number }).code).toBe(78);
      expect((err as { stderr: string }).stderr).toMatch(
        /config error: CONNECTORS_ENCRYPTION_KEYS: key "k3" must be 32 bytes/,
      );
      expect((err as { stderr: string }).stderr).not.toContain('c2hvcnQ=');
    });
  });

  describe('reencryptAll, against concurrent writers', () => {
    const ring = () => new Vault(parseKeyring(`${k2},${k1}`));

    /** Connections sealed with k1 directly in the database (no engine needed). */
    async function seedK1(count: number): Promise<string[]> {
      const ws = newId('workspace');
      await db.insertInto('workspaces').values({ id: ws, name: 'seed' }).execute();
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        const id = newId('connection');
        await db
          .insertInto('connections')
          .values({
            id,
            workspace_id: ws,
            connector_id: 'resend',
            display_name: `seed ${i}`,
            status: 'active',
            ...sealCredentials(vaultK1, id, { apiKey: `re_seed_${i}_old_credentials` }),
            credentials_hint: '{}',
          })
          .execute();
        ids.push(id);
      }
      return ids;
    }

    const version = async (id: string) =>
      (await db.selectFrom('connections').select('credentials_version').where('id', '=', id).executeTakeFirstOrThrow())
        .credentials_version;

    it('never overwrites a credentials update that lands between its read and its write', async () => {
      const ids = await seedK1(6);
      const [viaApiStyle, viaOldRing] = [ids[1]!, ids[4]!];
      const vault = ring();
      const raced = new Set<string>();
      const report = await reencryptAll(db, vault, {
        batchSize: 4,
        beforeWrite: async (_table, id) => {
          if (raced.has(id)) return; // one concurrent update per row
          raced.add(id);
          // A PATCH on a process with the new ring: sealed with k2, version bumped.
          if (id === viaApiStyle) {
            await db
              .updateTable('connections')
              .set({
                ...sealCredentials(vault, id, { apiKey: 're_new_from_patch_k2' }),
                credentials_version: sql<number>`credentials_version + 1`,
              })
              .where('id', '=', id)
              .execute();
          }
          // A process still on the old ring writes new credentials sealed with k1.
          if (id === viaOldRing) {
            await db
              .updateTable('connections')
              .set({
                ...sealCredentials(vaultK1, id, { apiKey: 're_new_from_old_ring_k1' }),
                credentials_version: sql<number>`credentials_version + 1`,
              })
              .where('id', '=', id)
              .execute();
          }
        },
      });
      const connections = report.tables.find((t) => t.label === 'connections')!;
      // Both updates survive, and are now sealed with k2.
      expect((await credentialsOf(vaultK2Only, viaApiStyle)).apiKey).toBe('re_new_from_patch_k2');
      expect((await credentialsOf(vaultK2Only, viaOldRing)).apiKey).toBe('re_new_from_old_ring_k1');
      expect(connections.conflicts).toBe(2);
      expect(connections.remaining).toBe(0);
      expect(await version(viaApiStyle)).toBe(2);
      expect(await version(viaOldRing)).toBe(2);
      for (const id of ids.filter((i) => i !== viaApiStyle && i !== viaOldRing)) {
        expect((await credentialsOf(vaultK2Only, id)).apiKey).toMatch(/^re_seed_\d_old_credentials$/);
        expect(await version(id)).toBe(1);
      }
    });

    it('resumes after being stopped half-way, doing only what is left', async () => {
      const ids = await seedK1(9);
      let writes = 0;
      const crash = reencryptAll(db, ring(), {
        batchSize: 2,
        beforeWrite: async () => {
          if (++writes > 5) throw new Error('killed');
        },
      });
      await expect(crash).rejects.toThrow('killed');
      const kidsOfSeed = async () =>
        (
          await db.selectFrom('connections').select('credentials_key_id').where('id', 'in', ids).orderBy('id').execute()
        ).map((r) => r.credentials_key_id);
      expect(await kidsOfSeed()).toEqual(['k2', 'k2', 'k2', 'k2', 'k2', 'k1', 'k1', 'k1', 'k1']);
      const resumed = await reencryptAll(db, ring(), { batchSize: 2 });
      expect(resumed.tables[0]!.reencrypted).toBe(4);
      expect(await kidsOfSeed()).toEqual(Array(9).fill('k2'));
    });

    it('reports a row it cannot open by id, leaves it alone, and finishes the others', async () => {
      const ids = await seedK1(3);
      await db
        .updateTable('connections')
        .set({ credentials_tag: randomBytes(16) })
        .where('id', '=', ids[1]!)
        .execute();
      const report = await reencryptAll(db, ring());
      const connections = report.tables[0]!;
      expect(connections.failed).toEqual([{ id: ids[1], reason: 'ciphertext failed authentication' }]);
      expect(connections.remaining).toBe(1);
      expect((await credentialsOf(vaultK2Only, ids[2]!)).apiKey).toBe('re_seed_2_old_credentials');
      await db.deleteFrom('connections').where('id', '=', ids[1]!).execute();
    });
  });
});
