import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** Row types of the Postgres schema in migrations/. */
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;
/** A JSON column with a database default. */
type JsonWithDefault<T> = ColumnType<T, string | undefined, string>;

export interface WorkspaceTable {
  id: string;
  name: string;
  created_at: CreatedAt;
}

export interface ProjectTable {
  id: string;
  workspace_id: string;
  display_name: string;
  external_id: string | null;
  metadata: JsonWithDefault<Record<string, unknown>>;
  rate_limits: JsonWithDefault<Record<string, number>>;
  /** The project's own cap on calls running at once; null: the operator's default. */
  max_running_calls: number | null;
  created_at: CreatedAt;
}

export interface ApiKeyTable {
  id: string;
  workspace_id: string;
  project_id: string | null;
  kind: 'workspace' | 'project';
  name: string | null;
  prefix: string;
  key_hash: Buffer;
  created_at: CreatedAt;
  revoked_at: Timestamp | null;
}

export interface ConnectionTable {
  id: string;
  workspace_id: string;
  connector_id: string;
  display_name: string;
  external_id: string | null;
  status: 'active' | 'broken';
  status_reason: string | null;
  status_changed_at: ColumnType<Date, Date | string | undefined, Date | string>;
  credentials_key_id: string;
  credentials_iv: Buffer;
  credentials_tag: Buffer;
  credentials_ciphertext: Buffer;
  credentials_version: Generated<number>;
  credentials_hint: Json<Record<string, string>>;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  next_health_check_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface ProjectConnectionTable {
  project_id: string;
  connection_id: string;
  created_at: CreatedAt;
}

export type InvocationStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface InvocationTable {
  id: string;
  workspace_id: string;
  project_id: string;
  connection_id: string | null;
  connector_id: string;
  action_id: string;
  status: InvocationStatus;
  error_code: string | null;
  error_message: string | null;
  error_details: Json<unknown> | null;
  output: Json<unknown> | null;
  duration_ms: number | null;
  attempts: Generated<number>;
  idempotency_key: string | null;
  request_hash: string | null;
  /** The transport that accepted the call (migration 0008). */
  via: Generated<InvocationTransport>;
  /** An MCP client's self-reported name and version; null over HTTP. */
  client_name: string | null;
  client_version: string | null;
  /** The custom connector's version the call was accepted with (migration 0010); null for a built-in. */
  connector_version: ColumnType<number | null, number | null | undefined, number | null>;
  /** The W3C trace id of the request that accepted the call (migration 0014); null with tracing off. */
  trace_id: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: CreatedAt;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
}

export type InvocationTransport = 'api' | 'mcp';

export interface ArtifactTable {
  id: string;
  invocation_id: string;
  name: string;
  content_type: string;
  size_bytes: number;
  data: Buffer;
  created_at: CreatedAt;
}

export interface OAuthStateTable {
  id: string;
  state_hash: Buffer;
  workspace_id: string;
  connector_id: string;
  display_name: string;
  external_id: string | null;
  project_ids: Json<string[]>;
  redirect_uri: string | null;
  pkce_verifier: string | null;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  created_at: CreatedAt;
  /** Set when a connect page started the flow (migration 0012): the connection goes to its project. */
  connect_session_id: string | null;
  /** SHA-256 of the cookie of the browser that started a connect-page flow; the callback must carry it. */
  browser_hash: Buffer | null;
}

/** A hosted connect page's session (migration 0012); the token is stored only as its SHA-256. */
export interface ConnectSessionTable {
  id: string;
  token_hash: Buffer;
  workspace_id: string;
  project_id: string;
  /** Connector ids the end user may pick from; null: every connector. */
  allowed_connectors: Json<string[]> | null;
  end_user_id: string | null;
  end_user_display_name: string | null;
  redirect_uri: string | null;
  expires_at: Timestamp;
  completed_at: Timestamp | null;
  connection_id: string | null;
  created_at: CreatedAt;
}

export type WebhookEventType = 'connection.broken' | 'connection.restored';
/** What a webhook out subscribes to: a connection event, an inbound event type (`slack.message`), or `*`. */
export type SubscribedEventType = string;

export interface WebhookTable {
  id: string;
  workspace_id: string;
  url: string;
  events: Json<SubscribedEventType[]>;
  secret_key_id: string;
  secret_iv: Buffer;
  secret_tag: Buffer;
  secret_ciphertext: Buffer;
  created_at: CreatedAt;
}

export interface WebhookDeliveryTable {
  id: string;
  webhook_id: string;
  event_id: string;
  event_type: SubscribedEventType;
  payload: Json<unknown>;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: Generated<number>;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: Timestamp | null;
  created_at: CreatedAt;
  delivered_at: Timestamp | null;
}

/** An event a connected service sent to POST /v1/inbound/… (migrations/0011_inbound_events.ts). */
export interface InboundEventTable {
  id: string;
  workspace_id: string;
  connection_id: string;
  connector_id: string;
  /** The service's own id of the event (Slack's event_id, svix-id, I-Twilio-Idempotency-Token): unique per connection. */
  upstream_event_id: string;
  type: string;
  /** The body the service sent, parsed; NULL once past retention. */
  payload: ColumnType<unknown, string, string | null>;
  received_at: ColumnType<Date, Date | string | undefined, Date | string>;
  /** When its deliveries to webhooks out were recorded and queued; NULL until then. */
  fanned_out_at: Timestamp | null;
}

/**
 * An Idempotency-Key taken by an invocation (migration 0013): the uniqueness per project that the
 * partitioned invocations table cannot hold. Rows past the 24-hour window are pruned.
 */
export interface InvocationIdempotencyKeyTable {
  project_id: string;
  idempotency_key: string;
  invocation_id: string;
  created_at: CreatedAt;
}

/** The dedupe of inbound events (migration 0013): one row per (connection, upstream event id), as long as the event. */
export interface InboundEventUpstreamIdTable {
  connection_id: string;
  upstream_event_id: string;
  event_id: string;
  received_at: Date;
}

/** One version of a workspace's custom connector definition (migration 0010); rows are never updated. */
export interface CustomConnectorTable {
  workspace_id: string;
  connector_id: string;
  version: number;
  definition: Json<Record<string, unknown>>;
  secret_key_id: string | null;
  secret_iv: Buffer | null;
  secret_tag: Buffer | null;
  secret_ciphertext: Buffer | null;
  created_at: CreatedAt;
}

export interface Database {
  workspaces: WorkspaceTable;
  projects: ProjectTable;
  api_keys: ApiKeyTable;
  connections: ConnectionTable;
  project_connections: ProjectConnectionTable;
  invocations: InvocationTable;
  artifacts: ArtifactTable;
  oauth_states: OAuthStateTable;
  connect_sessions: ConnectSessionTable;
  webhooks: WebhookTable;
  webhook_deliveries: WebhookDeliveryTable;
  inbound_events: InboundEventTable;
  invocation_idempotency_keys: InvocationIdempotencyKeyTable;
  inbound_event_upstream_ids: InboundEventUpstreamIdTable;
  custom_connectors: CustomConnectorTable;
}

export type ProjectRow = Selectable<ProjectTable>;
export type ConnectionRow = Selectable<ConnectionTable>;
export type InvocationRow = Selectable<InvocationTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveryTable>;
export type InboundEventRow = Selectable<InboundEventTable>;
export type NewInvocation = Insertable<InvocationTable>;
export type InvocationUpdate = Updateable<InvocationTable>;
