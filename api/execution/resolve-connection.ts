import type { Db } from '../../shared/db/database.ts';
import { ApiError } from '../../shared/errors.ts';
import { isWellFormedId } from '../../shared/ids.ts';

export interface ResolvedConnection {
  id: string;
  status: 'active' | 'broken';
  statusReason: string | null;
}

/**
 * The connection a call runs on: the one named (it must be bound to the project and be of the
 * connector), or else the only connection of that connector bound to the project.
 */
export async function resolveConnection(db: Db, projectId: string, connectorId: string, connectionId?: string): Promise<ResolvedConnection> {
  if (connectionId !== undefined && !isWellFormedId('connection', connectionId)) {
    throw new ApiError('no_connection', 'No such connection is bound to this project.');
  }
  let query = db
    .selectFrom('connections as c')
    .innerJoin('project_connections as b', 'b.connection_id', 'c.id')
    .select(['c.id', 'c.status', 'c.status_reason'])
    .where('b.project_id', '=', projectId)
    .where('c.connector_id', '=', connectorId)
    .limit(2);
  if (connectionId !== undefined) query = query.where('c.id', '=', connectionId);
  const rows = await query.execute();
  if (rows.length === 0) {
    throw new ApiError(
      'no_connection',
      connectionId !== undefined
        ? `No ${connectorId} connection with that id is bound to this project.`
        : `No ${connectorId} connection is bound to this project.`,
    );
  }
  if (rows.length > 1) {
    throw new ApiError('ambiguous_connection', `Several ${connectorId} connections are bound to this project; name one with connectionId.`);
  }
  const row = rows[0]!;
  return { id: row.id, status: row.status, statusReason: row.status_reason };
}
