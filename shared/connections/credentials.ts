import type { ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import type { Vault } from '../crypto/vault.ts';
import type { ConnectionRow } from '../db/schema.ts';

/** The columns that hold a connection's sealed credentials. */
export type SealedColumns = Pick<
  ConnectionRow,
  'credentials_key_id' | 'credentials_iv' | 'credentials_tag' | 'credentials_ciphertext'
>;

/** A connection row with what it takes to open and version its credentials. */
export type OpenableConnection = SealedColumns & Pick<ConnectionRow, 'id' | 'credentials_version'>;

export function sealCredentials(
  vault: Vault,
  connectionId: string,
  credentials: Record<string, string>,
): SealedColumns {
  const sealed = vault.seal(credentials, connectionId);
  return {
    credentials_key_id: sealed.keyId,
    credentials_iv: sealed.iv,
    credentials_tag: sealed.tag,
    credentials_ciphertext: sealed.ciphertext,
  };
}

export function openCredentials<C = Record<string, string>>(vault: Vault, row: SealedColumns & { id: string }): C {
  return vault.open<C>(
    {
      keyId: row.credentials_key_id,
      iv: row.credentials_iv,
      tag: row.credentials_tag,
      ciphertext: row.credentials_ciphertext,
    },
    row.id,
  );
}

/**
 * At most the last 4 characters of each secret field, and none at all of a short one, where 4
 * characters would be a large share of the secret. Non-secret fields are shown whole.
 */
export function credentialsHint(
  connector: ConnectorDefinition,
  credentials: Record<string, string>,
): Record<string, string> {
  const hint: Record<string, string> = {};
  for (const field of connector.auth.fields) {
    const value = credentials[field.key];
    if (value === undefined) continue;
    hint[field.key] = !field.secret ? value : value.length >= 16 ? `…${value.slice(-4)}` : '…';
  }
  return hint;
}
