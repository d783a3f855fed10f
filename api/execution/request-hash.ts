import { createHash } from 'node:crypto';

/** Canonical JSON (sorted keys) so that the same request hashes the same however it was written. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** What makes two executions "the same request" for Idempotency-Key purposes. */
export function executionRequestHash(request: { connectorId: string; actionId: string; connectionId?: string; input: unknown }): string {
  return createHash('sha256').update(canonical(request)).digest('hex');
}
