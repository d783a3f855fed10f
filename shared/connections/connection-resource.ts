import { sql } from 'kysely';
import type { Connection } from '../api-resources.ts';
import type { Db } from '../db/database.ts';
import type { ConnectionRow } from '../db/schema.ts';
import { notFound } from '../errors.ts';
import { inboundUrlOf } from '../inbound/inbound-url.ts';
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
      sql<
        string[]
      >`coalesce((select array_agg(pc.project_id order by pc.project_id) from project_connections pc where pc.connection_id = c.id), '{}')`.as(
        'project_ids',
      ),
    ]);
}

export async function loadConnection(db: Db, workspaceId: string, id: string): Promise<ConnectionWithBindings> {
  const row = await selectConnections(db)
    .where('c.id', '=', id)
    .where('c.workspace_id', '=', workspaceId)
    .executeTakeFirst();
  if (!row) throw notFound('connection');
  return row;
}

/**
 * The `Connection` resource. A connection of a connector that accepts events also has `inboundUrl`,
 * the absolute URL its service posts events to (from `publicBaseUrl`, i.e. PUBLIC_URL).
 */
export function presentConnection(c: ConnectionWithBindings, publicBaseUrl: string): Connection {
  const inboundUrl = inboundUrlOf(publicBaseUrl, c.connector_id, c.id);
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
    ...(inboundUrl ? { inboundUrl } : {}),
  };
}

export type ConnectionPresenter = (c: ConnectionWithBindings) => ReturnType<typeof presentConnection>;

/** presentConnection with this server's public base URL bound, for routes and event payloads. */
export const connectionPresenter =
  (publicBaseUrl: string): ConnectionPresenter =>
  (c) =>
    presentConnection(c, publicBaseUrl);

export type ConnectionResource = ReturnType<typeof presentConnection>;
