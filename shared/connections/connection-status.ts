import { sql } from 'kysely';
import { invalidateLookups, lookupTag } from '../cache/lookup-invalidation.ts';
import type { Db } from '../db/database.ts';

/**
 * Marks a connection broken, but only if the credentials that failed are still the current ones:
 * an update that raced an in-flight call must never be undone by that call's failure (docs/design.md, decision 4).
 * Returns true when this call changed the status.
 */
export async function markConnectionBroken(
  db: Db,
  connectionId: string,
  credentialsVersion: number,
  reason: string,
): Promise<boolean> {
  const result = await db
    .updateTable('connections')
    .set({ status: 'broken', status_reason: reason, status_changed_at: sql`now()`, updated_at: sql`now()` })
    .where('id', '=', connectionId)
    .where('credentials_version', '=', credentialsVersion)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return changed(connectionId, result.numUpdatedRows);
}

/** The reverse: a passing test of the current credentials restores a broken connection. True when this call changed it. */
export async function markConnectionRestored(
  db: Db,
  connectionId: string,
  credentialsVersion: number,
): Promise<boolean> {
  const result = await db
    .updateTable('connections')
    .set({ status: 'active', status_reason: null, status_changed_at: sql`now()`, updated_at: sql`now()` })
    .where('id', '=', connectionId)
    .where('credentials_version', '=', credentialsVersion)
    .where('status', '=', 'broken')
    .executeTakeFirst();
  return changed(connectionId, result.numUpdatedRows);
}

/** True when the status changed; then this process's cached call targets on it are dropped at once (the api answering a test). */
function changed(connectionId: string, updatedRows: bigint): boolean {
  if (updatedRows === 0n) return false;
  invalidateLookups(lookupTag.connection(connectionId));
  return true;
}

/** Whether the connection's credentials changed after `version` (and so are not the ones that failed). */
export async function credentialsReplacedSince(db: Db, connectionId: string, version: number): Promise<boolean> {
  const row = await db
    .selectFrom('connections')
    .select(['credentials_version', 'status'])
    .where('id', '=', connectionId)
    .executeTakeFirst();
  return row !== undefined && row.credentials_version !== version && row.status === 'active';
}

/** Refuses to start when a stored credential or webhook secret was sealed with a key that is no longer in the keyring. */
export async function findMissingKeyIds(db: Db, hasKey: (keyId: string) => boolean): Promise<string[]> {
  const [connections, webhooks] = await Promise.all([
    db.selectFrom('connections').select('credentials_key_id as kid').distinct().execute(),
    db.selectFrom('webhooks').select('secret_key_id as kid').distinct().execute(),
  ]);
  return [...new Set([...connections, ...webhooks].map((r) => r.kid))].filter((kid) => !hasKey(kid));
}
