import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { classifyUpstreamError } from '../../connectors/toolkit/classify.ts';
import type { ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import type { ClassifiedFailure } from '../../connectors/toolkit/upstream-errors.ts';
import type { Config } from '../config.ts';
import type { Vault } from '../crypto/vault.ts';
import type { Db } from '../db/database.ts';
import type { ConnectionRow } from '../db/schema.ts';
import type { Logger } from '../logger.ts';
import type { RedisClient } from '../queue/redis.ts';
import type { ConnectionBreaker } from './connection-breaker.ts';
import { credentialsHint, type OpenableConnection, openCredentials, sealCredentials } from './credentials.ts';
import { OAuthNotConfigured, tokenEndpointFor } from './upstream-for.ts';

/** Refresh this long before expiry, so a call never starts with a token about to lapse. */
const REFRESH_MARGIN_MS = 5 * 60_000;
const LOCK_TTL_MS = 15_000;
const WAIT_FOR_OTHER_REFRESH_MS = 20_000;

export interface UsableCredentials {
  credentials: Record<string, string>;
  /** The credentials version these are; a failure with them may only break that version. */
  version: number;
}

/** The provider refused the refresh: the connection is broken until re-authorized. */
export class RefreshRejected extends Error {
  constructor(readonly failure: ClassifiedFailure) {
    super(`the provider refused to refresh the token: ${failure.message}`);
    this.name = 'RefreshRejected';
  }
}

/** The refresh could not be done now (provider unreachable, or another worker's refresh stalled). */
export class RefreshUnavailable extends Error {
  constructor(readonly failure: ClassifiedFailure) {
    super(`the token could not be refreshed now: ${failure.message}`);
    this.name = 'RefreshUnavailable';
  }
}

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * Hands out usable credentials for a connection, refreshing OAuth tokens that are about to expire.
 * Many calls at the moment of expiry, on any number of workers, cause exactly one refresh: the first
 * takes a Redis lock and re-checks the row; the others wait until the row's credentials version moves.
 */
export class CredentialRefresher {
  constructor(
    private readonly db: Db,
    private readonly vault: Vault,
    private readonly redis: RedisClient,
    private readonly config: Config,
    private readonly logger: Logger,
    /** Breaks the connection when the provider refuses a refresh. */
    private readonly breaker: ConnectionBreaker,
  ) {}

  async usable(
    connector: ConnectorDefinition,
    row: OpenableConnection,
    options: { force?: boolean } = {},
  ): Promise<UsableCredentials> {
    const credentials = openCredentials(this.vault, row);
    const current = { credentials, version: row.credentials_version };
    if (!this.canRefresh(connector, credentials)) return current;
    const expiresAt = Number(credentials.expiresAt ?? Infinity);
    if (!options.force && !awaitsToken(connector, credentials) && expiresAt - Date.now() > REFRESH_MARGIN_MS)
      return current;
    return this.refreshOnce(connector, row);
  }

  /**
   * The credentials a test of the connection (health check, POST /test) runs with: as `usable`, but a
   * client-credentials connection gets a new token, since what is tested is its client, and a stored
   * token its provider has forgotten meanwhile must not break it.
   */
  async testable(connector: ConnectorDefinition, row: OpenableConnection): Promise<UsableCredentials> {
    return this.usable(connector, row, { force: isClientCredentials(connector) });
  }

  canRefresh(connector: ConnectorDefinition, credentials: Record<string, string>): boolean {
    if (isClientCredentials(connector)) return true;
    return (
      connector.auth.type === 'oauth2' &&
      typeof credentials.refreshToken === 'string' &&
      credentials.refreshToken.length > 0
    );
  }

  private async refreshOnce(connector: ConnectorDefinition, stale: OpenableConnection): Promise<UsableCredentials> {
    const lockKey = `connector-engine:oauth-refresh:{${stale.id}}`;
    const token = randomBytes(16).toString('hex');
    const deadline = Date.now() + WAIT_FOR_OTHER_REFRESH_MS;
    for (;;) {
      if ((await this.redis.set(lockKey, token, 'PX', LOCK_TTL_MS, 'NX')) === 'OK') {
        try {
          const latest = await this.load(stale.id);
          if (latest.credentials_version !== stale.credentials_version) return this.opened(latest);
          return await this.refreshNow(connector, latest);
        } finally {
          await this.redis.eval(RELEASE, 1, lockKey, token).catch(() => {});
        }
      }
      // Someone else is refreshing: use their result as soon as it is stored.
      await new Promise((r) => setTimeout(r, 100));
      const latest = await this.load(stale.id);
      if (latest.credentials_version !== stale.credentials_version) return this.opened(latest);
      if (Date.now() > deadline) {
        throw new RefreshUnavailable({
          kind: 'transient',
          message: 'another token refresh did not finish in time',
          requestMayHaveRun: false,
        });
      }
    }
  }

  private async refreshNow(connector: ConnectorDefinition, row: ConnectionRow): Promise<UsableCredentials> {
    let refreshed: Record<string, string>;
    try {
      refreshed = await renewCredentials(connector, this.config, openCredentials(this.vault, row));
    } catch (err) {
      if (err instanceof RefreshRejected) {
        await this.breaker.markBroken(
          { id: row.id, connectorId: connector.id },
          row.credentials_version,
          `Token refresh rejected: ${err.failure.message}`,
          'refresh',
        );
        this.logger.warn({ connectionId: row.id, upstreamCode: err.failure.upstreamCode }, 'token refresh rejected');
      }
      throw err;
    }
    const updated = await this.db
      .updateTable('connections')
      .set({
        ...sealCredentials(this.vault, row.id, refreshed),
        credentials_hint: JSON.stringify(credentialsHint(connector, refreshed)),
        credentials_version: sql<number>`credentials_version + 1`,
        updated_at: sql`now()`,
      })
      .where('id', '=', row.id)
      .where('credentials_version', '=', row.credentials_version)
      .returning('credentials_version')
      .executeTakeFirst();
    this.logger.info({ connectionId: row.id }, 'oauth token refreshed');
    if (!updated) return this.opened(await this.load(row.id)); // replaced by an update meanwhile
    return { credentials: refreshed, version: updated.credentials_version };
  }

  private async load(id: string): Promise<ConnectionRow> {
    return this.db.selectFrom('connections').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  }

  private opened(row: ConnectionRow): UsableCredentials {
    return { credentials: openCredentials(this.vault, row), version: row.credentials_version };
  }
}

/** Client credentials (RFC 6749 §4.4): the connection is its own client, and its tokens are fetched, not refreshed. */
export const isClientCredentials = (connector: ConnectorDefinition): boolean =>
  connector.auth.type === 'oauth2' && connector.auth.provider.grant === 'client_credentials';

/** A client-credentials connection that holds no access token yet (as given by its owner): the first is fetched before use. */
export const awaitsToken = (connector: ConnectorDefinition, credentials: Readonly<Record<string, string>>): boolean =>
  isClientCredentials(connector) && !credentials.accessToken;

/**
 * New credentials from the connector's token endpoint (a refresh, or a client-credentials token).
 * RefreshRejected when the provider refuses (the credentials are dead; the caller decides what
 * breaks), RefreshUnavailable when it gives no answer now.
 */
export async function renewCredentials(
  connector: ConnectorDefinition,
  config: Config,
  credentials: Record<string, string>,
): Promise<Record<string, string>> {
  if (connector.auth.type !== 'oauth2') throw new Error(`${connector.id} has no OAuth provider`);
  const provider = connector.auth.provider;
  try {
    return await tokenEndpointFor(connector, provider, config, credentials).refresh(credentials);
  } catch (err) {
    if (err instanceof OAuthNotConfigured) {
      throw new RefreshUnavailable({
        kind: 'transient',
        message: `the token cannot be refreshed: ${err.message}`,
        requestMayHaveRun: false,
      });
    }
    const failure = classifyUpstreamError(provider, err);
    if (failure.kind === 'transient' || failure.kind === 'rate_limited') throw new RefreshUnavailable(failure);
    throw new RefreshRejected(failure);
  }
}
