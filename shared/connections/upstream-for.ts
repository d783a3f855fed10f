import { secretValues } from '../../connectors/toolkit/auth.ts';
import type { ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import type { OAuthProviderDefinition } from '../../connectors/toolkit/oauth-provider.ts';
import { connectionClientOf, OAuthTokenEndpoint, tokenEndpointParts } from '../../connectors/toolkit/oauth-provider.ts';
import { baseUrlOf, oauthClientOf, providerSettings, tokenUrlOf } from '../../connectors/toolkit/settings.ts';
import { UpstreamClient } from '../../connectors/toolkit/upstream-client.ts';
import type { Config } from '../config.ts';
import { type EgressGuard, egressGuardFromConfig } from '../egress/egress-guard.ts';
import { upstreamRequests } from '../metrics.ts';

const guards = new WeakMap<Config, EgressGuard>();

/** The egress guard of a configuration, built once: custom connectors' requests pass it. */
function egressOf(config: Config): EgressGuard {
  let guard = guards.get(config);
  if (!guard) {
    guard = egressGuardFromConfig(config);
    guards.set(config, guard);
  }
  return guard;
}

/** What every upstream client of a connector shares: answer size caps, and the egress guard for a tenant's definition. */
function boundsFor(connector: ConnectorDefinition, config: Config) {
  return {
    maxBytes: config.UPSTREAM_MAX_RESPONSE_BYTES,
    maxBinaryBytes: config.UPSTREAM_MAX_BINARY_BYTES,
    ...(connector.origin ? { egress: egressOf(config) } : {}),
  };
}

/**
 * The one place upstream clients are built: for a connection's calls and credential tests, and for
 * an OAuth provider's token endpoint. Both observe every request in `upstream_request_duration_seconds`.
 */
export function upstreamClientFor(
  connector: ConnectorDefinition,
  credentials: Record<string, string>,
  config: Config,
  /** Each request's timeout; default `UPSTREAM_TIMEOUT_MS` (a call near the end of its time budget passes less). */
  timeoutMs = config.UPSTREAM_TIMEOUT_MS,
): UpstreamClient {
  return new UpstreamClient({
    baseUrl: baseUrlOf(connector, config.connectorSettings, credentials),
    authHeaders: connector.auth.headers(credentials),
    ...(connector.auth.type === 'api_key' && connector.auth.query
      ? { authQuery: connector.auth.query(credentials) }
      : {}),
    ...boundsFor(connector, config),
    timeoutMs,
    checkResponse: connector.checkResponse,
    // An account id and other non-secret fields stay readable in error messages.
    secrets: secretValues(connector.auth, credentials),
    observe: (status, seconds) =>
      upstreamRequests.observe({ connector: connector.id, status: String(status) }, seconds),
  });
}

/** Thrown when a provider's client id or secret is not configured. */
export class OAuthNotConfigured extends Error {
  constructor(readonly settings: string) {
    super(`OAuth client not configured (${settings})`);
    this.name = 'OAuthNotConfigured';
  }
}

/**
 * A provider's token endpoint for `connector` (whose id labels the metrics), with the operator's
 * client credentials, or for a client-credentials provider the connection's own (`credentials`,
 * whose values are also kept out of error messages); OAuthNotConfigured when they are missing.
 */
export function tokenEndpointFor(
  connector: ConnectorDefinition,
  provider: OAuthProviderDefinition,
  config: Config,
  credentials: Readonly<Record<string, string>> = {},
): OAuthTokenEndpoint {
  const client =
    provider.grant === 'client_credentials'
      ? connectionClientOf(credentials)
      : oauthClientOf(provider, config.connectorSettings);
  if (!client) {
    const names =
      provider.grant === 'client_credentials'
        ? { clientId: "the connection's clientId", clientSecret: 'clientSecret' }
        : providerSettings(provider);
    throw new OAuthNotConfigured(`${names.clientId}, ${names.clientSecret}`);
  }
  const { baseUrl, path } = tokenEndpointParts(tokenUrlOf(provider, config.connectorSettings));
  const http = new UpstreamClient({
    baseUrl,
    authHeaders: {},
    ...boundsFor(connector, config),
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    checkResponse: provider.checkTokenResponse,
    secrets: [...Object.values(credentials), client.clientSecret],
    observe: (status, seconds) =>
      upstreamRequests.observe({ connector: connector.id, status: String(status) }, seconds),
  });
  return new OAuthTokenEndpoint(provider, http, path, client);
}
