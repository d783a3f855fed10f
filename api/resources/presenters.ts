import type { InvocationRow, ProjectRow } from '../../shared/db/schema.ts';
import { toIso as iso } from '../../shared/iso-time.ts';

/** Database rows → the API.md resource shapes (camelCase, ISO timestamps, no secrets). */

export function presentProject(p: ProjectRow) {
  return {
    id: p.id,
    displayName: p.display_name,
    externalId: p.external_id,
    metadata: p.metadata,
    rateLimits: p.rate_limits,
    createdAt: iso(p.created_at),
  };
}

export function presentInvocation(i: InvocationRow) {
  return {
    id: i.id,
    projectId: i.project_id,
    connectionId: i.connection_id,
    connectorId: i.connector_id,
    actionId: i.action_id,
    status: i.status,
    errorCode: i.error_code,
    errorMessage: i.error_message,
    errorDetails: i.error_details ?? null,
    durationMs: i.duration_ms,
    attempts: i.attempts,
    createdAt: iso(i.created_at),
    startedAt: iso(i.started_at),
    finishedAt: iso(i.finished_at),
    output: i.output ?? null,
  };
}

export function presentApiKey(k: { id: string; name: string | null; prefix: string; created_at: Date }) {
  return { id: k.id, name: k.name, prefix: k.prefix, createdAt: iso(k.created_at) };
}
