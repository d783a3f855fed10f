import { type Kysely, sql } from 'kysely';

/**
 * Tells every api process when a row its lookup cache may hold changes (docs/decisions/0016-lookup-cache.md):
 * `pg_notify('ce_lookup_invalidate', '<table>:<id>')`, sent at commit, whoever writes (an api, a
 * worker marking a connection broken, the CLI, psql). A binding names its project: binding or
 * unbinding changes which connection a project's calls resolve to. Connections notify only when what
 * a call reads changes (status, reason, owner, connector), not on credential refreshes or the
 * health-check schedule. A deleted workspace drops all its entries at once (its rows' cascaded
 * deletes fire their own triggers too).
 */
/** The tables whose deletes notify (every one a cached lookup reads, and the workspaces that own them). */
const deletesNotify = ['api_keys', 'projects', 'connections', 'project_connections', 'workspaces'];

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function ce_lookup_invalidate() returns trigger language plpgsql as $$
    begin
      if tg_table_name = 'project_connections' then
        if tg_op <> 'INSERT' then perform pg_notify('ce_lookup_invalidate', 'projects:' || old.project_id); end if;
        if tg_op <> 'DELETE' then perform pg_notify('ce_lookup_invalidate', 'projects:' || new.project_id); end if;
      elsif tg_op = 'DELETE' then
        perform pg_notify('ce_lookup_invalidate', tg_table_name || ':' || old.id);
      else
        perform pg_notify('ce_lookup_invalidate', tg_table_name || ':' || new.id);
      end if;
      return null;
    end $$`.execute(db);
  await sql`
    create trigger ce_lookup_invalidate_change after update on api_keys
      for each row when (old.* is distinct from new.*) execute function ce_lookup_invalidate()`.execute(db);
  await sql`
    create trigger ce_lookup_invalidate_change after update on projects
      for each row when (old.* is distinct from new.*) execute function ce_lookup_invalidate()`.execute(db);
  await sql`
    create trigger ce_lookup_invalidate_change after update on connections
      for each row when (old.status is distinct from new.status
                      or old.status_reason is distinct from new.status_reason
                      or old.workspace_id is distinct from new.workspace_id
                      or old.connector_id is distinct from new.connector_id)
      execute function ce_lookup_invalidate()`.execute(db);
  await sql`
    create trigger ce_lookup_invalidate_change after insert or update on project_connections
      for each row execute function ce_lookup_invalidate()`.execute(db);
  for (const table of deletesNotify) {
    await sql`
      create trigger ce_lookup_invalidate_delete after delete on ${sql.table(table)}
        for each row execute function ce_lookup_invalidate()`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of deletesNotify) {
    await sql`drop trigger if exists ce_lookup_invalidate_change on ${sql.table(table)}`.execute(db);
    await sql`drop trigger if exists ce_lookup_invalidate_delete on ${sql.table(table)}`.execute(db);
  }
  await sql`drop function if exists ce_lookup_invalidate()`.execute(db);
}
