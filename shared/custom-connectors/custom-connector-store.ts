import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import { type CustomConnectorDefinition, hasWorkspaceClient } from '../../connectors/custom/definition-schema.ts';
import type { Vault } from '../crypto/vault.ts';
import type { Db } from '../db/database.ts';
import type { CustomConnectorTable } from '../db/schema.ts';

export type CustomConnectorRow = Selectable<CustomConnectorTable>;

/** The AAD of a sealed client secret: a ciphertext copied onto another connector or version fails to open. */
const aad = (workspaceId: string, connectorId: string, version: number) =>
  `custom-connector:${workspaceId}:${connectorId}:${version}`;

/**
 * The stored versions of workspaces' custom connector definitions (migration 0010). A version is
 * written once and never changed; the OAuth client secret is sealed apart from the definition,
 * which holds no secret and may be shown back.
 */
export class CustomConnectorStore {
  constructor(
    private readonly db: Db,
    private readonly vault: Vault,
  ) {}

  /** The newest version of each of the workspace's custom connectors, by id. */
  async latestAll(workspaceId: string): Promise<CustomConnectorRow[]> {
    return this.db
      .selectFrom('custom_connectors')
      .selectAll()
      .distinctOn('connector_id')
      .where('workspace_id', '=', workspaceId)
      .orderBy('connector_id')
      .orderBy('version', 'desc')
      .execute();
  }

  /** One version, or the newest when `version` is null. */
  async get(workspaceId: string, connectorId: string, version: number | null): Promise<CustomConnectorRow | undefined> {
    let q = this.db
      .selectFrom('custom_connectors')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('connector_id', '=', connectorId);
    q = version === null ? q.orderBy('version', 'desc').limit(1) : q.where('version', '=', version);
    return q.executeTakeFirst();
  }

  /** The newest version number, without the definition: what the hot path reads before its cache. */
  async latestVersion(workspaceId: string, connectorId: string): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('custom_connectors')
      .select(sql<number>`max(version)`.as('version'))
      .where('workspace_id', '=', workspaceId)
      .where('connector_id', '=', connectorId)
      .executeTakeFirst();
    return row?.version ?? undefined;
  }

  async count(workspaceId: string): Promise<number> {
    const row = await this.db
      .selectFrom('custom_connectors')
      .select(sql<string>`count(distinct connector_id)`.as('n'))
      .where('workspace_id', '=', workspaceId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * Writes `version` of a definition and returns the stored row; undefined when that version already
   * exists (a concurrent POST or PUT won). `clientSecret` is sealed; the stored definition never holds it.
   */
  async insert(
    workspaceId: string,
    version: number,
    definition: CustomConnectorDefinition,
    clientSecret: string | undefined,
  ): Promise<CustomConnectorRow | undefined> {
    const sealed =
      clientSecret !== undefined ? this.vault.seal(clientSecret, aad(workspaceId, definition.id, version)) : undefined;
    const stored = withoutSecret(definition);
    const result = await this.db
      .insertInto('custom_connectors')
      .values({
        workspace_id: workspaceId,
        connector_id: definition.id,
        version,
        definition: JSON.stringify(stored),
        secret_key_id: sealed?.keyId ?? null,
        secret_iv: sealed?.iv ?? null,
        secret_tag: sealed?.tag ?? null,
        secret_ciphertext: sealed?.ciphertext ?? null,
      })
      .onConflict((oc) => oc.columns(['workspace_id', 'connector_id', 'version']).doNothing())
      .returningAll()
      .executeTakeFirst();
    return result;
  }

  /** The sealed OAuth client secret of a stored version, opened; undefined when it has none. */
  clientSecretOf(row: CustomConnectorRow): string | undefined {
    if (!row.secret_key_id || !row.secret_iv || !row.secret_tag || !row.secret_ciphertext) return undefined;
    return this.vault.open<string>(
      { keyId: row.secret_key_id, iv: row.secret_iv, tag: row.secret_tag, ciphertext: row.secret_ciphertext },
      aad(row.workspace_id, row.connector_id, row.version),
    );
  }

  /** Deletes every version; false when there was none. */
  async delete(workspaceId: string, connectorId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('custom_connectors')
      .where('workspace_id', '=', workspaceId)
      .where('connector_id', '=', connectorId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}

/** The definition as stored and shown: the OAuth client secret left out. */
export function withoutSecret(definition: CustomConnectorDefinition): CustomConnectorDefinition {
  if (!hasWorkspaceClient(definition.auth)) return definition;
  const { clientSecret: _secret, ...auth } = definition.auth;
  return { ...definition, auth };
}
