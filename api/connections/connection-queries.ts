import { sql } from 'kysely';
import type { Db } from '../../shared/db/database.ts';
import { notFound } from '../../shared/errors.ts';
import type { ConnectionWithBindings } from '../resources/presenters.ts';

/** Connection rows with their bound project ids, never the sealed credential columns. */
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
