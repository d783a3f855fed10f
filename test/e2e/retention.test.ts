import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../shared/db/database.ts';
import type { NewInvocation } from '../../shared/db/schema.ts';
import { newId } from '../../shared/ids.ts';
import {
  DEFAULT_RETENTION_DAYS,
  purgeExpired,
  retentionCutoff,
  retentionDaysFromEnv,
} from '../../shared/invocations/retention.ts';
import {
  ELEVENLABS_FAKE_KEY,
  type ElevenLabsFake,
  RACHEL_VOICE_ID,
  startElevenLabsFake,
} from '../fakes/elevenlabs/elevenlabs-fake.ts';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient } from '../support/http.ts';

const run = promisify(execFile);
const DAY = 24 * 3600 * 1000;

/**
 * The audit log as a product: every filter of GET /v1/invocations, cursor pages that stay stable
 * while rows arrive, and retention (outputs and artifacts go, the audit rows stay).
 */
describe('audit log: filters, pagination and retention', () => {
  let resend: ResendFake;
  let eleven: ElevenLabsFake;
  let engine: Engine;
  let admin: ApiClient;
  let db: Db;
  const email = { from: 'a@example.com', to: 'b@example.com', subject: 'Hi', text: 'Hello' };
  // Project 1: a Resend and an ElevenLabs connection; project 2: its own Resend connection.
  const p1 = { id: '', key: '', resend: '', eleven: '' };
  const p2 = { id: '', key: '', resend: '' };
  const ids = { p1Sends: [] as string[], p1List: '', p1Failed: '', p1Speech: '', p2Sends: [] as string[] };

  const ulidAt = (ms: number) => `inv_${ulid(ms).toLowerCase()}`;

  /** An invocation row as the api writes it, but at a chosen time (id and created_at agree). */
  async function insertAt(
    at: Date,
    row: Partial<NewInvocation> & { project_id: string; workspace_id: string },
  ): Promise<string> {
    const id = ulidAt(at.getTime());
    await db
      .insertInto('invocations')
      .values({
        id,
        connection_id: null,
        connector_id: 'resend',
        action_id: 'sendEmail',
        status: 'succeeded',
        output: JSON.stringify({ id: 'email-1' }),
        attempts: 1,
        created_at: at,
        started_at: at,
        finished_at: at,
        ...row,
      })
      .execute();
    return id;
  }

  async function collect(client: ApiClient, query: string, limit = 100): Promise<string[]> {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { data: Array<{ id: string }>; nextCursor: string | null } } =
        await client.get(
          `/v1/invocations?limit=${limit}${query ? `&${query}` : ''}${cursor ? `&cursor=${cursor}` : ''}`,
        );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      seen.push(...res.body.data.map((i) => i.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    return seen;
  }

  let workspaceId: string;

  beforeAll(async () => {
    resend = await startResendFake({ rateLimitPerSecond: 1000 });
    eleven = await startElevenLabsFake();
    engine = await startEngine({ env: { RESEND_API_URL: resend.url, ELEVENLABS_API_URL: eleven.url } });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    db = createDb(engine.database.url, { max: 4 });

    const mk = async () => {
      const project = await admin.post('/v1/projects', { displayName: 'Audit' });
      const key = (await admin.post(`/v1/projects/${project.body.id}/api-keys`, {})).body.key as string;
      const conn = async (connectorId: string, apiKey: string) =>
        (
          await admin.post('/v1/connections', {
            connectorId,
            displayName: connectorId,
            credentials: { apiKey },
            projectIds: [project.body.id],
          })
        ).body.id as string;
      return { id: project.body.id as string, key, conn };
    };
    const a = await mk();
    Object.assign(p1, {
      id: a.id,
      key: a.key,
      resend: await a.conn('resend', RESEND_FAKE_FULL_KEY),
      eleven: await a.conn('elevenlabs', ELEVENLABS_FAKE_KEY),
    });
    const b = await mk();
    Object.assign(p2, { id: b.id, key: b.key, resend: await b.conn('resend', RESEND_FAKE_FULL_KEY) });

    const c1 = apiClient(engine.baseUrl, p1.key);
    const c2 = apiClient(engine.baseUrl, p2.key);
    const exec = async (c: ApiClient, body: Record<string, unknown>, expected = 200) => {
      const res = await c.post('/v1/executions', body);
      expect(res.status, JSON.stringify(res.body)).toBe(expected);
      return res.body.invocationId as string;
    };
    for (let i = 0; i < 3; i++)
      ids.p1Sends.push(
        await exec(c1, { connectorId: 'resend', actionId: 'sendEmail', input: email, connectionId: p1.resend }),
      );
    ids.p1List = await exec(c1, { connectorId: 'resend', actionId: 'listDomains', input: {}, connectionId: p1.resend });
    resend.failNext(1, { status: 422, name: 'validation_error', message: 'The `to` field is invalid.' });
    ids.p1Failed = await exec(
      c1,
      { connectorId: 'resend', actionId: 'sendEmail', input: email, connectionId: p1.resend },
      502,
    );
    ids.p1Speech = await exec(c1, {
      connectorId: 'elevenlabs',
      actionId: 'textToSpeech',
      input: { voiceId: RACHEL_VOICE_ID, text: 'Hi there.' },
    });
    for (let i = 0; i < 2; i++)
      ids.p2Sends.push(await exec(c2, { connectorId: 'resend', actionId: 'sendEmail', input: email }));
    workspaceId = (
      await db.selectFrom('projects').select('workspace_id').where('id', '=', p1.id).executeTakeFirstOrThrow()
    ).workspace_id;
  }, 60_000);

  afterAll(async () => {
    await db?.destroy();
    await engine?.stop();
    await resend?.close();
    await eleven?.close();
  });

  describe('GET /v1/invocations filters', () => {
    const all = () => [...ids.p1Sends, ids.p1List, ids.p1Failed, ids.p1Speech, ...ids.p2Sends];
    const newestFirst = (list: string[]) => [...list].sort().reverse();

    it.each([
      ['no filter', '', () => all()],
      ['projectId', () => `projectId=${p1.id}`, () => [...ids.p1Sends, ids.p1List, ids.p1Failed, ids.p1Speech]],
      ['connectionId', () => `connectionId=${p1.resend}`, () => [...ids.p1Sends, ids.p1List, ids.p1Failed]],
      ['connectorId', 'connectorId=elevenlabs', () => [ids.p1Speech]],
      ['actionId', 'actionId=listDomains', () => [ids.p1List]],
      ['status', 'status=failed', () => [ids.p1Failed]],
      [
        'connectorId + actionId + status',
        'connectorId=resend&actionId=sendEmail&status=succeeded',
        () => [...ids.p1Sends, ...ids.p2Sends],
      ],
      ['projectId + connectorId', () => `projectId=${p2.id}&connectorId=resend`, () => ids.p2Sends],
      ['an unknown value', 'connectorId=nope', () => []],
    ] as Array<[string, string | (() => string), () => string[]]>)(
      'filters by %s (workspace key), newest first',
      async (_label, query, expected) => {
        const q = typeof query === 'function' ? query() : query;
        const res = await admin.get(`/v1/invocations?limit=100${q ? `&${q}` : ''}`);
        expect(res.status).toBe(200);
        expect(res.body.data.map((i: { id: string }) => i.id)).toEqual(newestFirst(expected()));
        expect(res.body.nextCursor).toBeNull();
      },
    );

    it('records what each row says: status, error, connection, attempts, timings', async () => {
      const failed = (await admin.get(`/v1/invocations/${ids.p1Failed}`)).body;
      expect(failed).toMatchObject({
        projectId: p1.id,
        connectionId: p1.resend,
        connectorId: 'resend',
        actionId: 'sendEmail',
        status: 'failed',
        errorCode: 'upstream_error',
        output: null,
      });
      const ok = (await admin.get(`/v1/invocations/${ids.p1List}`)).body;
      expect(ok).toMatchObject({
        status: 'succeeded',
        errorCode: null,
        attempts: 1,
        output: { domains: expect.any(Array) },
      });
      expect(new Date(ok.finishedAt) >= new Date(ok.startedAt)).toBe(true);
      expect(new Date(ok.startedAt) >= new Date(ok.createdAt)).toBe(true);
    });

    it('scopes a project key to its project, whatever the filters say', async () => {
      const c2 = apiClient(engine.baseUrl, p2.key);
      expect(await collect(c2, '')).toEqual(newestFirst(ids.p2Sends));
      expect(await collect(c2, `projectId=${p1.id}`)).toEqual([]);
      expect(await collect(c2, `connectionId=${p1.resend}`)).toEqual([]);
      expect(await collect(c2, 'connectorId=elevenlabs')).toEqual([]);
    });

    it('filters by time: since is inclusive, until exclusive', async () => {
      const base = Date.parse('2021-03-01T00:00:00.000Z');
      const at = [0, 1, 2, 3, 4].map((h) => new Date(base + h * 3600_000));
      const synthetic: string[] = [];
      for (const t of at)
        synthetic.push(await insertAt(t, { workspace_id: workspaceId, project_id: p2.id, connection_id: p2.resend }));
      try {
        const window = async (since?: Date, until?: Date, extra = '') =>
          collect(
            admin,
            [since && `since=${since.toISOString()}`, until && `until=${until.toISOString()}`, extra]
              .filter(Boolean)
              .join('&'),
            2,
          );
        expect(await window(at[1], at[3])).toEqual([synthetic[2], synthetic[1]]);
        expect(await window(at[3])).toEqual([...newestFirst(all()), synthetic[4], synthetic[3]]);
        expect(await window(undefined, at[1])).toEqual([synthetic[0]]);
        expect(await window(at[0], at[4], `projectId=${p2.id}&status=succeeded`)).toEqual([
          synthetic[3],
          synthetic[2],
          synthetic[1],
          synthetic[0],
        ]);
        expect(await window(at[0], at[4], `projectId=${p1.id}`)).toEqual([]);
        // Offsets are understood, not just Z.
        expect(
          await collect(
            admin,
            `since=${encodeURIComponent('2021-03-01T03:00:00+01:00')}&until=${encodeURIComponent('2021-03-01T05:00:00+02:00')}`,
          ),
        ).toEqual([synthetic[2]]);
        // created_at decides, even when the id's time (the api host's clock) is off from it by minutes.
        const skewed = `inv_${ulid(at[2]!.getTime() - 20 * 60_000).toLowerCase()}`;
        await db
          .insertInto('invocations')
          .values({
            id: skewed,
            workspace_id: workspaceId,
            project_id: p2.id,
            connector_id: 'resend',
            action_id: 'sendEmail',
            status: 'succeeded',
            created_at: new Date(at[2]!.getTime() + 1),
          })
          .execute();
        synthetic.push(skewed);
        expect(await window(at[2], at[3])).toEqual([synthetic[2], skewed]);
        expect(await window(at[1], at[2])).toEqual([synthetic[1]]);
        // Windows before 1970 or far in the future are just empty, not errors.
        expect(await collect(admin, 'since=0001-01-01T00:00:00Z&until=1969-12-31T23:59:59Z')).toEqual([]);
        expect(await collect(admin, 'since=9999-12-31T00:00:00Z')).toEqual([]);
      } finally {
        await db.deleteFrom('invocations').where('id', 'in', synthetic).execute();
      }
    });

    it.each([
      ['status=done', 'status'],
      ['since=yesterday', 'since'],
      ['until=2021-13-01T00:00:00Z', 'until'],
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=abc', 'limit'],
      ['cursor=bm90LWEtY3Vyc29y', 'cursor'],
    ])('answers 400 invalid_input to %s', async (query, path) => {
      const res = await admin.get(`/v1/invocations?${query}`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_input');
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    });
  });

  describe('cursor pagination', () => {
    it('pages without duplicates or gaps while new invocations arrive and others change status', async () => {
      // 150 existing rows of project 2 (fast: straight into the table, as the api writes them).
      const now = Date.now();
      const existing: string[] = [];
      for (let i = 0; i < 150; i++) {
        existing.push(
          await insertAt(new Date(now - (150 - i) * 1000), {
            workspace_id: workspaceId,
            project_id: p2.id,
            connection_id: p2.resend,
            status: i % 3 === 0 ? 'queued' : 'succeeded',
          }),
        );
      }
      const expected = [...(await collect(admin, `projectId=${p2.id}`))];
      expect(expected).toHaveLength(150 + ids.p2Sends.length);

      // While we page: real async executions keep arriving, and queued rows finish.
      const c2 = apiClient(engine.baseUrl, p2.key);
      let stop = false;
      const arrived: string[] = [];
      const writer = (async () => {
        let i = 0;
        while (!stop) {
          const res = await c2.post(
            '/v1/executions',
            { connectorId: 'resend', actionId: 'sendEmail', input: email },
            { prefer: 'respond-async' },
          );
          arrived.push(res.body.invocationId);
          const queued = existing[(i++ * 3) % existing.length]!;
          await db
            .updateTable('invocations')
            .set({ status: 'succeeded', finished_at: new Date() })
            .where('id', '=', queued)
            .execute();
        }
      })();
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: { body: { data: Array<{ id: string }>; nextCursor: string | null } } = await admin.get(
          `/v1/invocations?projectId=${p2.id}&limit=7${cursor ? `&cursor=${cursor}` : ''}`,
        );
        seen.push(...res.body.data.map((i) => i.id));
        cursor = res.body.nextCursor;
        pages++;
        await new Promise((r) => setTimeout(r, 15));
      } while (cursor);
      stop = true;
      await writer;

      expect(arrived.length).toBeGreaterThan(3);
      // The first page may include rows that arrived before it was read; everything after is stable.
      const fromStart = seen.filter((id) => !arrived.includes(id));
      expect(fromStart).toEqual(expected);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual([...seen].sort().reverse());
      expect(pages).toBeGreaterThanOrEqual(Math.ceil(expected.length / 7));
      // And the page a client would read next from the top holds the newcomers.
      const top = await collect(admin, `projectId=${p2.id}`);
      expect(top.slice(0, arrived.length).sort()).toEqual([...arrived].sort());
      await db.deleteFrom('invocations').where('id', 'in', existing).execute();
    });
  });

  describe('retention', () => {
    it('reads INVOCATION_RETENTION_DAYS (default 30) and refuses nonsense without echoing it', () => {
      expect(DEFAULT_RETENTION_DAYS).toBe(30);
      expect(retentionDaysFromEnv({})).toBe(30);
      expect(retentionDaysFromEnv({ INVOCATION_RETENTION_DAYS: '' })).toBe(30);
      expect(retentionDaysFromEnv({ INVOCATION_RETENTION_DAYS: '7' })).toBe(7);
      for (const bad of ['0', '-1', '1.5', 'thirty']) {
        expect(() => retentionDaysFromEnv({ INVOCATION_RETENTION_DAYS: bad })).toThrow(
          /^INVOCATION_RETENTION_DAYS: must be/,
        );
      }
      expect(retentionCutoff(30, new Date('2024-03-31T00:00:00Z')).toISOString()).toBe('2024-03-01T00:00:00.000Z');
    });

    it('purgeExpired nulls outputs and deletes artifacts past the cutoff, in batches, and keeps every audit row', async () => {
      const now = Date.now();
      const old: string[] = [];
      const recent: string[] = [];
      for (let i = 0; i < 7; i++) {
        old.push(
          await insertAt(new Date(now - (40 + i) * DAY), {
            workspace_id: workspaceId,
            project_id: p1.id,
            output: JSON.stringify({ n: i }),
          }),
        );
        recent.push(
          await insertAt(new Date(now - (20 - i) * DAY), {
            workspace_id: workspaceId,
            project_id: p1.id,
            output: JSON.stringify({ n: i }),
          }),
        );
      }
      // A failed old call that still left an artifact, and a running old one (no output yet).
      const failedWithArtifact = await insertAt(new Date(now - 50 * DAY), {
        workspace_id: workspaceId,
        project_id: p1.id,
        status: 'failed',
        output: null,
      });
      const artifact = (invocationId: string) => ({
        id: newId('artifact'),
        invocation_id: invocationId,
        name: 'audio',
        content_type: 'audio/mpeg',
        size_bytes: 3,
        data: Buffer.from('mp3'),
      });
      await db
        .insertInto('artifacts')
        .values([artifact(old[0]!), artifact(old[3]!), artifact(recent[0]!), artifact(failedWithArtifact)])
        .execute();
      const rowsBefore = (
        await db.selectFrom('invocations').select(db.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
      ).n;

      const batches: number[] = [];
      const result = await purgeExpired(db, retentionCutoff(30, new Date(now)), 3, {
        onBatch: (t) => batches.push(t.outputsCleared),
      });
      expect(result).toEqual({ outputsCleared: 7, artifactsDeleted: 3 });
      expect(batches.slice(0, 3)).toEqual([3, 6, 7]);

      const rows = await db
        .selectFrom('invocations')
        .select(['id', 'output', 'status'])
        .where('id', 'in', [...old, ...recent, failedWithArtifact])
        .execute();
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const id of old) expect(byId.get(id)).toMatchObject({ output: null, status: 'succeeded' });
      for (const id of recent) expect(byId.get(id)!.output).not.toBeNull();
      expect(
        (await db.selectFrom('invocations').select(db.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n,
      ).toBe(rowsBefore);
      const artifactsLeft = await db
        .selectFrom('artifacts')
        .select('invocation_id')
        .where('invocation_id', 'in', [...old, ...recent, failedWithArtifact])
        .execute();
      expect(artifactsLeft.map((a) => a.invocation_id)).toEqual([recent[0]]);

      // Through the api: the audit row is all there, the output is gone.
      const shown = await admin.get(`/v1/invocations/${old[0]}`);
      expect(shown.body).toMatchObject({ id: old[0], status: 'succeeded', projectId: p1.id, output: null });
      expect((await admin.get(`/v1/invocations/${old[0]}/artifacts/audio`)).status).toBe(404);

      expect(await purgeExpired(db, retentionCutoff(30, new Date(now)), 3)).toEqual({
        outputsCleared: 0,
        artifactsDeleted: 0,
      });
      await db.deleteFrom('artifacts').where('invocation_id', 'in', recent).execute();
      await db
        .deleteFrom('invocations')
        .where('id', 'in', [...old, ...recent, failedWithArtifact])
        .execute();
    });

    it('`npm run cli -- retention:run` purges a real audio invocation once it is past INVOCATION_RETENTION_DAYS', async () => {
      const url = `/v1/invocations/${ids.p1Speech}/artifacts/audio`;
      expect((await admin.get(url)).status).toBe(200);
      const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: engine.database.url };
      const cli = (args: string[], extra: Record<string, string> = {}) =>
        run('npm', ['run', '--silent', 'cli', '--', 'retention:run', ...args], {
          env: { ...env, ...extra },
          timeout: 30_000,
        });

      // Not yet past 7 days: nothing to do.
      const early = await cli([], { INVOCATION_RETENTION_DAYS: '7' });
      expect(early.stdout).toMatch(/removing outputs and artifacts of invocations created before \S+ \(7 days\)/);
      expect(early.stdout).toContain('done: 0 output(s) cleared, 0 artifact(s) deleted');

      // Eight days later (moved back in time), it goes; --days overrides the environment.
      await sql`update invocations set created_at = ${new Date(Date.now() - 8 * DAY)} where id = ${ids.p1Speech}`.execute(
        db,
      );
      const late = await cli(['--days', '7', '--batch-size', '50'], { INVOCATION_RETENTION_DAYS: '90' });
      expect(late.stdout).toContain('done: 1 output(s) cleared, 1 artifact(s) deleted');
      expect((await admin.get(url)).status).toBe(404);
      const row = (await admin.get(`/v1/invocations/${ids.p1Speech}`)).body;
      expect(row).toMatchObject({
        status: 'succeeded',
        connectorId: 'elevenlabs',
        actionId: 'textToSpeech',
        output: null,
      });

      const bad = await cli([], { INVOCATION_RETENTION_DAYS: 'soon' }).catch(
        (e: { code: number; stderr: string }) => e,
      );
      expect((bad as { code: number }).code).toBe(78);
      expect((bad as { stderr: string }).stderr).toContain(
        'config error: INVOCATION_RETENTION_DAYS: must be a whole number of days',
      );
    });
  });
});
