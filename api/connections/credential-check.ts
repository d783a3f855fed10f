import type { ConnectorDefinition, CredentialVerdict } from '../../connectors/toolkit/connector-definition.ts';
import { UpstreamVerdictUnavailable } from '../../connectors/toolkit/classify.ts';
import { testCredentials } from '../../connectors/toolkit/credential-test.ts';
import type { Config } from '../../shared/config.ts';
import { upstreamClientFor } from '../../shared/connections/upstream-for.ts';
import { ApiError } from '../../shared/errors.ts';

/**
 * Tests credentials against the upstream before anything is stored. No verdict (network error,
 * 5xx, throttling) is a 502 and the caller's change is not applied.
 */
export async function checkCredentials(config: Config, connector: ConnectorDefinition, credentials: Record<string, string>): Promise<CredentialVerdict> {
  try {
    return await testCredentials(connector, upstreamClientFor(connector, credentials, config), credentials);
  } catch (err) {
    if (err instanceof UpstreamVerdictUnavailable) {
      const f = err.failure;
      throw new ApiError('upstream_unavailable', `${connector.displayName} could not check the credentials; nothing was changed. Retry later.`, {
        status: f.upstreamStatus ?? null,
        code: f.upstreamCode ?? null,
        message: f.message,
      });
    }
    throw err;
  }
}

/** The status columns a verdict leads to; status_changed_at moves only on a real change. */
export function statusFromVerdict(verdict: CredentialVerdict) {
  return verdict.valid
    ? { status: 'active' as const, status_reason: null }
    : { status: 'broken' as const, status_reason: `Credentials rejected: ${verdict.reason}` };
}
