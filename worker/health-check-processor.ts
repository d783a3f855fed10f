import type { Job } from 'bullmq';
import { findConnector } from '../connectors/registry.ts';
import { UpstreamVerdictUnavailable } from '../connectors/toolkit/classify.ts';
import { testCredentials } from '../connectors/toolkit/credential-test.ts';
import type { Config } from '../shared/config.ts';
import { markConnectionBroken } from '../shared/connections/connection-status.ts';
import { RefreshRejected, RefreshUnavailable, type CredentialRefresher } from '../shared/connections/credential-refresher.ts';
import { upstreamClientFor } from '../shared/connections/upstream-for.ts';
import type { Db } from '../shared/db/database.ts';
import type { Logger } from '../shared/logger.ts';
import { connectionsBroken, healthChecks } from '../shared/metrics.ts';
import type { HealthCheckJobData } from '../shared/queue/maintenance-jobs.ts';
import type { ConnectionEvents } from '../shared/webhooks/connection-events.ts';

/**
 * Re-tests an active connection's credentials, so a revoked key is found before a user's call
 * fails. The verdict changes the status exactly as a call's would: only a definitive rejection of
 * the current credentials breaks it; no verdict (upstream down) changes nothing.
 */
export function createHealthCheckProcessor(deps: { db: Db; config: Config; refresher: CredentialRefresher; events: ConnectionEvents; logger: Logger }) {
  const { db, config, refresher, events, logger } = deps;
  return async function checkConnection(job: Job<HealthCheckJobData>): Promise<void> {
    const row = await db.selectFrom('connections').selectAll().where('id', '=', job.data.connectionId).executeTakeFirst();
    const connector = row && findConnector(row.connector_id);
    if (!row || !connector || row.status !== 'active') return;
    try {
      const usable = await refresher.usable(connector, row);
      const verdict = await testCredentials(connector, upstreamClientFor(connector, usable.credentials, config));
      healthChecks.inc({ connector: connector.id, result: verdict.valid ? 'valid' : 'invalid' });
      if (!verdict.valid && (await markConnectionBroken(db, row.id, usable.version, `Health check: credentials rejected: ${verdict.reason}`))) {
        logger.warn({ connectionId: row.id }, 'health check broke the connection');
        connectionsBroken.inc({ connector: connector.id, source: 'health_check' });
        await events.emit('connection.broken', row.id);
      }
    } catch (err) {
      if (err instanceof RefreshRejected) return; // the refresher already broke it and told the webhooks
      if (err instanceof UpstreamVerdictUnavailable || err instanceof RefreshUnavailable) {
        healthChecks.inc({ connector: connector.id, result: 'inconclusive' });
        logger.info({ connectionId: row.id, err: err.message }, 'health check inconclusive');
        return;
      }
      throw err;
    }
  };
}
