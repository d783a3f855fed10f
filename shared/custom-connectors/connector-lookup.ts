import { compileCustomConnector } from '../../connectors/custom/custom-connector-compiler.ts';
import type { CustomConnectorDefinition } from '../../connectors/custom/definition-schema.ts';
import { connectorOrThrow as builtinOrThrow, findConnector as findBuiltin } from '../../connectors/registry.ts';
import type { ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import type { Config } from '../config.ts';
import type { Vault } from '../crypto/vault.ts';
import type { Db } from '../db/database.ts';
import { ApiError } from '../errors.ts';
import { type CustomConnectorRow, CustomConnectorStore } from './custom-connector-store.ts';

/**
 * Finds the connector a call, a connection or a catalog request names: a built-in (from memory, no
 * database work, as before custom connectors), else the workspace's own custom connector, at the
 * version given (a queued call's) or its newest. Compiled versions are immutable, so they are
 * cached by (workspace, id, version), at most `cacheSize` of them, least recently used out first.
 */
export class ConnectorLookup {
  private readonly compiled = new Map<string, ConnectorDefinition>();

  constructor(
    readonly store: CustomConnectorStore,
    private readonly cacheSize: number,
  ) {}

  /** The connector, or undefined when the workspace has none by that id (or not that version). */
  async find(
    workspaceId: string,
    connectorId: string,
    version: number | null = null,
  ): Promise<ConnectorDefinition | undefined> {
    const builtin = findBuiltin(connectorId);
    if (builtin) return builtin;
    if (!connectorId.startsWith('custom-')) return undefined;
    const wanted = version ?? (await this.store.latestVersion(workspaceId, connectorId));
    if (wanted === undefined) return undefined;
    const key = `${workspaceId}\u0000${connectorId}\u0000${wanted}`;
    const hit = this.compiled.get(key);
    if (hit) {
      this.compiled.delete(key);
      this.compiled.set(key, hit);
      return hit;
    }
    const row = await this.store.get(workspaceId, connectorId, wanted);
    return row && this.remember(key, row);
  }

  /** The connector, or the API's 404 `unknown_connector` (never telling whether another workspace has it). */
  async orThrow(workspaceId: string, connectorId: string): Promise<ConnectorDefinition> {
    if (findBuiltin(connectorId)) return builtinOrThrow(connectorId);
    const connector = await this.find(workspaceId, connectorId);
    if (!connector) throw new ApiError('unknown_connector', `No connector "${connectorId}".`);
    return connector;
  }

  /** The newest version of each of the workspace's custom connectors, compiled. */
  async customOf(workspaceId: string): Promise<ConnectorDefinition[]> {
    return (await this.store.latestAll(workspaceId)).map((row) => this.compiledRow(row));
  }

  /** A stored row, compiled (through the cache). */
  compiledRow(row: CustomConnectorRow): ConnectorDefinition {
    const key = `${row.workspace_id}\u0000${row.connector_id}\u0000${row.version}`;
    return this.compiled.get(key) ?? this.remember(key, row);
  }

  private remember(key: string, row: CustomConnectorRow): ConnectorDefinition {
    const definition = row.definition as unknown as CustomConnectorDefinition;
    const connector = compileCustomConnector(
      definition,
      { source: 'custom', workspaceId: row.workspace_id, version: row.version },
      { clientSecret: this.store.clientSecretOf(row) },
    );
    this.compiled.set(key, connector);
    while (this.compiled.size > this.cacheSize) this.compiled.delete(this.compiled.keys().next().value!);
    return connector;
  }
}

/** The lookup of one process (api or worker), with its own cache. */
export function createConnectorLookup(
  db: Db,
  vault: Vault,
  config: Pick<Config, 'CUSTOM_CONNECTORS_CACHE_SIZE'>,
): ConnectorLookup {
  return new ConnectorLookup(new CustomConnectorStore(db, vault), config.CUSTOM_CONNECTORS_CACHE_SIZE);
}
