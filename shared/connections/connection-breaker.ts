import type { Db } from '../db/database.ts';
import type { Logger } from '../logger.ts';
import { connectionsBroken } from '../metrics.ts';
import type { ConnectionEvents } from '../webhooks-out/connection-events.ts';
import { markConnectionBroken, markConnectionRestored } from './connection-status.ts';

/** What found the credentials dead: a call, a token refresh, the periodic health check, or a test on request. */
export type BreakSource = 'call' | 'refresh' | 'health_check' | 'test';

/**
 * The one sequence for a connection whose credentials the upstream rejected: mark it broken (only if
 * the rejected credentials are still the current ones, docs/design.md, decision 4), then count it, log it and
 * tell the workspace's webhooks. Every path that can break a connection goes through here.
 */
export class ConnectionBreaker {
  constructor(
    private readonly db: Db,
    private readonly events: ConnectionEvents,
    private readonly logger: Logger,
  ) {}

  /** True when this call turned the connection broken (false: already broken, or credentials replaced). */
  async markBroken(
    connection: { id: string; connectorId: string },
    credentialsVersion: number,
    reason: string,
    source: BreakSource,
  ): Promise<boolean> {
    const changed = await markConnectionBroken(this.db, connection.id, credentialsVersion, reason);
    if (!changed) return false;
    this.logger.warn({ connectionId: connection.id, source }, 'connection marked broken');
    connectionsBroken.inc({ connector: connection.connectorId, source });
    await this.events.emit('connection.broken', connection.id);
    return true;
  }

  /** A passing test of the current credentials restores a broken connection (and tells the webhooks). */
  async markRestored(connectionId: string, credentialsVersion: number): Promise<boolean> {
    if (!(await markConnectionRestored(this.db, connectionId, credentialsVersion))) return false;
    this.logger.info({ connectionId }, 'connection restored');
    await this.events.emit('connection.restored', connectionId);
    return true;
  }
}
