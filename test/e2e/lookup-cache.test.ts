import { Writable } from 'node:stream';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RunningApi, startApi } from '../../api/server.ts';
import { findFreePort } from '../../scripts/lib/local-services.ts';
import { createWorkspace } from '../../shared/auth/workspaces.ts';
import { LOOKUP_INVALIDATION_CHANNEL } from '../../shared/cache/lookup-invalidation.ts';
import { LISTENER_APPLICATION_NAME } from '../../shared/cache/lookup-invalidation-listener.ts';
import { loadConfig } from '../../shared/config.ts';
import { parseKeyring } from '../../shared/crypto/keyring.ts';
import { Vault } from '../../shared/crypto/vault.ts';
import { createDb, type Db } from '../../shared/db/database.ts';
import { createLogger } from '../../shared/logger.ts';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';
import { eventually } from '../support/webhooks.ts';

/**
 * The api's lookup cache (docs/decisions/0016-lookup-cache.md): keys and call targets are served
 * from memory, and every change reaches it, whoever makes it. The api runs as its own OS process,
 * so the worker's and this file's writes reach it only through Postgres notifications.
 */

const email = { from: 'a@example.com', to: 'b@example.com', subject: 'Hi', text: 'Hello' };

/** The api's lookup-cache counters, by `<cache>:<result>`. */
async function cacheCounts(baseUrl: string): Promise<(cache: string, ...results: string[]) => number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const counts = new Map<string, number>();
  for (const m of text.matchAll(
    /^connector_engine_lookup_cache_requests_total\{cache="(\w+)",result="(\w+)"\} (\d+)$/gm,
  ))
    counts.set(`${m[1]}:${m[2]}`, Number(m[3]));
  return (cache, ...results) => results.reduce((n, r) => n + (counts.get(`${cache}:${r}`) ?? 0), 0);
}

/** Polls until `check` holds (test/support/webhooks.ts's `eventually`: generous, the machine is shared). */
const until = (check: () => Promise<boolean>) => eventually(async () => ((await check()) ? true : undefined));

