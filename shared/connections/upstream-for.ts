import type { ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import { UpstreamClient } from '../../connectors/toolkit/upstream-client.ts';
import type { Config } from '../config.ts';
import { upstreamRequests } from '../metrics.ts';

/** The HTTP client a connector's handlers and credential test use for one connection. */
export function upstreamClientFor(connector: ConnectorDefinition<any>, credentials: Record<string, string>, config: Config): UpstreamClient {
  return new UpstreamClient({
    baseUrl: config[connector.baseUrlConfigKey],
    authHeaders: connector.authHeaders(credentials),
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    checkResponse: connector.checkResponse,
    secrets: Object.values(credentials),
    observe: (status, seconds) => upstreamRequests.observe({ connector: connector.id, status: String(status) }, seconds),
  });
}
