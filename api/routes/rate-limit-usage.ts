import { Router } from 'express';
import { sql } from 'kysely';
import { findConnector } from '../../connectors/registry.ts';
import type { Db } from '../../shared/db/database.ts';
import type { RateLimitPolicy } from '../../shared/limiter/rate-limit-policy.ts';
import { workspacePrincipal } from '../middleware/authenticate.ts';

const WINDOW_MINUTES = 60;

/**
 * `GET /v1/rate-limit-usage` (workspace key): for each project and connector with calls in the last
 * hour, the calls per minute and the per-minute limit in force, for the console's chart. The source
 * is the audit log (one row per accepted call, docs/audit-log.md), counted by minute in Postgres:
 * durable, exact for what was admitted, and free of any new write on the hot path. The limiter's own
 * Redis window only knows the current minute (docs/decisions/0012-console-frontend.md).
 */
export function rateLimitUsageRoutes(db: Db, limits: RateLimitPolicy): Router {
  const router = Router();

  router.get('/v1/rate-limit-usage', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const minute = sql<Date>`date_trunc('minute', i.created_at)`;
    const rows = await db
      .selectFrom('invocations as i')
      .innerJoin('projects as p', 'p.id', 'i.project_id')
      .select([
        'i.project_id',
        'i.connector_id',
        'p.display_name',
        'p.rate_limits',
        minute.as('minute'),
        (eb) => eb.fn.countAll<string>().as('calls'),
      ])
      .where('i.workspace_id', '=', workspaceId)
      .where(
        'i.created_at',
        '>=',
        sql<Date>`date_trunc('minute', now()) - make_interval(mins => ${WINDOW_MINUTES - 1})`,
      )
      .groupBy(['i.project_id', 'i.connector_id', 'p.display_name', 'p.rate_limits', minute])
      .orderBy('i.project_id')
      .orderBy('i.connector_id')
      .orderBy(minute)
      .execute();
    const series = new Map<
      string,
      {
        projectId: string;
        projectName: string;
        connectorId: string;
        limitPerMinute: number | null;
        minutes: { minute: string; calls: number }[];
      }
    >();
    for (const r of rows) {
      const key = `${r.project_id} ${r.connector_id}`;
      let s = series.get(key);
      if (!s) {
        const connector = findConnector(r.connector_id);
        s = {
          projectId: r.project_id,
          projectName: r.display_name,
          connectorId: r.connector_id,
          limitPerMinute: connector ? limits.limitFor(r.rate_limits, connector) : null,
          minutes: [],
        };
        series.set(key, s);
      }
      s.minutes.push({ minute: new Date(r.minute).toISOString(), calls: Number(r.calls) });
    }
    const now = new Date();
    now.setUTCSeconds(0, 0);
    res.json({
      windowStart: new Date(now.getTime() - (WINDOW_MINUTES - 1) * 60_000).toISOString(),
      windowEnd: now.toISOString(),
      data: [...series.values()],
    });
  });

  return router;
}