describe('the lookup cache', () => {
  let fake: ResendFake;
  let engine: Engine;
  let admin: ApiClient;
  let db: Db;

  beforeAll(async () => {
    fake = await startResendFake({ rateLimitPerSecond: 1000 });
    engine = await startEngine({ mode: 'processes', workers: 1, env: { RESEND_API_URL: fake.url } });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    db = createDb(engine.database.url, { max: 2 });
  });
  afterAll(async () => {
    await db?.destroy();
    await engine?.stop();
    await fake?.close();
  });

  const send = (client: ApiClient, body: Record<string, unknown> = {}) =>
    client.post('/v1/executions?timeoutMs=10000', {
      connectorId: 'resend',
      actionId: 'sendEmail',
      input: email,
      ...body,
    });

  /** Calls until the api (at `baseUrl`, the engine's by default) answers `client`'s key (and, with `execute`, its call target) from memory. */
  async function servedFromMemory(client: ApiClient, execute = false, baseUrl = engine.baseUrl): Promise<void> {
    await until(async () => {
      const earlier = await cacheCounts(baseUrl);
      const res = execute ? await send(client) : await client.get('/v1/invocations?limit=1');
      expect(res.status).toBe(200);
      const later = await cacheCounts(baseUrl);
      return (
        later('api_key', 'hit') > earlier('api_key', 'hit') &&
        (!execute || later('target', 'hit') > earlier('target', 'hit'))
      );
    });
  }

  const setUp = () => setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: RESEND_FAKE_FULL_KEY } });

  it('answers repeated calls without looking the key or the target up again', async () => {
    const { projectKey } = await setUp();
    const client = apiClient(engine.baseUrl, projectKey);
    await servedFromMemory(client, true);
    const earlier = await cacheCounts(engine.baseUrl);
    for (let i = 0; i < 5; i++) expect((await send(client)).status).toBe(200);
    const later = await cacheCounts(engine.baseUrl);
    expect(later('api_key', 'hit') - earlier('api_key', 'hit')).toBe(5);
    expect(later('target', 'hit') - earlier('target', 'hit')).toBe(5);
    // Nothing went to Postgres for them.
    expect(later('api_key', 'miss', 'bypass')).toBe(earlier('api_key', 'miss', 'bypass'));
    expect(later('target', 'miss', 'bypass')).toBe(earlier('target', 'miss', 'bypass'));
  });

  it('has Postgres name each row a cached lookup read when it changes, and stay quiet otherwise', async () => {
    const listener = new pg.Client({ connectionString: engine.database.url });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (m) => {
      if (m.payload && !m.payload.startsWith('ping:')) heard.push(m.payload);
    });
    await listener.query(`LISTEN ${LOOKUP_INVALIDATION_CHANNEL}`);
    /** Everything heard up to a mark of our own (notifications arrive in commit order), then forgotten. */
    const heardUntilMark = async (mark: string) => {
      await sql`select pg_notify(${LOOKUP_INVALIDATION_CHANNEL}, ${mark})`.execute(db);
      await until(async () => heard.includes(mark));
      return heard.splice(0).filter((p) => p !== mark);
    };
    try {
      const { projectId, connectionId } = await setUp();
      const { id: keyId } = await db
        .selectFrom('api_keys')
        .select('id')
        .where('project_id', '=', projectId)
        .executeTakeFirstOrThrow();
      const other = await createWorkspace(db, 'deleted soon');
      const { id: otherKeyId } = await db
        .selectFrom('api_keys')
        .select('id')
        .where('workspace_id', '=', other.workspaceId)
        .executeTakeFirstOrThrow();
      await heardUntilMark('mark:set-up');

      // What no lookup reads: the health-check schedule, a credentials refresh.
      await db
        .updateTable('connections')
        .set({ next_health_check_at: new Date(), credentials_version: sql`credentials_version + 1` })
        .where('id', '=', connectionId)
        .execute();
      expect(await heardUntilMark('mark:quiet')).toEqual([]);

      await db.updateTable('connections').set({ status: 'broken' }).where('id', '=', connectionId).execute();
      await db.updateTable('projects').set({ max_running_calls: 3 }).where('id', '=', projectId).execute();
      await db.updateTable('api_keys').set({ revoked_at: new Date() }).where('id', '=', keyId).execute();
      await db.deleteFrom('project_connections').where('project_id', '=', projectId).execute();
      await db
        .insertInto('project_connections')
        .values({ project_id: projectId, connection_id: connectionId })
        .execute();
      expect(await heardUntilMark('mark:changes')).toEqual([
        `connections:${connectionId}`,
        `projects:${projectId}`,
        `api_keys:${keyId}`,
        `projects:${projectId}`,
        `projects:${projectId}`,
      ]);

      await db.deleteFrom('workspaces').where('id', '=', other.workspaceId).execute();
      expect((await heardUntilMark('mark:workspace')).sort()).toEqual(
        [`api_keys:${otherKeyId}`, `workspaces:${other.workspaceId}`].sort(),
      );
    } finally {
      await listener.end();
    }
  });

  it('refuses a key revoked through the API on the very next call', async () => {
    const { projectId } = await setUp();
    const created = await admin.post(`/v1/projects/${projectId}/api-keys`, { name: 'short-lived' });
    const client = apiClient(engine.baseUrl, created.body.key);
    await servedFromMemory(client, true);
    expect((await admin.delete(`/v1/projects/${projectId}/api-keys/${created.body.id}`)).status).toBe(204);
    expect((await client.get('/v1/invocations?limit=1')).status).toBe(401);
    const call = await send(client);
    expect(call.status).toBe(401);
    expect(call.body.error.code).toBe('unauthenticated');
  });

  it('refuses a key revoked directly in Postgres (another process) within a short poll', async () => {
    const { projectKey, projectId } = await setUp();
    const client = apiClient(engine.baseUrl, projectKey);
    await servedFromMemory(client);
    await db.updateTable('api_keys').set({ revoked_at: new Date() }).where('project_id', '=', projectId).execute();
    await until(async () => (await client.get('/v1/invocations?limit=1')).status === 401);
  });

  it('sees a connection broken by the worker or in Postgres, and one repaired through the API at once', async () => {
    const key = 're_lookup_cache_breaks_000001';
    fake.addKey(key, 'full');
    const { projectKey, connectionId } = await setUpProject(admin, {
      connectorId: 'resend',
      credentials: { apiKey: key },
    });
    const client = apiClient(engine.baseUrl, projectKey);
    await servedFromMemory(client, true);
    // The upstream rejects the key: the worker's breaker marks the connection broken.
    fake.revokeKey(key);
    await send(client);
    await until(async () => (await send(client)).body.error?.code === 'connection_broken');
    // Repaired through this api: the next call runs.
    const repaired = await admin.patch(`/v1/connections/${connectionId}`, {
      credentials: { apiKey: RESEND_FAKE_FULL_KEY },
    });
    expect(repaired.body.status).toBe('active');
    expect((await send(client)).status).toBe(200);
    await servedFromMemory(client, true);
    // Broken by someone else, straight in the table.
    await db
      .updateTable('connections')
      .set({ status: 'broken', status_reason: 'marked by an operator' })
      .where('id', '=', connectionId)
      .execute();
    await until(async () => {
      const res = await send(client);
      return res.body.error?.code === 'connection_broken' && res.body.error.message.includes('marked by an operator');
    });
  });

  it("applies a project's changed limits: through the API at once, in Postgres within a short poll", async () => {
    const { projectKey, projectId } = await setUp();
    const client = apiClient(engine.baseUrl, projectKey);
    await servedFromMemory(client, true);
    expect((await admin.patch(`/v1/projects/${projectId}`, { rateLimits: { resend: 1 } })).status).toBe(200);
    const limited = await send(client);
    expect(limited.status).toBe(429);
    expect(limited.body.error.details).toMatchObject({ limitPerMinute: 1 });
    await db
      .updateTable('projects')
      .set({ rate_limits: JSON.stringify({ resend: 600 }) })
      .where('id', '=', projectId)
      .execute();
    await until(async () => (await send(client)).status === 200);
  });

  it('applies bindings through the API at once: unbound, bound again, a second connection', async () => {
    const { projectKey, projectId, connectionId } = await setUp();
    const client = apiClient(engine.baseUrl, projectKey);
    await servedFromMemory(client, true);
    expect((await admin.delete(`/v1/projects/${projectId}/connections/${connectionId}`)).status).toBe(204);
    expect((await send(client)).body.error.code).toBe('no_connection');
    expect((await admin.put(`/v1/projects/${projectId}/connections/${connectionId}`)).status).toBe(204);
    expect((await send(client)).status).toBe(200);
    await servedFromMemory(client, true);
    const second = await admin.post('/v1/connections', {
      connectorId: 'resend',
      displayName: 'second',
      credentials: { apiKey: RESEND_FAKE_FULL_KEY },
      projectIds: [projectId],
    });
    expect(second.status).toBe(201);
    expect((await send(client)).body.error.code).toBe('ambiguous_connection');
    expect((await send(client, { connectionId })).status).toBe(200);
  });

  describe('with a second api process', () => {
    let other: RunningApi;
    let otherUrl: string;

    beforeAll(async () => {
      const port = await findFreePort();
      const config = loadConfig({ ...engine.env, PORT: String(port) });
      const quiet = new Writable({ write: (_chunk, _enc, done) => done() });
      other = await startApi(
        config,
        new Vault(parseKeyring(config.CONNECTORS_ENCRYPTION_KEYS)),
        createLogger('api', 'warn', quiet),
      );
      otherUrl = `http://127.0.0.1:${port}`;
    });
    afterAll(async () => {
      await other?.stop();
    });

    it("applies the other's revocations and unbindings within a short poll", async () => {
      const { projectKey, projectId, connectionId } = await setUp();
      const client = apiClient(engine.baseUrl, projectKey);
      await servedFromMemory(client, true);
      const viaOther = apiClient(otherUrl, engine.workspaceKey);
      expect((await viaOther.delete(`/v1/projects/${projectId}/connections/${connectionId}`)).status).toBe(204);
      await until(async () => (await send(client)).body.error?.code === 'no_connection');

      const key = await admin.post(`/v1/projects/${projectId}/api-keys`, {});
      const keyed = apiClient(engine.baseUrl, key.body.key);
      await servedFromMemory(keyed);
      expect((await viaOther.delete(`/v1/projects/${projectId}/api-keys/${key.body.id}`)).status).toBe(204);
      await until(async () => (await keyed.get('/v1/invocations?limit=1')).status === 401);
    });

    it('answers right after its own writes even when their notifications come late', async () => {
      // The other api runs in this test process: hold back the change notifications its listener
      // receives (not its heartbeat), so only its own synchronous invalidation can drop what it cached.
      const held: Array<() => void> = [];
      const emit = pg.Client.prototype.emit;
      const spy = vi.spyOn(pg.Client.prototype, 'emit').mockImplementation(function (
        this: pg.Client,
        event: string | symbol,
        ...args: unknown[]
      ) {
        const payload = (args[0] as { payload?: string } | undefined)?.payload ?? '';
        if (event !== 'notification' || payload.startsWith('ping:')) return emit.call(this, event, ...args);
        held.push(() => emit.call(this, event, ...args));
        return true;
      });
      try {
        const viaOther = apiClient(otherUrl, engine.workspaceKey);
        const { projectKey, projectId, connectionId } = await setUpProject(viaOther, {
          connectorId: 'resend',
          credentials: { apiKey: RESEND_FAKE_FULL_KEY },
        });
        const client = apiClient(otherUrl, projectKey);
        await servedFromMemory(client, true, otherUrl);
        expect((await viaOther.patch(`/v1/projects/${projectId}`, { rateLimits: { resend: 1 } })).status).toBe(200);
        expect((await send(client)).status).toBe(429);
        expect((await viaOther.delete(`/v1/projects/${projectId}/connections/${connectionId}`)).status).toBe(204);
        expect((await send(client)).body.error.code).toBe('no_connection');
        const key = await viaOther.post(`/v1/projects/${projectId}/api-keys`, {});
        const keyed = apiClient(otherUrl, key.body.key);
        await servedFromMemory(keyed, false, otherUrl);
        expect((await viaOther.delete(`/v1/projects/${projectId}/api-keys/${key.body.id}`)).status).toBe(204);
        expect((await keyed.get('/v1/invocations?limit=1')).status).toBe(401);
        expect(held.length).toBeGreaterThan(0); // the notifications were indeed held back
      } finally {
        spy.mockRestore();
        for (const deliver of held) deliver();
      }
    });
  });

  it('serves nothing stale while its LISTEN connection is down, and serves from memory again once back', async () => {
    const revoked = await setUp();
    const kept = await setUp();
    const revokedClient = apiClient(engine.baseUrl, revoked.projectKey);
    const keptClient = apiClient(engine.baseUrl, kept.projectKey);
    await servedFromMemory(revokedClient);
    await servedFromMemory(keptClient);
    const earlier = await cacheCounts(engine.baseUrl);
    const linesBefore = engine.logs().split('lookup cache on').length;

    // Kill the api's listener, then revoke while nobody listens: that notification is lost.
    const killed = await sql<{ pid: number }>`
      select pg_terminate_backend(pid) as pid from pg_stat_activity
       where application_name = ${LISTENER_APPLICATION_NAME} and datname = current_database()`.execute(db);
    expect(killed.rows.length).toBe(1);
    await db
      .updateTable('api_keys')
      .set({ revoked_at: new Date() })
      .where('project_id', '=', revoked.projectId)
      .execute();

    await until(async () => (await revokedClient.get('/v1/invocations?limit=1')).status === 401);
    // Back, listening again: the kept key is served from memory, the revoked one still refused.
    await servedFromMemory(keptClient);
    for (let i = 0; i < 3; i++) expect((await revokedClient.get('/v1/invocations?limit=1')).status).toBe(401);
    const later = await cacheCounts(engine.baseUrl);
    expect(later('api_key', 'bypass')).toBeGreaterThan(earlier('api_key', 'bypass')); // looked up while down
    expect(engine.logs()).toContain('lookup cache off');
    expect(engine.logs().split('lookup cache on').length).toBeGreaterThan(linesBefore);
  });
});

describe('the lookup cache with LOOKUP_CACHE_TTL_MS=0', () => {
  let engine: Engine;

  beforeAll(async () => {
    engine = await startEngine({ env: { LOOKUP_CACHE_TTL_MS: '0' } });
  });
  afterAll(async () => {
    await engine?.stop();
  });

  it('looks every key up and opens no LISTEN connection', async () => {
    const client = apiClient(engine.baseUrl, engine.workspaceKey);
    const earlier = await cacheCounts(engine.baseUrl);
    for (let i = 0; i < 3; i++) expect((await client.get('/v1/projects')).status).toBe(200);
    const later = await cacheCounts(engine.baseUrl);
    expect(later('api_key', 'bypass') - earlier('api_key', 'bypass')).toBe(3);
    expect(later('api_key', 'hit', 'miss', 'shared')).toBe(earlier('api_key', 'hit', 'miss', 'shared'));
    const db = createDb(engine.database.url, { max: 1 });
    try {
      const listeners = await sql`
        select pid from pg_stat_activity
         where application_name = ${LISTENER_APPLICATION_NAME} and datname = current_database()`.execute(db);
      expect(listeners.rows).toEqual([]);
    } finally {
      await db.destroy();
    }
  });
});
