import { Router } from 'express';
import { sql } from 'kysely';
import type { Db } from '../../shared/db/database.ts';
import type { RedisClient } from '../../shared/queue/redis.ts';

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);

/** Liveness and readiness, without auth. */
export function healthRoutes(db: Db, redis: RedisClient): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [postgres, redisOk] = await Promise.all([
      withTimeout(sql`select 1`.execute(db), 2_000).then(
        () => true,
        () => false,
      ),
      withTimeout(redis.ping(), 2_000).then(
        () => true,
        () => false,
      ),
    ]);
    const ready = postgres && redisOk;
    const checks = { postgres: postgres ? 'ok' : 'unavailable', redis: redisOk ? 'ok' : 'unavailable' };
    if (ready) res.json({ status: 'ok', checks });
    else
      res
        .status(503)
        .json({ error: { code: 'unavailable', message: 'A backing service is unavailable.', details: checks } });
  });
  return router;
}
