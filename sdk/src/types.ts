import type { ActionInputs, ActionOutputs, ConnectorCredentials } from './generated/actions.ts';

/** Resource shapes of the HTTP API (docs/api.md), and the typed execute request. */

export type ConnectorId = keyof ActionInputs & string;
export type ActionId<C extends ConnectorId> = keyof ActionInputs[C] & string;
export type ActionInput<C extends ConnectorId, A extends ActionId<C>> = ActionInputs[C][A];
export type ActionOutput<C extends ConnectorId, A extends ActionId<C>> = A extends keyof ActionOutputs[C]
  ? ActionOutputs[C][A]
  : unknown;
export type Credentials<C extends ConnectorId> = ConnectorCredentials[C];

/** `execute` / `executeAsync` arguments. `connectorId` + `actionId` select the type of `input`. */
export interface ExecuteParams<C extends ConnectorId, A extends ActionId<C>> {
  connectorId: C;
  actionId: A;
  input: ActionInput<C, A>;
  /** Which connection to use; default: the single connection of this connector bound to the project. */
  connectionId?: string;
  /** Required with a workspace key (project keys are bound to their project). */
  projectId?: string;
  /**
   * Same key within 24 h → the first call's result, and the upstream is called once. ≤ 255 chars.
   * Default: a random key of this call, so its own retries (after a 503 or a lost connection) are
   * safe; give your own (e.g. an order id) to dedupe across calls and processes.
   */
  idempotencyKey?: string;
  /** Sync only: how long the engine waits for the result (1..120000, default 30000) before a TimeoutError. */
  timeoutMs?: number;
}

export interface ExecuteResult<Output = unknown> {
  output: Output;
  /** Time spent on the upstream work. */
  durationMs: number;
  invocationId: string;
}

export type InvocationStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface AsyncExecution {
  invocationId: string;
  status: InvocationStatus;
}

