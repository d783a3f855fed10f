import type { Call } from '../shared/api.ts';
import type { AuthField } from '../shared/ui.tsx';

export interface Action {
  id: string;
  displayName: string;
  description: string;
  sideEffects: 'read' | 'write';
  inputSchema: unknown;
  outputSchema: unknown;
}
export interface Connector {
  id: string;
  displayName: string;
  category: string;
  description: string;
  authType: string;
  authFields: AuthField[];
  rateLimit: { requestsPerMinute: number };
  actions: Action[];
}
export interface Connection {
  id: string;
  connectorId: string;
  displayName: string;
  status: 'active' | 'broken';
  statusReason: string | null;
  statusChangedAt: string;
  externalId: string | null;
  projectIds: string[];
  credentialsHint: Record<string, string>;
  createdAt: string;
}
export interface Project {
  id: string;
  displayName: string;
  externalId: string | null;
  createdAt: string;
}
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/** What every console view gets: the signed-in caller and the catalog. */
export interface ViewProps {
  call: Call;
  connectors: Connector[];
}

export const connectorName = (connectors: Connector[], id: string) =>
  connectors.find((c) => c.id === id)?.displayName ?? id;
export const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');
