import type { Db } from '../db/database.ts';
import { newId } from '../ids.ts';
import { displayPrefix, generateApiKey, hashApiKey } from './api-keys.ts';

/** Creates a workspace and its first workspace key; returns the key (shown once). */
export async function createWorkspace(
  db: Db,
  name: string,
  key = generateApiKey('workspace'),
): Promise<{ workspaceId: string; key: string }> {
  const workspaceId = newId('workspace');
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('workspaces').values({ id: workspaceId, name }).execute();
    await trx
      .insertInto('api_keys')
      .values({
        id: newId('apiKey'),
        workspace_id: workspaceId,
        kind: 'workspace',
        name: 'bootstrap',
        prefix: displayPrefix(key),
        key_hash: hashApiKey(key),
      })
      .execute();
  });
  return { workspaceId, key };
}

/**
 * BOOTSTRAP_WORKSPACE_KEY: a workspace named `default` holding that key, created once. Concurrent
 * starts race on the unique key hash; the loser finds the winner's row.
 */
export async function ensureBootstrapWorkspace(
  db: Db,
  key: string,
): Promise<{ workspaceId: string; created: boolean }> {
  const existing = async () =>
    db.selectFrom('api_keys').select('workspace_id').where('key_hash', '=', hashApiKey(key)).executeTakeFirst();
  const found = await existing();
  if (found) return { workspaceId: found.workspace_id, created: false };
  try {
    const { workspaceId } = await createWorkspace(db, 'default', key);
    return { workspaceId, created: true };
  } catch (err) {
    const again = await existing();
    if (again) return { workspaceId: again.workspace_id, created: false };
    throw err;
  }
}
