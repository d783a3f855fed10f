import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplyListener } from '../../api/execution/reply-listener.ts';
import type { Db } from '../../shared/db/database.ts';
import { executeShard, shardOf } from '../../shared/queue/execute-queues.ts';
import { publishReply } from '../../shared/queue/execution-reply.ts';
import { hashSlot } from '../../shared/queue/hash-slot.ts';
import { createRedis } from '../../shared/queue/redis.ts';
import { WebhookCircuits } from '../../worker/webhooks-out/circuit.ts';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.ts';
import { eventually, startRecordingReceiver } from '../support/webhooks.ts';

/**
 * The engine on a real Redis Cluster (3 masters, 3 replicas) with the execute queue in 3 shards:
 * the core paths of the e2e suite, each of which needs a cluster-safe layout of its keys (BullMQ
 * prefixes, the limiter's and running share's scripts, webhook circuits) and the sharded reply channel.
 */
describe('on a Redis Cluster', () => {
  let cluster: TestRedisCluster;
  let fake: ResendFake;
  let receiver: Awaited<ReturnType<typeof startRecordingReceiver>>;
  let engine: Engine;
  let admin: ApiClient;
  const email = (subject: string) => ({ from: 'a@example.com', to: 'b@example.com', subject, text: 'x' });

  beforeAll(async () => {
    cluster = await startRedisCluster();
    fake = await startResendFake({ rateLimitPerSecond: 10_000 });
    receiver = await startRecordingReceiver();
    engine = await startEngine({
      workers: 2,
      env: {
        REDIS_URL: cluster.url,
        REDIS_CLUSTER_NODES: cluster.seeds,
        EXECUTE_QUEUE_SHARDS: '3',
        RESEND_API_URL: fake.url,
      },
    });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
  }, 120_000);

  afterAll(async () => {
    await engine?.stop();
    await receiver?.close();
    await fake?.close();
    await cluster?.stop();
  });

  it('computes hash slots as the cluster does, and puts the 3 execute shards on the 3 masters', async () => {
    const nodes = cluster.seeds.split(',').map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) }));
    const client = new Cluster(nodes);
    try {
      for (const key of ['foo', '{ce:execute}:execute:wait', 'connector-engine:limits:{prj_1:resend}:slots'])
        expect(hashSlot(key)).toBe(await client.cluster('KEYSLOT', key));
    } finally {
      client.disconnect();
    }
    const masters = await Promise.all([0, 1, 2].map((i) => cluster.masterOf(`{${executeShard(i, 3).tag}}`)));
    expect(new Set(masters).size).toBe(3);
  });

  it('delivers a sync reply over sharded pub/sub alone (no invocation row to fall back on)', async () => {
    const settings = { REDIS_URL: cluster.url, REDIS_CLUSTER_NODES: cluster.seeds.split(',') };
    const noRow = {
      selectFrom: () => ({ selectAll: () => ({ where: () => ({ executeTakeFirst: async () => undefined }) }) }),
    } as unknown as Db;
    const listener = new ReplyListener(createRedis(settings, 'subscriber'), noRow);
    const publisher = createRedis(settings, 'worker');
    try {
      await listener.start();
      const waiting = listener.wait('inv_sharded', 30_000);
      await publishReply(publisher, listener.channel, {
        invocationId: 'inv_sharded',
        status: 'succeeded',
        durationMs: 1,
      });
      expect(await waiting).toMatchObject({ invocationId: 'inv_sharded', status: 'succeeded' });
    } finally {
      await listener.stop();
      publisher.disconnect();
    }
  });

  it('opens and closes a webhook circuit (a script over the circuit and the set of open ones)', async () => {
    const redis = createRedis({ REDIS_URL: cluster.url, REDIS_CLUSTER_NODES: cluster.seeds.split(',') }, 'worker');
    try {
      const circuits = new WebhookCircuits(redis, { failures: 2, cooloffMs: 60_000, probeHoldMs: 1_000 });
      const url = 'https://hooks.example.com/x';
      expect(await circuits.failed('ws_1', url)).toBe(false);
      expect(await circuits.failed('ws_1', url)).toBe(true);
      expect(await circuits.before('ws_1', url)).toMatchObject({ go: false });
      expect(await circuits.openCount()).toBe(1);
      await circuits.answered('ws_1', url);
      expect(await circuits.openCount()).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  it('runs sync calls of projects on every shard, async calls to completion, and replays an Idempotency-Key', async () => {
    const projects = await Promise.all(
      Array.from({ length: 3 }, () =>
        setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: RESEND_FAKE_FULL_KEY } }),
      ),
    );
    // Ids are random: more projects until every shard has one.
    while (new Set(projects.map((p) => shardOf(p.projectId, 3))).size < 3)
      projects.push(
        await setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: RESEND_FAKE_FULL_KEY } }),
      );
    fake.reset();
    for (const p of projects) {
      const res = await apiClient(engine.baseUrl, p.projectKey).post('/v1/executions', {
        connectorId: 'resend',
        actionId: 'sendEmail',
        input: email('sync'),
      });
      expect(res.status).toBe(200);
      expect(res.body.output.id).toEqual(expect.any(String));
    }

    const client = apiClient(engine.baseUrl, projects[0]!.projectKey);
    const accepted = await client.post(
      '/v1/executions',
      { connectorId: 'resend', actionId: 'sendEmail', input: email('async') },
      { prefer: 'respond-async' },
    );
    expect(accepted.status).toBe(202);
    const done = await eventually(async () => {
      const inv = await client.get(`/v1/invocations/${accepted.body.invocationId}`);
      return inv.body.status === 'succeeded' ? inv.body : undefined;
    });
    expect(done.attempts).toBe(1);

    const headers = { 'idempotency-key': 'order-42' };
    const first = await client.post(
      '/v1/executions',
      { connectorId: 'resend', actionId: 'sendEmail', input: email('once') },
      headers,
    );
    const again = await client.post(
      '/v1/executions',
      { connectorId: 'resend', actionId: 'sendEmail', input: email('once') },
      headers,
    );
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.body.invocationId).toBe(first.body.invocationId);
    expect(
      fake.requests.filter(
        (r) => r.path === '/emails' && (r.json as { subject?: string } | undefined)?.subject === 'once',
      ),
    ).toHaveLength(1);
  });

  it('refuses a sync call over the project limit with 429 and Retry-After', async () => {
    const { projectId, projectKey } = await setUpProject(admin, {
      connectorId: 'resend',
      credentials: { apiKey: RESEND_FAKE_FULL_KEY },
    });
    await admin.patch(`/v1/projects/${projectId}`, { rateLimits: { resend: 1 } });
    const client = apiClient(engine.baseUrl, projectKey);
    const call = () =>
      client.post('/v1/executions?timeoutMs=2000', {
        connectorId: 'resend',
        actionId: 'sendEmail',
        input: email('lim'),
      });
    expect((await call()).status).toBe(200);
    const refused = await call();
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('marks a connection broken on a revoked key, fails later calls fast, and delivers connection.broken', async () => {
    const hook = await admin.post('/v1/webhooks', { url: receiver.url, events: ['connection.broken'] });
    expect(hook.status).toBe(201);
    const key = 're_cluster_revoked_00000001';
    fake.addKey(key, 'full');
    const { projectKey, connectionId } = await setUpProject(admin, {
      connectorId: 'resend',
      credentials: { apiKey: key },
    });
    const client = apiClient(engine.baseUrl, projectKey);
    fake.revokeKey(key);
    const failed = await client.post('/v1/executions', {
      connectorId: 'resend',
      actionId: 'sendEmail',
      input: email('x'),
    });
    expect(failed.body.error.code).toBe('connection_broken');
    expect((await admin.get(`/v1/connections/${connectionId}`)).body.status).toBe('broken');

    fake.reset();
    const fast = await client.post('/v1/executions', {
      connectorId: 'resend',
      actionId: 'sendEmail',
      input: email('y'),
    });
    expect(fast.status).toBe(409);
    expect(fake.requests).toHaveLength(0);
    const delivered = await eventually(
      () =>
        receiver.received.find(
          (d) => d.body.type === 'connection.broken' && d.body.data.connection.id === connectionId,
        ),
      30_000,
    );
    expect(delivered.body.data.connection.status).toBe('broken');
  });
});
