import type { ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import { invalidateLookups, lookupTag } from '../../shared/cache/lookup-invalidation.ts';
import { credentialsHint, sealCredentials } from '../../shared/connections/credentials.ts';
import type { Vault } from '../../shared/crypto/vault.ts';
import type { Db } from '../../shared/db/database.ts';
import { notFound } from '../../shared/errors.ts';
import { isWellFormedId, newId } from '../../shared/ids.ts';

export interface NewConnection {
  workspaceId: string;
  connector: ConnectorDefinition;
  displayName: string;
  externalId: string | null;
  credentials: Record<string, string>;
  status: 'active' | 'broken';
  statusReason: string | null;
  projectIds: string[];
  /** HEALTH_CHECK_INTERVAL_MS: the first check falls at a random point of one interval, spreading the load. */
  healthCheckIntervalMs: number;
}

/** Throws 404 unless every id names a project of the workspace. */
export async function assertProjectsInWorkspace(db: Db, workspaceId: string, projectIds: string[]): Promise<void> {
  if (projectIds.length === 0) return;
  const valid = projectIds.every((id) => isWellFormedId('project', id));
  const found = valid
    ? await db
        .selectFrom('projects')
        .select('id')
        .where('workspace_id', '=', workspaceId)
        .where('id', 'in', projectIds)
        .execute()
    : [];
  if (found.length !== projectIds.length) throw notFound('project');
}

/** Stores a connection, its credentials sealed to its own id, and its bindings, in one transaction. */
export async function insertConnection(db: Db, vault: Vault, c: NewConnection): Promise<string> {
  const id = newId('connection');
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('connections')
      .values({
        id,
        workspace_id: c.workspaceId,
        connector_id: c.connector.id,
        display_name: c.displayName,
        external_id: c.externalId,
        status: c.status,
        status_reason: c.statusReason,
        ...sealCredentials(vault, id, c.credentials),
        credentials_hint: JSON.stringify(credentialsHint(c.connector, c.credentials)),
        next_health_check_at:
          c.healthCheckIntervalMs > 0 ? new Date(Date.now() + Math.random() * c.healthCheckIntervalMs) : null,
      })
      .execute();
    if (c.projectIds.length > 0) {
      await trx
        .insertInto('project_connections')
        .values(c.projectIds.map((projectId) => ({ project_id: projectId, connection_id: id })))
        .execute();
    }
  });
  // A project that had one connection of this connector now has two: its calls must name one.
  invalidateLookups(...c.projectIds.map(lookupTag.project));
  return id;
}
