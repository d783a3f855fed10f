import { publicFields } from '../../connectors/toolkit/auth.ts';
import { classifyUpstreamError } from '../../connectors/toolkit/classify.ts';
import type {
  ActionContext,
  ActionDefinition,
  ArtifactRef,
  ConnectorDefinition,
} from '../../connectors/toolkit/connector-definition.ts';
import { UpstreamHttpError } from '../../connectors/toolkit/upstream-errors.ts';
import type { Config } from '../../shared/config.ts';
import type { CredentialRefresher, UsableCredentials } from '../../shared/connections/credential-refresher.ts';
import { upstreamClientFor } from '../../shared/connections/upstream-for.ts';
import type { Db } from '../../shared/db/database.ts';
import { newId } from '../../shared/ids.ts';
import type { CallableConnection } from '../../shared/invocations/invocation-store.ts';

export interface AttemptDeps {
  db: Db;
  config: Config;
  refresher: CredentialRefresher;
}

/** How one attempt ended: its output, or the error it threw and the credentials version it ran with. */
export type AttemptResult = { ok: true; output: unknown } | { ok: false; error: unknown; credentialsVersion: number };

/**
 * Runs the action once with the connection's usable credentials (OAuth tokens refreshed first when
 * about to expire). A rotating token that expired early is refreshed once (shared across workers)
 * and the action run again: safe for writes too, since the upstream refused before acting.
 */
export async function runAttempt(
  deps: AttemptDeps,
  connector: ConnectorDefinition,
  action: ActionDefinition,
  connection: CallableConnection,
  invocationId: string,
  input: unknown,
  /** Each upstream request's timeout: the attempt's share of the invocation's time budget. */
  timeoutMs: number,
): Promise<AttemptResult> {
  const { db, config, refresher } = deps;
  const context = (credentials: Record<string, string>): ActionContext => ({
    http: upstreamClientFor(connector, credentials, config, timeoutMs),
    fields: publicFields(connector.auth, credentials),
    invocationId,
    // Derived from the invocation, so every attempt carries the same key.
    idempotencyKey: invocationId,
    saveArtifact: (name, contentType, bytes) => saveArtifact(db, invocationId, name, contentType, bytes),
  });
  let usable: UsableCredentials | undefined;
  try {
    usable = await refresher.usable(connector, connection);
    try {
      return { ok: true, output: await action.run(context(usable.credentials), input) };
    } catch (err) {
      const expired = err instanceof UpstreamHttpError && classifyUpstreamError(connector, err).kind === 'auth_expired';
      if (!expired || !refresher.canRefresh(connector, usable.credentials)) throw err;
      usable = await refresher.usable(connector, connection, { force: true });
      return { ok: true, output: await action.run(context(usable.credentials), input) };
    }
  } catch (error) {
    return { ok: false, error, credentialsVersion: usable?.version ?? connection.credentials_version };
  }
}

async function saveArtifact(
  db: Db,
  invocationId: string,
  name: string,
  contentType: string,
  data: Buffer,
): Promise<ArtifactRef> {
  await db
    .insertInto('artifacts')
    .values({
      id: newId('artifact'),
      invocation_id: invocationId,
      name,
      content_type: contentType,
      size_bytes: data.length,
      data,
    })
    // A retried attempt replaces what an earlier one stored under the same name.
    .onConflict((oc) =>
      oc.columns(['invocation_id', 'name']).doUpdateSet({ content_type: contentType, size_bytes: data.length, data }),
    )
    .execute();
  return {
    contentType,
    sizeBytes: data.length,
    url: `/v1/invocations/${invocationId}/artifacts/${encodeURIComponent(name)}`,
  };
}
