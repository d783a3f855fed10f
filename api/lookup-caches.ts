import { LookupCache } from '../shared/cache/lookup-cache.ts';
import { registerForLocalInvalidation } from '../shared/cache/lookup-invalidation.ts';
import { LookupInvalidationListener } from '../shared/cache/lookup-invalidation-listener.ts';
import type { Config } from '../shared/config.ts';
import type { Logger } from '../shared/logger.ts';
import type { ExecutionTarget } from './execution/resolve-target.ts';
import type { ApiKeyRow } from './middleware/authenticate.ts';

/** The api's caches of the two lookups on every call's path (docs/decisions/0016-lookup-cache.md). */
export interface LookupCaches {
  /** Unrevoked keys by their hash (api/middleware/authenticate.ts). */
  keys: LookupCache<ApiKeyRow>;
  /** Call targets: project and connection (api/execution/resolve-target.ts). */
  targets: LookupCache<ExecutionTarget>;
}

/** Entries per cache: a few MB at most; past it, the least recently used key or target is looked up again. */
const MAX_ENTRIES = 10_000;

/**
 * Creates the caches and what keeps them true: this process's own writes (invalidateLookups) and
 * everyone's, through one LISTEN connection. They serve nothing until it listens, and nothing at all
 * with LOOKUP_CACHE_TTL_MS=0 (no connection is opened then).
 */
export async function startLookupCaches(
  config: Config,
  logger: Logger,
): Promise<{ caches: LookupCaches; stop(): Promise<void> }> {
  const options = { ttlMs: config.LOOKUP_CACHE_TTL_MS, maxEntries: MAX_ENTRIES };
  const caches: LookupCaches = {
    keys: new LookupCache<ApiKeyRow>('api_key', options),
    targets: new LookupCache<ExecutionTarget>('target', options),
  };
  const all = [caches.keys, caches.targets];
  const unregister = all.map((cache) => registerForLocalInvalidation(cache));
  const listener =
    config.LOOKUP_CACHE_TTL_MS > 0 ? new LookupInvalidationListener(config.DATABASE_URL, all, logger) : undefined;
  await listener?.start();
  return {
    caches,
    async stop() {
      for (const done of unregister) done();
      await listener?.stop();
    },
  };
}
