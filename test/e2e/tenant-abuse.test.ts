import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../shared/db/database.ts';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';

/** Canonical JSON (sorted keys), as anyone who read the code would hash a guessed request. */
const canonical = (v: unknown): string =>
  Array.isArray(v)
    ? `[${v.map(canonical).join(',')}]`
    : v !== null && typeof v === 'object'
      ? `{${Object.keys(v)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
          .join(',')}}`
      : JSON.stringify(v);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** An email whose only secret is a 6-digit code: the report recovered one from its row's hash in 491 ms. */
const code = (n: number) => ({
  from: 'a@example.com',
  to: 'b@example.com',
  subject: 'Your code',
  text: `Your sign-in code is ${String(n).padStart(6, '0')}`,
});

/** What a tenant (or a reader of the database) can get out of the engine beyond its due: red-team findings 5 and 6. */
describe('tenant abuse', () => {
  let fake: ResendFake;
  let engine: Engine;
  let admin: ApiClient;
  let db: Db;

  beforeAll(async () => {
    fake = await startResendFake({ rateLimitPerSecond: 1000 });
    engine = await startEngine({
      env: {
        RESEND_API_URL: fake.url,
        // Resend's ceiling lowered, Slack's raised above the operator's maximum.
        RESEND_RATE_LIMIT_PER_MINUTE: '3',
        SLACK_RATE_LIMIT_PER_MINUTE: '5000',
        RATE_LIMIT_MAX_PER_MINUTE: '500',
      },
    });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    db = createDb(engine.database.url, { max: 1 });
  });
  afterAll(async () => {
    await db?.destroy();
    await engine?.stop();
    await fake?.close();
  });

  describe('request hashes', () => {
    it('stores a keyed hash that no guess of the request can be checked against, and still replays and refuses by it', async () => {
      const { projectKey } = await setUpProject(admin, {
        connectorId: 'resend',
        credentials: { apiKey: RESEND_FAKE_FULL_KEY },
      });
      const client = apiClient(engine.baseUrl, projectKey);
      const headers = { 'idempotency-key': 'signin-42' };
      const body = { connectorId: 'resend', actionId: 'sendEmail', input: code(424242) };
      const first = await client.post('/v1/executions', body, headers);
      expect(first.status).toBe(200);

      const storedHash = async (invocationId: string) =>
        (
          await db
            .selectFrom('invocations')
            .select('request_hash')
            .where('id', '=', invocationId)
            .executeTakeFirstOrThrow()
        ).request_hash;
      const stored = await storedHash(first.body.invocationId);
      // The brute force of the report: hash each candidate request the unkeyed way and compare.
      const guess = sha256(canonical({ actionId: 'sendEmail', connectorId: 'resend', input: code(424242) }));
      expect(stored).not.toBe(guess);
      expect(stored).toMatch(/^h1:k1:[0-9a-f]{64}$/);
      expect(stored).not.toContain(guess);

      // Without an Idempotency-Key a call is never compared with another: its row keeps no hash at all.
      const keyless = await client.post('/v1/executions', body);
      expect(keyless.status).toBe(200);
      expect(await storedHash(keyless.body.invocationId)).toBeNull();

      const again = await client.post('/v1/executions', body, headers);
      expect(again.status).toBe(200);
      expect(again.body.invocationId).toBe(first.body.invocationId);
      const other = await client.post('/v1/executions', { ...body, input: code(424243) }, headers);
      expect(other.status).toBe(422);
      expect(other.body.error.code).toBe('idempotency_key_reused');

      // A row written before keyed hashing (the unkeyed form) still replays, within its 24 hours.
      await legacyRowReplays();
    });

    async function legacyRowReplays() {
      const { projectKey, projectId, connectionId } = await setUpProject(admin, {
        connectorId: 'resend',
        credentials: { apiKey: RESEND_FAKE_FULL_KEY },
      });
      const client = apiClient(engine.baseUrl, projectKey);
      const input = code(7);
      const workspace = await db
        .selectFrom('projects')
        .select('workspace_id')
        .where('id', '=', projectId)
        .executeTakeFirstOrThrow();
      const id = 'inv_01jlegacylegacylegacylega';
      const createdAt = new Date();
      await db
        .insertInto('invocations')
        .values({
          id,
          workspace_id: workspace.workspace_id,
          project_id: projectId,
          connection_id: connectionId,
          connector_id: 'resend',
          action_id: 'sendEmail',
          idempotency_key: 'legacy-1',
          request_hash: sha256(canonical({ actionId: 'sendEmail', connectorId: 'resend', input })),
          status: 'succeeded',
          output: JSON.stringify({ id: 'legacy-email' }),
          attempts: 1,
          created_at: createdAt,
          finished_at: new Date(),
        })
        .execute();
      // An Idempotency-Key is taken in its own table since migration 0013 (which copied old rows' keys).
      await db
        .insertInto('invocation_idempotency_keys')
        .values({ project_id: projectId, idempotency_key: 'legacy-1', invocation_id: id, created_at: createdAt })
        .execute();
      const replay = await client.post(
        '/v1/executions',
        { connectorId: 'resend', actionId: 'sendEmail', input },
        { 'idempotency-key': 'legacy-1' },
      );
      expect(replay.status).toBe(200);
      expect(replay.body).toMatchObject({ invocationId: id, output: { id: 'legacy-email' } });
      const other = await client.post(
        '/v1/executions',
        { connectorId: 'resend', actionId: 'sendEmail', input: code(8) },
        { 'idempotency-key': 'legacy-1' },
      );
      expect(other.body.error.code).toBe('idempotency_key_reused');
    }
  });

  describe("a project's own rate limits", () => {
    it('are refused above the connector ceiling or the operator maximum, naming the path and the range', async () => {
      const { id } = (await admin.post('/v1/projects', { displayName: 'greedy' })).body;
      for (const [connectorId, value, max] of [
        ['resend', 4, 3],
        ['resend', 1_000_000, 3],
        ['slack', 501, 500],
      ] as const) {
        const res = await admin.patch(`/v1/projects/${id}`, { rateLimits: { [connectorId]: value } });
        expect(res.status, `${connectorId}: ${value}`).toBe(400);
        expect(res.body.error.code).toBe('invalid_input');
        expect(res.body.error.details).toEqual([
          { path: `rateLimits.${connectorId}`, message: expect.stringContaining(`between 1 and ${max}`) },
        ]);
      }
      const within = await admin.patch(`/v1/projects/${id}`, { rateLimits: { resend: 3, slack: 500 } });
      expect(within.status).toBe(200);
      expect(within.body.rateLimits).toEqual({ resend: 3, slack: 500 });
    });

    it('stored above the caps before they existed are clamped when used', async () => {
      const { projectKey, projectId } = await setUpProject(admin, {
        connectorId: 'resend',
        credentials: { apiKey: RESEND_FAKE_FULL_KEY },
      });
      await db
        .updateTable('projects')
        .set({ rate_limits: JSON.stringify({ resend: 1_000_000 }) })
        .where('id', '=', projectId)
        .execute();
      const client = apiClient(engine.baseUrl, projectKey);
      const send = () =>
        client.post('/v1/executions?timeoutMs=1000', { connectorId: 'resend', actionId: 'sendEmail', input: code(1) });
      for (let i = 0; i < 3; i++) expect((await send()).status).toBe(200);
      const fourth = await send();
      expect(fourth.status).toBe(429);
      expect(fourth.body.error).toMatchObject({ code: 'rate_limited', details: { limitPerMinute: 3 } });
    });
  });
});
