import { expandPath, publicFields } from './auth.ts';
import { classifyUpstreamError, UpstreamVerdictUnavailable } from './classify.ts';
import type { ConnectorDefinition, CredentialVerdict } from './connector-definition.ts';
import type { UpstreamClient } from './upstream-client.ts';

/**
 * Runs the connector's probe request and turns the answer into a verdict on the credentials.
 * Only a definitive credential rejection is "invalid"; a key that authenticates but lacks a permission
 * or quota is valid (it may still send). Anything else (network, 5xx, 429) gives no verdict.
 */
export async function testCredentials(
  connector: ConnectorDefinition,
  http: UpstreamClient,
  credentials: Record<string, string>,
): Promise<CredentialVerdict> {
  const probe = connector.credentialTest;
  try {
    await http.request({ ...probe, path: expandPath(probe.path, publicFields(connector.auth, credentials)) });
    return { valid: true };
  } catch (err) {
    const failure = classifyUpstreamError(connector, err);
    switch (failure.kind) {
      case 'auth_invalid':
      // The test runs on the credentials as given (a health check refreshes them first): an access
      // token the service calls expired is, as given, dead.
      case 'auth_expired':
        return { valid: false, reason: failure.message };
      case 'permission':
      case 'quota':
        return { valid: true, note: failure.message };
      default:
        throw new UpstreamVerdictUnavailable(failure);
    }
  }
}
