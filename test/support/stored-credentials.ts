import { openCredentials, sealCredentials } from '../../shared/connections/credentials.ts';
import type { Vault } from '../../shared/crypto/vault.ts';
import type { Db } from '../../shared/db/database.ts';

/** A connection's credentials as stored: read from its row and decrypted. */
export async function storedCredentials(db: Db, vault: Vault, connectionId: string): Promise<Record<string, string>> {
  const row = await db.selectFrom('connections').selectAll().where('id', '=', connectionId).executeTakeFirstOrThrow();
  return openCredentials(vault, row);
}

/** Moves the stored expiry of a connection's OAuth token 30 s ahead, as if its lifetime were nearly over. */
export async function expireTokenSoon(db: Db, vault: Vault, connectionId: string): Promise<void> {
  const creds = await storedCredentials(db, vault, connectionId);
  await db
    .updateTable('connections')
    .set(sealCredentials(vault, connectionId, { ...creds, expiresAt: String(Date.now() + 30_000) }))
    .where('id', '=', connectionId)
    .execute();
}
