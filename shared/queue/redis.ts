import { Redis, type RedisOptions } from 'ioredis';

/**
 * Redis connections. BullMQ workers need `maxRetriesPerRequest: null` (blocking commands must wait
 * out a Redis restart rather than fail); the api's own commands fail fast instead so it can answer 503.
 */
export function createRedis(url: string, role: 'worker' | 'api' | 'subscriber', extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === 'api' ? 1 : null,
    enableOfflineQueue: role !== 'api',
    connectionName: `connector-engine:${role}`,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    ...extra,
  });
}
