import { sql } from 'kysely';
import type { LookupCache } from '../../shared/cache/lookup-cache.ts';
import { lookupTag } from '../../shared/cache/lookup-invalidation.ts';
import type { Db } from '../../shared/db/database.ts';
import { ApiError, notFound } from '../../shared/errors.ts';
import { isWellFormedId } from '../../shared/ids.ts';

/** Read-only: one cached target is shared by every call that resolves to it. */
export interface ExecutionTarget {
  readonly projectId: string;
  readonly rateLimits: Readonly<Record<string, number>>;
  /** The project's own cap on calls running at once, or null. */
  readonly maxRunningCalls: number | null;
  readonly connection: {
    readonly id: string;
    readonly status: 'active' | 'broken';
    readonly statusReason: string | null;
  };
}

/**
 * The project a call runs for (in the caller's workspace) and the connection it runs on: the one
 * named (bound to the project, of the connector), or else the only connection of that connector
 * bound to the project. On every execution's path, so a found target is served from `cache`
 * (docs/decisions/0016-lookup-cache.md), tagged by the workspace, the project (its limits and its
 * bindings) and the connection (its status); a refusal is looked up again every time.
 */
export class TargetResolver {
  constructor(
    private readonly db: Db,
    private readonly cache: LookupCache<ExecutionTarget>,
  ) {}

  async resolve(
    workspaceId: string,
    projectId: string,
    connectorId: string,
    connectionId?: string,
  ): Promise<ExecutionTarget> {
    if (!isWellFormedId('project', projectId)) throw notFound('project');
    if (connectionId !== undefined && !isWellFormedId('connection', connectionId)) {
      throw new ApiError('no_connection', 'No such connection is bound to this project.');
    }
    const key = `${workspaceId}\n${projectId}\n${connectorId}\n${connectionId ?? ''}`;
    const target = await this.cache.get(key, async () => {
      const found = await lookUpTarget(this.db, workspaceId, projectId, connectorId, connectionId);
      const tags = [
        lookupTag.workspace(workspaceId),
        lookupTag.project(projectId),
        lookupTag.connection(found.connection.id),
      ];
      return { value: found, tags };
    });
    return target!;
  }
}

/** One round trip: the project, and its bound connections of the connector (two at most, to tell "several"). */
async function lookUpTarget(
  db: Db,
  workspaceId: string,
  projectId: string,
  connectorId: string,
  connectionId: string | undefined,
): Promise<ExecutionTarget> {
  const rows = await sql<{
    rate_limits: Record<string, number>;
    max_running_calls: number | null;
    id: string | null;
    status: 'active' | 'broken' | null;
    status_reason: string | null;
  }>`
    select p.rate_limits, p.max_running_calls, c.id, c.status, c.status_reason
      from projects p
      left join lateral (
        select c.id, c.status, c.status_reason
          from project_connections b join connections c on c.id = b.connection_id
         where b.project_id = p.id and c.connector_id = ${connectorId}
           ${connectionId !== undefined ? sql`and c.id = ${connectionId}` : sql``}
         limit 2) c on true
     where p.id = ${projectId} and p.workspace_id = ${workspaceId}`.execute(db);

  const first = rows.rows[0];
  if (!first) throw notFound('project');
  if (first.id === null || first.status === null) {
    throw new ApiError(
      'no_connection',
      connectionId !== undefined
        ? `No ${connectorId} connection with that id is bound to this project.`
        : `No ${connectorId} connection is bound to this project.`,
    );
  }
  if (rows.rows.length > 1) {
    throw new ApiError(
      'ambiguous_connection',
      `Several ${connectorId} connections are bound to this project; name one with connectionId.`,
    );
  }
  return {
    projectId,
    rateLimits: first.rate_limits,
    maxRunningCalls: first.max_running_calls,
    connection: { id: first.id, status: first.status, statusReason: first.status_reason },
  };
}
