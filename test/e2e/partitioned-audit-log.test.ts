import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Queue } from 'bullmq';
import { CompiledQuery, Migrator, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventListQuery } from '../../api/routes/events.ts';
import { invocationListQuery, listInvocations } from '../../api/routes/invocations.ts';
import { migrations } from '../../migrations/index.ts';
import { createDb, type Db } from '../../shared/db/database.ts';
import { migrateToLatest } from '../../shared/db/migrate.ts';
import {
  addMonths,
  createMonthlyPartition,
  monthlyPartitions,
  monthStart,
  PARTITIONED_TABLES,
  partitionName,
} from '../../shared/db/partitions.ts';
import { recordInboundEvent } from '../../shared/inbound/inbound-events.ts';
import { findByIdempotencyKey } from '../../shared/invocations/idempotency-keys.ts';
import { findInvocation, insertQueuedInvocations } from '../../shared/invocations/invocation-store.ts';
import { retentionCutoff } from '../../shared/invocations/retention.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { apiClient } from '../support/http.ts';
import { createTestDatabase, type TestDatabase } from '../support/services.ts';

const run = promisify(execFile);
const DAY = 24 * 3600 * 1000;

/** ULIDs whose time part is `ts`, lower-case Crockford base32, as the api mints them (docs/audit-log.md). */
const ulidAtSql = sql`
  create or replace function pg_temp.ulid_at(ts timestamptz) returns text language sql volatile as $$
    select (select string_agg(substr('0123456789abcdefghjkmnpqrstvwxyz',
                    (((floor(extract(epoch from ts) * 1000)::bigint) >> (5 * (9 - i))) & 31)::int + 1, 1), '' order by i)
              from generate_series(0, 9) i)
           || substr(md5(random()::text), 1, 16)
  $$`;

/** Two workspaces, 40 projects with one connection each (30 in ws_a). */
const tenancy = [
  sql`insert into workspaces (id, name) values ('ws_a', 'a'), ('ws_b', 'b')`,
  sql`insert into projects (id, workspace_id, display_name)
        select 'prj_' || p, case when p < 30 then 'ws_a' else 'ws_b' end, 'p' from generate_series(0, 39) p`,
  sql`insert into connections (id, workspace_id, connector_id, display_name, status, credentials_key_id, credentials_iv,
                               credentials_tag, credentials_ciphertext, credentials_hint)
        select 'conn_' || p, case when p < 30 then 'ws_a' else 'ws_b' end, 'resend', 'c', 'active', 'k1', '\\x00', '\\x00', '\\x00', '{}'
          from generate_series(0, 39) p`,
  sql`insert into project_connections (project_id, connection_id) select 'prj_' || p, 'conn_' || p from generate_series(0, 39) p`,
];

/**
 * `rows` invocations and events spread over the months `monthsBack`..0 (one per 31 days back, an
 * hour before now): project 0 has half of them, the other 39 share the rest; 3% failed.
 */
async function populate(db: Db, rows: number, monthsBack: number): Promise<void> {
  await sql`
    insert into invocations (id, workspace_id, project_id, connection_id, connector_id, action_id, status, error_code, output,
                             attempts, created_at, started_at, finished_at)
    select 'inv_' || pg_temp.ulid_at(ts), case when p < 30 then 'ws_a' else 'ws_b' end, 'prj_' || p, 'conn_' || p, 'resend', 'sendEmail',
           case when g % 33 = 0 then 'failed' else 'succeeded' end, case when g % 33 = 0 then 'upstream_error' end,
           case when g % 33 = 0 then null else jsonb_build_object('id', g) end, 1, ts, ts, ts
      from (select g, now() - interval '1 hour' - (g % ${monthsBack + 1}) * interval '31 days' - (g % 97) * interval '1 minute' as ts,
                   case when g % 2 = 0 then 0 else 1 + g % 39 end as p
              from generate_series(1, ${rows}) g) s`.execute(db);
  await sql`
    insert into inbound_events (id, workspace_id, connection_id, connector_id, upstream_event_id, type, payload, received_at)
    select 'evt_' || pg_temp.ulid_at(ts), case when c < 30 then 'ws_a' else 'ws_b' end, 'conn_' || c, 'slack', 'up-' || g,
           'slack.message', '{}', ts
      from (select g, now() - interval '1 hour' - (g % ${monthsBack + 1}) * interval '31 days' - (g % 89) * interval '1 minute' as ts,
                   g % 40 as c from generate_series(1, ${Math.ceil(rows / 3)}) g) s`.execute(db);
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}
const flatten = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(flatten)];
const monthly = /_p\d{4}_\d{2}$/;

