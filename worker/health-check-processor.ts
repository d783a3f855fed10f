import type { Job } from 'bullmq';
import { UpstreamVerdictUnavailable } from '../connectors/toolkit/classify.ts';
import { testCredentials } from '../connectors/toolkit/credential-test.ts';
import type { Config } from '../shared/config.ts';
import type { ConnectionBreaker } from '../shared/connections/connection-breaker.ts';
import {
  type CredentialRefresher,
  RefreshRejected,
  RefreshUnavailable,
} from '../shared/connections/credential-refresher.ts';
import { upstreamClientFor } from '../shared/connections/upstream-for.ts';
import type { ConnectorLookup } from '../shared/custom-connectors/connector-lookup.ts';
import type { Db } from '../shared/db/database.ts';
import type { Logger } from '../shared/logger.ts';
import { healthChecks } from '../shared/metrics.ts';
import type { HealthCheckJobData } from '../shared/queue/maintenance-jobs.ts';

/**
 * Re-tests an active connection's credentials, so a revoked key is found before a user's call
 * fails. The verdict changes the status exactly as a call's would: only a definitive rejection of
 * the current credentials breaks it; no verdict (upstream down) changes nothing.
 */
export function createHealthCheckProcessor(deps: {
  db: Db;
  config: Config;
  refresher: CredentialRefresher;
  breaker: ConnectionBreaker;
  logger: Logger;
  connectors: ConnectorLookup;
}) {
  const { db, config, refresher, breaker, logger } = deps;
  return async function checkConnection(job: Job<HealthCheckJobData>): Promise<void> {
    const row = await db
      .selectFrom('connections')
      .selectAll()
      .where('id', '=', job.data.connectionId)
      .executeTakeFirst();
    const connector = row && (await deps.connectors.find(row.workspace_id, row.connector_id));
    if (!row || !connector || row.status !== 'active') return;
    try {
      const usable = await refresher.testable(connector, row);
      const verdict = await testCredentials(
        connector,
        upstreamClientFor(connector, usable.credentials, config),
        usable.credentials,
      );
      healthChecks.inc({ connector: connector.id, result: verdict.valid ? 'valid' : 'invalid' });
      if (!verdict.valid) {
        await breaker.markBroken(
          { id: row.id, connectorId: connector.id },
          usable.version,
          `Health check: credentials rejected: ${verdict.reason}`,
          'health_check',
        );
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
