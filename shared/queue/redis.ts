import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config.ts';

/**
 * What the engine talks to: one Redis, or a Redis Cluster (docs/decisions/0015). Both speak the same
 * commands; the few places that differ (BullMQ key prefixes, sharded pub/sub) ask `isCluster`.
 */
export type RedisClient = Redis | Cluster;

/** Where Redis is: REDIS_URL, and the cluster's seed nodes when it is a cluster. */
export type RedisSettings = Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>;

export type RedisRole = 'worker' | 'api' | 'subscriber';

/**
 * Redis connections. BullMQ workers need `maxRetriesPerRequest: null` (blocking commands must wait
 * out a Redis restart rather than fail); the api's own commands fail fast instead so it can answer 503.
 * A bare URL (bench, tools) or settings without cluster nodes give a single `Redis`, exactly as before
 * clusters were supported: the hot path pays nothing for them.
 */
export function createRedis(target: string | RedisSettings, role: RedisRole, extra: RedisOptions = {}): RedisClient {
  const url = typeof target === 'string' ? target : target.REDIS_URL;
  const options: RedisOptions = {
    maxRetriesPerRequest: role === 'api' ? 1 : null,
    enableOfflineQueue: role !== 'api',
    connectionName: `connector-engine:${role}`,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    ...extra,
  };
  const nodes = typeof target === 'string' ? [] : target.REDIS_CLUSTER_NODES;
  if (nodes.length === 0) return new Redis(url, options);
  return new Cluster(nodes.map(parseNode), {
    // REDIS_URL's credentials and TLS apply to every node; the rest of the URL (host, db) does not:
    // a cluster has one database, and its nodes are discovered from the seeds.
    redisOptions: { ...options, ...credentialsOf(url) },
    enableOfflineQueue: options.enableOfflineQueue,
    clusterRetryStrategy: (times) => Math.min(times * 200, 2_000),
    // A failover moves slots: look them up again soon rather than on the 5 s refresh.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    // Workers ride out a failover (a few seconds of redirections); the api gives up sooner and answers 503.
    maxRedirections: role === 'api' ? 16 : 100,
    // The reply listener subscribes with SSUBSCRIBE, one subscriber per master (reply-channel.ts).
    shardedSubscribers: role === 'subscriber',
  });
}

function parseNode(node: string): { host: string; port: number } {
  const at = node.lastIndexOf(':');
  return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
}

function credentialsOf(url: string): RedisOptions {
  const u = new URL(url);
  return {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * A BullMQ queue's key prefix. On one Redis, BullMQ's default (`bull`), so key names stay as they
 * always were. On a cluster every key of a queue must be in one hash slot (BullMQ's scripts touch
 * several), and each queue should have its own slot so queues spread over the masters: the prefix is
 * a hash tag, naming the queue unless a `tag` is given (the execute shards pick theirs, see
 * execute-queues.ts). Api and workers must use the same one, so both call this.
 */
export function queuePrefix(connection: RedisClient, queueName: string, tag = `ce:${queueName}`): { prefix?: string } {
  return connection.isCluster ? { prefix: `{${tag}}` } : {};
}