/**
 * The audit log partitioned by month (migration 0013, docs/decisions/0013-partitioned-audit-log.md):
 * the migration on a populated database, the list queries' plans, retention by partition, and the
 * read replica serving the lists.
 */
describe('partitioned audit log', () => {
  let database: TestDatabase;
  let db: Db;
  let before: { invocations: unknown[]; events: unknown[] };
  const now = new Date();

  beforeAll(async () => {
    // A database at migration 0012 (before partitioning), populated over six months.
    database = await createTestDatabase('template0');
    db = createDb(database.url, { max: 1 });
    const provider = { getMigrations: async () => migrations };
    const { error } = await new Migrator({ db, provider }).migrateTo('0012_connect_sessions');
    if (error) throw error;
    await ulidAtSql.execute(db);
    for (const statement of tenancy) await statement.execute(db);
    await populate(db, 3000, 5);
    await sql`update invocations set idempotency_key = 'key-' || id where id in (select id from invocations order by id desc limit 5)`.execute(
      db,
    );
    before = {
      invocations: (await sql`select * from invocations order by id`.execute(db)).rows,
      events: (await sql`select * from inbound_events order by id`.execute(db)).rows,
    };
    await db.destroy();
    await migrateToLatest(database.url);
    db = createDb(database.url, { max: 1 });
    await ulidAtSql.execute(db);
  }, 120_000);

  afterAll(async () => {
    await db?.destroy();
    await database?.drop();
  });

  it('migrates a populated table: one partition per month with rows and two ahead, every row kept and readable', async () => {
    for (const spec of PARTITIONED_TABLES) {
      const names = (await monthlyPartitions(db, spec)).map((p) => p.name);
      const rows = spec.table === 'invocations' ? before.invocations : before.events;
      const months = new Set((rows as Array<Record<string, Date>>).map((r) => monthStart(r[spec.key]!).getTime()));
      expect(months.size).toBeGreaterThanOrEqual(6);
      for (const ahead of [1, 2]) months.add(addMonths(monthStart(now), ahead).getTime());
      const expected = [...months].map((m) => partitionName(spec.table, new Date(m)));
      for (const name of expected) expect(names).toContain(name);
      const { rows: left } = await sql<{
        n: number;
      }>`select count(*)::int as n from ${sql.table(`${spec.table}_default`)}`.execute(db);
      expect(left[0]!.n).toBe(0);
    }
    // Later migrations may add columns (0014: trace_id, null on old rows): the old columns are compared.
    const after = (await sql<Record<string, unknown>>`select * from invocations order by id`.execute(db)).rows;
    const oldColumns = Object.keys(before.invocations[0] as object);
    expect(after.map((r) => Object.fromEntries(oldColumns.map((c) => [c, r[c]])))).toEqual(before.invocations);
    expect((await sql`select * from inbound_events order by id`.execute(db)).rows).toEqual(before.events);

    // Through the store: by id (the oldest row), by Idempotency-Key, and a taken key stays taken.
    const oldest = before.invocations[0] as { id: string; project_id: string; created_at: Date };
    expect(now.getTime() - oldest.created_at.getTime()).toBeGreaterThan(150 * DAY);
    expect(await findInvocation(db, oldest.id)).toMatchObject({ id: oldest.id, status: expect.any(String) });
    const keyed = before.invocations.at(-1) as { id: string; project_id: string; idempotency_key: string };
    expect(await findByIdempotencyKey(db, keyed.project_id, keyed.idempotency_key)).toMatchObject({ id: keyed.id });
    const again = {
      id: 'inv_01zzzzzzzzzzzzzzzzzzzzzzzz',
      workspace_id: 'ws_a',
      project_id: keyed.project_id,
      connection_id: 'conn_0',
      connector_id: 'resend',
      action_id: 'sendEmail',
      idempotency_key: keyed.idempotency_key,
      request_hash: 'h',
      via: 'api' as const,
      client_name: null,
      client_version: null,
    };
    await expect(insertQueuedInvocations(db, [again])).rejects.toMatchObject({ code: '23505' });

    // The inbound dedupe came along: a redelivery of a migrated event stores nothing, a new one is stored.
    const queue = { add: async () => ({}) } as unknown as Queue;
    const event = {
      workspaceId: 'ws_a',
      connectionId: 'conn_1',
      connectorId: 'slack',
      type: 'slack.message',
      payload: {},
    };
    expect(await recordInboundEvent(db, queue, { ...event, upstreamEventId: 'up-1' }, () => {})).toBeNull();
    expect(await recordInboundEvent(db, queue, { ...event, upstreamEventId: 'up-new' }, () => {})).toMatch(/^evt_/);
    expect(await recordInboundEvent(db, queue, { ...event, upstreamEventId: 'up-new' }, () => {})).toBeNull();
  });

  describe('the list queries use their indexes and prune partitions', () => {
    let parentIndex: Map<string, string>;
    /** Partitions holding rows: an empty month (ahead) is read with a free sequential scan, rightly. */
    let populated: Set<string>;

    beforeAll(async () => {
      await populate(db, 60_000, 3);
      await sql`analyze`.execute(db);
      const { rows } = await sql<{ child: string; parent: string }>`
        select c.relname as child, p.relname as parent from pg_inherits i
          join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent where c.relkind = 'i'`.execute(
        db,
      );
      parentIndex = new Map(rows.map((r) => [r.child, r.parent]));
      const { rows: holding } = await sql<{ p: string }>`
        select distinct tableoid::regclass::text as p from invocations
        union select distinct tableoid::regclass::text from inbound_events`.execute(db);
      populated = new Set(holding.map((r) => r.p));
    }, 120_000);

    async function planOf(query: { compile(): CompiledQuery }) {
      const c = query.compile();
      const { rows } = await db.executeQuery<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
        CompiledQuery.raw(`explain (format json) ${c.sql}`, [...c.parameters]),
      );
      const nodes = flatten(rows[0]!['QUERY PLAN'][0]!.Plan);
      const scanned = [...new Set(nodes.flatMap((n) => (n['Relation Name'] ? [n['Relation Name']] : [])))].sort();
      const indexes = new Set(nodes.flatMap((n) => (n['Index Name'] ? [parentIndex.get(n['Index Name']) ?? '?'] : [])));
      // A sequential scan of a month is the plan this work must never fall back to.
      const seqScanned = nodes.filter(
        (n) =>
          n['Node Type'] === 'Seq Scan' && monthly.test(n['Relation Name'] ?? '') && populated.has(n['Relation Name']!),
      );
      return { scanned, indexes, seqScanned: seqScanned.map((n) => n['Relation Name']) };
    }

    /** No populated month read sequentially, and the expected index (by its name on the parent) in the plan. */
    async function expectIndexed(query: { compile(): CompiledQuery }, c: { index: RegExp }) {
      const plan = await planOf(query);
      const label = JSON.stringify({ ...c, index: String(c.index), plan: { ...plan, indexes: [...plan.indexes] } });
      expect(plan.seqScanned, label).toEqual([]);
      expect(
        [...plan.indexes].some((i) => c.index.test(i)),
        label,
      ).toBe(true);
    }

    const workspaceKey = { kind: 'workspace', workspaceId: 'ws_a' } as const;
    const projectKey = (p: number) =>
      ({ kind: 'project', workspaceId: p < 30 ? 'ws_a' : 'ws_b', projectId: `prj_${p}` }) as const;
    const list = (q: Record<string, string> = {}) => listInvocations.parse(q);
    const month = (m: number) => addMonths(monthStart(now), -m);

    it('GET /v1/invocations: scope, filters and cursor use the (…, id) and partial indexes of every month', async () => {
      const cases: Array<{ principal: unknown; q: Record<string, string>; index: RegExp }> = [
        { principal: workspaceKey, q: {}, index: /^invocations_(pkey|workspace_id)$/ },
        { principal: projectKey(7), q: {}, index: /^invocations_(pkey|project_id)$/ },
        { principal: projectKey(7), q: { status: 'failed' }, index: /^invocations_project_failed$/ },
        { principal: workspaceKey, q: { status: 'failed' }, index: /^invocations_(workspace|project)_failed$/ },
        { principal: workspaceKey, q: { connectionId: 'conn_9' }, index: /^invocations_connection_id$/ },
        { principal: projectKey(7), q: { status: 'running' }, index: /^invocations_unfinished_created_at$/ },
      ];
      for (const c of cases) await expectIndexed(invocationListQuery(db, c.principal as never, list(c.q)), c);
    });

    it('GET /v1/invocations with since/until reads only the months of the window', async () => {
      const since = new Date(month(2).getTime() + 3 * DAY);
      const until = new Date(since.getTime() + DAY);
      for (const principal of [workspaceKey, projectKey(0), projectKey(7)]) {
        const plan = await planOf(
          invocationListQuery(db, principal as never, list({ since: since.toISOString(), until: until.toISOString() })),
        );
        expect(plan.scanned, JSON.stringify(plan.scanned)).toEqual([partitionName('invocations', month(2))]);
        expect(plan.seqScanned).toEqual([]);
        expect(plan.indexes.size).toBeGreaterThan(0);
      }
      // A window across a month boundary reads both months, and only them.
      const across = await planOf(
        invocationListQuery(
          db,
          workspaceKey as never,
          list({
            since: new Date(month(1).getTime() - DAY).toISOString(),
            until: new Date(month(1).getTime() + DAY).toISOString(),
          }),
        ),
      );
      expect(across.scanned).toEqual(
        [partitionName('invocations', month(2)), partitionName('invocations', month(1))].sort(),
      );
    });

    it('GET /v1/events: by workspace, project and connection through the (…, id) indexes', async () => {
      const cases: Array<{ principal: unknown; q: Record<string, string>; index: RegExp }> = [
        { principal: workspaceKey, q: {}, index: /^inbound_events_(pkey|workspace_id)$/ },
        { principal: projectKey(7), q: {}, index: /^inbound_events_(pkey|connection_id|workspace_id)$/ },
        { principal: workspaceKey, q: { connectionId: 'conn_9' }, index: /^inbound_events_connection_id$/ },
      ];
      for (const c of cases) await expectIndexed(eventListQuery(db, c.principal as never, { limit: 20, ...c.q }), c);
    });
  });

  it('retention drops the months entirely past the cutoff (and their artifacts), keeps the newer ones', async () => {
    // A back-dated row lands in the default partition; creating its month moves it there.
    const ancient = new Date(now.getTime() - 400 * DAY);
    const { rows: made } = await sql<{ id: string }>`
      insert into invocations (id, workspace_id, project_id, connector_id, action_id, status, created_at)
      values ('inv_' || pg_temp.ulid_at(${ancient}), 'ws_a', 'prj_1', 'resend', 'sendEmail', 'succeeded', ${ancient}) returning id`.execute(
      db,
    );
    const ancientId = made[0]!.id;
    const where = async () =>
      (
        await sql<{ p: string }>`select tableoid::regclass::text as p from invocations where id = ${ancientId}`.execute(
          db,
        )
      ).rows[0]?.p;
    expect(await where()).toBe('invocations_default');
    await db.transaction().execute((trx) => createMonthlyPartition(trx, PARTITIONED_TABLES[0]!, ancient));
    expect(await where()).toBe(partitionName('invocations', monthStart(ancient)));
    // One still older stays in the default partition; an artifact of an old call must go with it.
    const older = new Date(now.getTime() - 500 * DAY);
    await sql`insert into invocations (id, workspace_id, project_id, connector_id, action_id, status, created_at)
              values ('inv_' || pg_temp.ulid_at(${older}), 'ws_a', 'prj_1', 'resend', 'sendEmail', 'succeeded', ${older})`.execute(
      db,
    );
    const oldest = (before.invocations[0] as { id: string }).id;
    await sql`insert into artifacts (id, invocation_id, name, content_type, size_bytes, data)
              values ('art_1', ${oldest}, 'audio', 'audio/mpeg', 1, '\\x00')`.execute(db);

    const days = 100;
    const cutoff = retentionCutoff(days);
    const partitions = await monthlyPartitions(db, PARTITIONED_TABLES[0]!);
    const gone = partitions.filter((p) => p.to <= cutoff).map((p) => p.name);
    const kept = partitions.filter((p) => p.to > cutoff).map((p) => p.name);
    expect(gone.length).toBeGreaterThanOrEqual(2);
    const keptRows = async () =>
      (
        await sql<{
          n: number;
        }>`select count(*)::int as n from invocations where created_at >= ${monthStart(cutoff)}`.execute(db)
      ).rows[0]!.n;
    const keptBefore = await keptRows();

    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: database.url };
    const { stdout } = await run(
      'npm',
      ['run', '--silent', 'cli', '--', 'retention:run', '--audit-days', String(days)],
      {
        env,
      },
    );
    for (const name of gone) expect(stdout).toMatch(new RegExp(`${name}: \\d+ row\\(s\\) deleted`));
    expect(stdout).toContain('invocations_default: 1 row(s) deleted');
    expect(stdout).toMatch(/done: \d+ partition\(s\) dropped, \d+ audit row\(s\) deleted/);

    const after = (await monthlyPartitions(db, PARTITIONED_TABLES[0]!)).map((p) => p.name);
    expect(after).toEqual(kept);
    expect(await keptRows()).toBe(keptBefore);
    const { rows: old } = await sql<{
      n: number;
    }>`select count(*)::int as n from invocations where created_at < ${monthStart(cutoff)}`.execute(db);
    expect(old[0]!.n).toBe(0);
    const { rows: artifacts } = await sql`select id from artifacts where id = 'art_1'`.execute(db);
    expect(artifacts).toEqual([]);
    // The events' months went too, with their dedupe rows: a redelivery of a dropped event is new again.
    const { rows: dedupe } =
      await sql`select 1 from inbound_event_upstream_ids where received_at < ${monthStart(cutoff)}`.execute(db);
    expect(dedupe).toEqual([]);
  }, 120_000);
});

