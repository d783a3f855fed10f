import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executeShard } from '../../shared/queue/execute-queues.ts';
import { SLACK_FAKE_BOT_TOKEN, type SlackFake, startSlackFake } from '../fakes/slack/slack-fake.ts';
import { type Engine, startEngine, waitForLog } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.ts';
import { eventually } from '../support/webhooks.ts';

/**
 * A Redis master dies under load (SIGKILL) and its replica takes over (cluster-node-timeout 2 s).
 * Every call the api accepted must end terminal, with its one row, and a Slack postMessage (a write
 * Slack does not dedupe) must never reach Slack twice, whatever BullMQ saw or lost in the failover.
 */
describe('a Redis Cluster master fails under load', () => {
  let cluster: TestRedisCluster;
  let slack: SlackFake;
  let engine: Engine;
  let admin: ApiClient;
  let db: pg.Client;

  beforeAll(async () => {
    cluster = await startRedisCluster({ nodeTimeoutMs: 2_000 });
    slack = await startSlackFake();
    // Real processes: a worker's BullMQ connection closing after a failover may take long (see
    // docs/decisions/0015); stop() ends a process that does not exit on SIGTERM within 10 s.
    engine = await startEngine({
      mode: 'processes',
      workers: 2,
      env: {
        REDIS_URL: cluster.url,
        REDIS_CLUSTER_NODES: cluster.seeds,
        EXECUTE_QUEUE_SHARDS: '3',
        SLACK_API_URL: `${slack.url}/api`,
        // A job lost with the master (written to it, not yet to its replica) is closed within seconds.
        MAINTENANCE_TICK_MS: '1000',
        UNFINISHED_SWEEP_AFTER_MS: '10000',
        LOG_LEVEL: 'info',
      },
    });
    await waitForLog(engine, /worker ready/, 2);
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    db = new pg.Client({ connectionString: engine.database.url });
    await db.connect();
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await engine?.stop();
    await slack?.close();
    await cluster?.stop();
  }, 60_000);

  it('ends every accepted call terminal, one row each, and posts no message twice', async () => {
    const projects = await Promise.all(
      Array.from({ length: 4 }, () =>
        setUpProject(admin, { connectorId: 'slack', credentials: { botToken: SLACK_FAKE_BOT_TOKEN } }),
      ),
    );
    slack.requests.length = 0;
    slack.setLatency(100); // calls are in flight when the master dies

    const accepted = new Map<string, string>(); // invocation id → its message text
    const unexpected: unknown[] = [];
    let sent = 0;
    let stop = false;
    const poster = async (caller: number) => {
      const client = apiClient(engine.baseUrl, projects[caller % projects.length]!.projectKey);
      while (!stop) {
        const text = `failover ${caller} ${sent++}`;
        const sync = sent % 3 === 0;
        const res = await client.post(
          '/v1/executions?timeoutMs=20000',
          { connectorId: 'slack', actionId: 'postMessage', input: { channel: 'C0FAKEGEN01', text } },
          sync ? {} : { prefer: 'respond-async' },
        );
        // An answer naming an invocation (a result, 202, or a failure of an accepted call) has a row to end.
        if (res.body.invocationId) accepted.set(res.body.invocationId, text);
        // While the slots move, a call may be refused with 503 unavailable, and a sync call that
        // waited through the promotion may answer 504 timeout (it goes on: its row must end): never a 500.
        const refused = res.status === 503 && res.body.error.code === 'unavailable';
        const timedOut = res.status === 504 && res.body.error.code === 'timeout' && res.body.invocationId;
        if (res.status >= 500 && !refused && !timedOut) unexpected.push(res.body);
        if (res.status === 503) await new Promise((r) => setTimeout(r, 100));
      }
    };
    const posters = Array.from({ length: 8 }, (_, i) => poster(i));
    let victim: number;
    try {
      await eventually(() => (accepted.size >= 40 ? true : undefined), 60_000);
      victim = await cluster.masterOf(`{${executeShard(0, 3).tag}}`);
      cluster.kill(victim);
      await cluster.waitForFailover(victim, 60_000);
      const acceptedAtFailover = accepted.size;
      // Keep the load on after the failover: calls go on being accepted and run.
      await eventually(() => (accepted.size >= acceptedAtFailover + 40 ? true : undefined), 60_000);
    } finally {
      stop = true;
      await Promise.all(posters);
    }
    expect(await cluster.masters()).not.toContain(victim);
    expect(unexpected).toEqual([]);

    const ids = [...accepted.keys()];
    const rows = await eventually(async () => {
      const { rows } = await db.query<{ id: string; status: string }>(
        'SELECT id, status FROM invocations WHERE id = ANY($1)',
        [ids],
      );
      return rows.every((r) => r.status === 'succeeded' || r.status === 'failed') ? rows : undefined;
    }, 120_000);
    expect(rows).toHaveLength(ids.length);

    const posts = new Map<string, number>();
    for (const r of slack.requests) {
      if (r.path !== '/api/chat.postMessage') continue;
      const text = (r.json as { text?: string } | undefined)?.text ?? '';
      posts.set(text, (posts.get(text) ?? 0) + 1);
    }
    expect([...posts.entries()].filter(([, n]) => n > 1)).toEqual([]);
    const succeeded = rows.filter((r) => r.status === 'succeeded');
    for (const r of succeeded) expect(posts.get(accepted.get(r.id)!)).toBe(1);
    // Most calls ran: the failover cost a few, not the run.
    expect(succeeded.length).toBeGreaterThan(ids.length / 2);
  }, 300_000);
});
