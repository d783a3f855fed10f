import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { ConnectionRow } from '../db/schema.ts';
import { notFound } from '../errors.ts';
import { toIso as iso } from '../iso-time.ts';

/**
 * The `Connection` resource of docs/api.md, used by API responses and webhook payloads alike: the row
 * with its bound project ids, never the sealed credential columns.
 */
export type ConnectionWithBindings = Pick<
  ConnectionRow,
  | 'id'
  | 'workspace_id'
  | 'connector_id'
  | 'display_name'
  | 'external_id'
  | 'status'
  | 'status_reason'
  | 'status_changed_at'
  | 'credentials_version'
  | 'credentials_hint'
  | 'created_at'
  | 'updated_at'
> & { project_ids: string[] | null };

export function selectConnections(db: Db) {
  return db
    .selectFrom('connections as c')
    .select([
      'c.id',
      'c.workspace_id',
      'c.connector_id',
      'c.display_name',
      'c.external_id',
      'c.status',
      'c.status_reason',
      'c.status_changed_at',
      'c.credentials_version',
      'c.credentials_hint',
      'c.created_at',
      'c.updated_at',
      sql<string[]>`coalesce((select array_agg(pc.project_id order by pc.project_id) from project_connections pc where pc.connection_id = c.id), '{}')`.as(
        'project_ids',
      ),
    ]);
}

export async function loadConnection(db: Db, workspaceId: string, id: string): Promise<ConnectionWithBindings> {
  const row = await selectConnections(db).where('c.id', '=', id).where('c.workspace_id', '=', workspaceId).executeTakeFirst();
  if (!row) throw notFound('connection');
  return row;
}


export function presentConnection(c: ConnectionWithBindings) {
  return {
    id: c.id,
    connectorId: c.connector_id,
    displayName: c.display_name,
    status: c.status,
    statusReason: c.status_reason,
    statusChangedAt: iso(c.status_changed_at),
    externalId: c.external_id,
    projectIds: c.project_ids ?? [],
    credentialsHint: c.credentials_hint,
    createdAt: iso(c.created_at),
    updatedAt: iso(c.updated_at),
  };
}

export type ConnectionResource = ReturnType<typeof presentConnection>;
