import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { findFreePort, findRedisServer, type LocalService, startRedis } from '../../scripts/lib/local-services.ts';

/**
 * A real Redis Cluster for the tests that need one (docs/operations.md, "Redis Cluster"): 3 masters and
 * 3 replicas of local redis-server processes on free ports, made a cluster by
 * `redis-cli --cluster create … --cluster-replicas 1`. Started by each test file that asks for it, so
 * the rest of the suite never pays for it, and so a file may kill its nodes. A short
 * `cluster-node-timeout` makes a replica take over a killed master within a few seconds.
 */
export interface TestRedisCluster {
  /** Every node, `127.0.0.1:port`, comma-separated: a REDIS_CLUSTER_NODES value. */
  seeds: string;
  /** redis://127.0.0.1:<a node's port>: the REDIS_URL that goes with `seeds`. */
  url: string;
  /** The masters now serving slots, as ports (from a live node's CLUSTER NODES). */
  masters(): Promise<number[]>;
  /** The master serving `key`'s slot, as a port. */
  masterOf(key: string): Promise<number>;
  /** SIGKILL one node: no goodbye, as a crashed machine. */
  kill(port: number): void;
  /** Resolves once every live node reports cluster_state:ok. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  /** Resolves once the killed master `port` is marked failed, a replica serves its slots, and the cluster is ok. */
  waitForFailover(port: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const run = promisify(execFile);

export async function startRedisCluster(options: { nodeTimeoutMs?: number } = {}): Promise<TestRedisCluster> {
  const server = findRedisServer();
  if (!server) throw new Error('redis-server is not installed (the cluster tests start local nodes)');
  const cli = path.join(path.dirname(server), 'redis-cli');
  // Named and owned like services.ts's temp dirs, so a killed run's leftovers are removed by a later run.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-test-cluster-'));
  fs.writeFileSync(path.join(dir, 'owner.pid'), String(process.pid));
  const nodes: LocalService[] = [];
  const killed = new Set<number>();
  const stop = async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const args = [
      '--cluster-enabled',
      'yes',
      '--cluster-node-timeout',
      String(options.nodeTimeoutMs ?? 2_000),
      '--cluster-config-file',
      'nodes.conf',
      // A replica takes over however long it has been apart from its master, and syncs at once.
      '--cluster-replica-validity-factor',
      '0',
      '--repl-diskless-sync-delay',
      '0',
    ];
    for (let i = 0; i < 6; i++) {
      // The bus port is set, not derived (port + 10000 may be past 65535 or taken).
      const bus = ['--cluster-port', String(await findFreePort())];
      const dataDir = path.join(dir, `node-${i}`);
      nodes.push(await startRedis({ dataDir, persistence: false, extraArgs: [...args, ...bus] }));
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run(cli, ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'], {
      timeout: 60_000,
    });
  } catch (err) {
    await stop();
    throw err;
  }

  const live = () => nodes.filter((n) => !killed.has(n.port));
  const ask = <T>(fn: (r: Redis) => Promise<T>): Promise<T> => askNode(live()[0]!, fn);
  /** [port, flags, slots…] of every node CLUSTER NODES lists. */
  const clusterNodes = async () =>
    (await ask((r) => r.call('CLUSTER', 'NODES') as Promise<string>))
      .trim()
      .split('\n')
      .map((line) => line.split(' '))
      .map((f) => ({ port: Number(f[1]!.split('@')[0]!.split(':')[1]), flags: f[2]!, slots: f.slice(8) }));
  const masters = async () =>
    (await clusterNodes()).filter((n) => n.flags.includes('master') && !n.flags.includes('fail')).map((n) => n.port);

  const cluster: TestRedisCluster = {
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    url: nodes[0]!.url,
    masters,
    async masterOf(key) {
      const slot = (await ask((r) => r.call('CLUSTER', 'KEYSLOT', key))) as number;
      for (const n of await clusterNodes()) {
        if (!n.flags.includes('master') || n.flags.includes('fail')) continue;
        for (const range of n.slots) {
          const [from, to = from] = range.split('-').map(Number);
          if (slot >= from! && slot <= to!) return n.port;
        }
      }
      throw new Error(`no master serves slot ${slot}`);
    },
    kill(port) {
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`no node on port ${port}`);
      killed.add(port);
      process.kill(node.pid, 'SIGKILL');
    },
    async waitUntilHealthy(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all(
          live().map((n) =>
            askNode(n, (r) => r.call('CLUSTER', 'INFO') as Promise<string>).then(
              (info) => /cluster_state:ok/.test(info),
              () => false,
            ),
          ),
        );
        if (states.every(Boolean)) return;
        if (Date.now() > deadline) throw new Error('the Redis Cluster did not become healthy in time');
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async waitForFailover(port, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = await clusterNodes().catch(() => []);
        const failed = now
          .find((n) => n.port === port)
          ?.flags.split(',')
          .includes('fail');
        const serving = now.filter((n) => n.flags.includes('master') && !n.flags.includes('fail') && n.slots.length);
        if (failed && serving.length === 3) break;
        if (Date.now() > deadline) throw new Error(`no replica took over from ${port} in time`);
        await new Promise((r) => setTimeout(r, 200));
      }
      await cluster.waitUntilHealthy(Math.max(1_000, deadline - Date.now()));
    },
    stop,
  };
  await cluster.waitUntilHealthy();
  // A replica that has not synced with its master yet cannot take over from it.
  await waitForReplicas(nodes, 60_000);
  return cluster;
}

async function waitForReplicas(nodes: LocalService[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const infos = await Promise.all(nodes.map((n) => askNode(n, (r) => r.info('replication')).catch(() => '')));
    const replicas = infos.filter((i) => /role:slave/.test(i));
    if (replicas.length === 3 && replicas.every((i) => /master_link_status:up/.test(i))) return;
    if (Date.now() > deadline) throw new Error('the Redis Cluster replicas did not sync in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Runs `fn` on a connection of its own to one node. */
async function askNode<T>(node: LocalService, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(node.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}