interface InvocationFields {
  id: string;
  projectId: string;
  connectionId: string | null;
  status: InvocationStatus;
  errorCode: string | null;
  errorMessage: string | null;
  /** For upstream errors: the upstream's `{status, code, message}`. */
  errorDetails: unknown;
  durationMs: number | null;
  attempts: number;
  /** The transport that accepted the call: the HTTP API or an MCP tools/call. */
  via: 'api' | 'mcp';
  /** An MCP client's self-reported name and version; null over HTTP. */
  client: { name: string | null; version: string | null } | null;
  /** A custom connector's version the call ran on; null for built-in connectors. */
  connectorVersion: number | null;
  /** The W3C trace id of the request that accepted the call; null when the engine's tracing is off. */
  traceId: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** One invocation of one action; narrow on `connectorId` and `actionId` to get a typed `output`. */
export type Invocation = {
  [C in ConnectorId]: {
    [A in ActionId<C>]: InvocationFields & { connectorId: C; actionId: A; output: ActionOutput<C, A> | null };
  }[ActionId<C>];
}[ConnectorId];

export interface InvocationListParams extends PageParams {
  projectId?: string;
  connectionId?: string;
  connectorId?: ConnectorId;
  actionId?: string;
  status?: InvocationStatus;
  /** ISO 8601 (or a Date): created at or after. */
  since?: string | Date;
  /** ISO 8601 (or a Date): created before. */
  until?: string | Date;
}

export interface WaitOptions {
  /** Give up (TimeoutError `wait_timeout`) after this long. Default 60000. */
  timeoutMs?: number;
  /** Time between polls. Default 500. */
  pollIntervalMs?: number;
  /** false: return a failed invocation instead of throwing its error. Default true. */
  throwOnFailure?: boolean;
  signal?: AbortSignal;
}

export interface PageParams {
  /** 1..100, default 20. */
  limit?: number;
  cursor?: string;
}

export interface ActionInfo {
  id: string;
  displayName: string;
  description: string;
  sideEffects: 'read' | 'write';
  /** JSON Schema of the input, generated from the schema that validates it. */
  inputSchema: Record<string, unknown>;
  /** JSON Schema of the output, generated from the schema that describes it. */
  outputSchema: Record<string, unknown>;
}

export interface Connector {
  id: string;
  displayName: string;
  category: string;
  description: string;
  /** `builtin` connectors ship with the engine; `custom` ones are defined by a workspace. */
  source: 'builtin' | 'custom';
  authType: 'api_key' | 'basic' | 'oauth2';
  authFields: { key: string; label: string; secret: boolean; required: boolean }[];
  rateLimit: { requestsPerMinute: number };
  actions: ActionInfo[];
}

/** One action the project can call now, as an AI builder or a model reads it (`GET /v1/tools`). */
export interface Tool {
  /** `<connectorId>_<actionId>`, matching `^[a-zA-Z0-9_-]{1,64}$` (accepted by every model vendor). */
  name: string;
  connectorId: string;
  actionId: string;
  /** Set when the project has exactly one active connection of the connector. */
  connectionId?: string;
  /** The bound active connections of the connector; with several, pass one as `connectionId`. */
  connections: { id: string; displayName: string }[];
  title: string;
  description: string;
  sideEffects: ActionInfo['sideEffects'];
  inputSchema: Record<string, unknown>;
  outputSchema: Record<string, unknown>;
  /** The exact `POST /v1/executions` to generate, with the action's first example as `body.input`. */
  request: {
    method: 'POST';
    path: string;
    headers: Record<string, string>;
    body: { connectorId: string; actionId: string; connectionId?: string; input: unknown };
  };
}

export interface Project {
  id: string;
  displayName: string;
  externalId: string | null;
  metadata: Record<string, unknown>;
  /** Per-connector overrides of the requests-per-minute limit. */
  rateLimits: Record<string, number>;
  /** The project's own cap on its calls running at once across all workers; null: the operator's. */
  maxRunningCalls: number | null;
  createdAt: string;
}

export interface ProjectCreateParams {
  displayName: string;
  externalId?: string;
  metadata?: Record<string, unknown>;
}

export interface ProjectUpdateParams {
  displayName?: string;
  metadata?: Record<string, unknown>;
  /** Merged into the existing overrides; `null` removes a connector's override. */
  rateLimits?: Partial<Record<ConnectorId, number | null>>;
  /** 1 to the operator's maximum; `null` returns to the operator's cap. */
  maxRunningCalls?: number | null;
}

export interface ApiKey {
  id: string;
  name: string | null;
  /** The first characters of the key, enough to recognise it. */
  prefix: string;
  createdAt: string;
}

export interface CreatedApiKey extends ApiKey {
  /** The secret: shown once, store it now. */
  key: string;
}

export type ConnectionStatus = 'active' | 'broken';

export interface Connection {
  id: string;
  connectorId: string;
  displayName: string;
  status: ConnectionStatus;
  statusReason: string | null;
  statusChangedAt: string | null;
  externalId: string | null;
  projectIds: string[];
  /** At most the last 4 characters of each secret field. */
  credentialsHint: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  /** For connectors that accept events (Slack, Resend, Twilio): the URL to paste into the service's settings. */
  inboundUrl?: string;
}

export interface ConnectionCreateParams<C extends ConnectorId> {
  connectorId: C;
  displayName: string;
  credentials: Credentials<C>;
  externalId?: string;
  projectIds?: string[];
}

export interface ConnectionUpdateParams {
  displayName?: string;
  /** Tested against the upstream like at creation; a pass restores `active`. */
  credentials?: Record<string, string>;
}

export interface ConnectionListParams extends PageParams {
  connectorId?: ConnectorId;
  status?: ConnectionStatus;
  externalId?: string;
  projectId?: string;
}

export interface OAuthAuthorizeParams {
  displayName: string;
  projectIds?: string[];
  externalId?: string;
  /** Where the user lands after the callback, with `?connectionId=…`. */
  redirectUri?: string;
}

export interface OAuthAuthorization {
  /** Send the user here. */
  authorizeUrl: string;
  /** Single use, valid for 10 minutes. */
  state: string;
  expiresAt: string;
}