describe('read replica (DATABASE_READ_URL)', () => {
  let engine: Engine;
  let replica: TestDatabase;
  let primaryDb: Db;
  let replicaDb: Db;

  beforeAll(async () => {
    replica = await createTestDatabase();
    engine = await startEngine({ env: { DATABASE_READ_URL: replica.url } });
    primaryDb = createDb(engine.database.url, { max: 1 });
    replicaDb = createDb(replica.url, { max: 1 });
  }, 60_000);

  afterAll(async () => {
    await primaryDb?.destroy();
    await replicaDb?.destroy();
    await engine?.stop();
    await engine?.database.drop();
    await replica?.drop();
  });

  it('serves the audit-log lists from the replica, and reads by id from the primary', async () => {
    const { id: workspaceId } = await primaryDb.selectFrom('workspaces').select('id').executeTakeFirstOrThrow();
    // The same tenancy on both, and one invocation and one event that only one of them has.
    const idOf = (prefix: string, suffix: string) => `${prefix}_01j${'z'.repeat(21)}${suffix}`;
    const seed = async (target: Db, suffix: string) => {
      await sql`insert into workspaces (id, name) values (${workspaceId}, 'w') on conflict do nothing`.execute(target);
      await sql`insert into connections (id, workspace_id, connector_id, display_name, status, credentials_key_id, credentials_iv,
                                         credentials_tag, credentials_ciphertext, credentials_hint)
                values ('conn_r', ${workspaceId}, 'slack', 'c', 'active', 'k1', '\\x00', '\\x00', '\\x00', '{}') on conflict do nothing`.execute(
        target,
      );
      await sql`insert into invocations (id, workspace_id, project_id, connector_id, action_id, status)
                values (${idOf('inv', suffix)}, ${workspaceId}, 'prj_r', 'resend', 'sendEmail', 'succeeded')`.execute(
        target,
      );
      await sql`insert into inbound_events (id, workspace_id, connection_id, connector_id, upstream_event_id, type, payload)
                values (${idOf('evt', suffix)}, ${workspaceId}, 'conn_r', 'slack', ${suffix}, 'slack.message', '{}')`.execute(
        target,
      );
    };
    await seed(primaryDb, 'p0');
    await seed(replicaDb, 'r0');

    const admin = apiClient(engine.baseUrl, engine.workspaceKey);
    const invocations = await admin.get('/v1/invocations');
    expect(invocations.status).toBe(200);
    expect(invocations.body.data.map((i: { id: string }) => i.id)).toEqual([idOf('inv', 'r0')]);
    const events = await admin.get('/v1/events');
    expect(events.status).toBe(200);
    expect(events.body.data.map((e: { id: string }) => e.id)).toEqual([idOf('evt', 'r0')]);

    // By id: the primary, where a caller looks right after an execute.
    expect((await admin.get(`/v1/invocations/${idOf('inv', 'p0')}`)).status).toBe(200);
    expect((await admin.get(`/v1/invocations/${idOf('inv', 'r0')}`)).status).toBe(404);
    expect((await admin.get(`/v1/events/${idOf('evt', 'p0')}`)).status).toBe(200);
  });
});
