import type { Queue } from 'bullmq';
import { sql } from 'kysely';
import type { Config } from '../shared/config.ts';
import type { ConnectorLookup } from '../shared/custom-connectors/connector-lookup.ts';
import type { Db } from '../shared/db/database.ts';
import { dropPartitionsBefore, ensureMonthlyPartitions } from '../shared/db/partitions.ts';
import { IDEMPOTENCY_WINDOW_MS, pruneIdempotencyKeys } from '../shared/invocations/idempotency-keys.ts';
import { retentionCutoff } from '../shared/invocations/retention.ts';
import { RateLimitPolicy } from '../shared/limiter/rate-limit-policy.ts';
import { limitKey, type SlidingWindowLimiter } from '../shared/limiter/sliding-window-limiter.ts';
import type { Logger } from '../shared/logger.ts';
import { type HealthCheckJobData, healthCheckJobOptions } from '../shared/queue/maintenance-jobs.ts';

const BATCH = 500;

/**
 * One maintenance tick (run by one worker at a time, every MAINTENANCE_TICK_MS): claims the
 * connections whose health check is due and queues their checks spread over the tick, each on a
 * rate-limit slot of a project the connection is bound to, so checks count against the limit.
 */
export async function scheduleDueHealthChecks(deps: {
  db: Db;
  config: Config;
  limiter: SlidingWindowLimiter;
  healthQueue: Queue<HealthCheckJobData>;
  logger: Logger;
  connectors: ConnectorLookup;
}): Promise<number> {
  const { db, config, limiter, healthQueue } = deps;
  const interval = config.HEALTH_CHECK_INTERVAL_MS;
  if (interval <= 0) return 0;
  // Claim atomically: the next due time moves on by one interval (±10%), so concurrent ticks or a
  // crash after claiming never check a connection twice or hammer it.
  const due = await sql<{
    id: string;
    workspace_id: string;
    connector_id: string;
    project_id: string | null;
    rate_limits: Record<string, number> | null;
  }>`
    with claimed as (
      update connections set next_health_check_at = now() + ${interval} * (0.9 + random() * 0.2) * interval '1 millisecond'
       where id in (select id from connections where status = 'active' and next_health_check_at <= now()
                     order by next_health_check_at limit ${BATCH} for update skip locked)
   returning id, workspace_id, connector_id)
    select c.id, c.workspace_id, c.connector_id, p.id as project_id, p.rate_limits
      from claimed c
      left join lateral (select pr.id, pr.rate_limits from project_connections pc join projects pr on pr.id = pc.project_id
                          where pc.connection_id = c.id order by pr.id limit 1) p on true`.execute(db);

  const now = Date.now();
  for (const c of due.rows) {
    const connector = await deps.connectors.find(c.workspace_id, c.connector_id);
    if (!connector) continue;
    let delay = Math.floor(Math.random() * config.MAINTENANCE_TICK_MS);
    if (c.project_id) {
      const slot = await limiter.reserve(
        {
          key: limitKey(c.project_id, connector.id),
          limitPerMinute: new RateLimitPolicy(config).limitFor(c.rate_limits ?? {}, connector),
          member: `health:${c.id}:${now}`,
          notBefore: now + delay,
        },
        now,
      );
      if (slot.granted) delay = slot.delayMs;
    }
    await healthQueue.add(
      'check',
      { connectionId: c.id },
      { ...healthCheckJobOptions, jobId: `health:${c.id}:${now}`, delay, priority: 1000 },
    );
  }
  if (due.rows.length) deps.logger.info({ count: due.rows.length }, 'health checks scheduled');
  return due.rows.length;
}

/**
 * The audit log's partitions, once per tick (docs/operations.md, "Partition maintenance"): the
 * months ahead are created, Idempotency-Keys past their window released, and, when
 * AUDIT_LOG_RETENTION_DAYS is set, the months entirely past it dropped. DDL waits for locks only
 * briefly; what could not be done is retried at the next tick.
 */
export async function maintainAuditLog(deps: { db: Db; config: Config; logger: Logger }): Promise<void> {
  const { db, config, logger } = deps;
  const created = await ensureMonthlyPartitions(db, config.PARTITIONS_AHEAD_MONTHS);
  if (created.length) logger.info({ created }, 'audit log: partitions created');
  const released = await pruneIdempotencyKeys(db, new Date(Date.now() - IDEMPOTENCY_WINDOW_MS));
  if (released) logger.debug({ released }, 'audit log: idempotency keys past their window released');
  if (config.AUDIT_LOG_RETENTION_DAYS > 0) {
    const dropped = await dropPartitionsBefore(db, retentionCutoff(config.AUDIT_LOG_RETENTION_DAYS));
    for (const d of dropped) logger.info(d, 'retention: audit rows dropped');
  }
}
