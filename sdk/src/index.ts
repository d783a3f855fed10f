/** @connector-engine/sdk: a typed client of the connector engine's HTTP API (see README.md). */
export { Client, ConnectorsResource, ConnectionsResource, InvocationsResource, OAuthResource, ProjectsResource, ToolsResource, invocationError, type ClientOptions } from './client.ts';
export {
  AuthenticationError,
  ConflictError,
  ConnectionBrokenError,
  ConnectorEngineError,
  NetworkError,
  NotFoundError,
  PermissionError,
  RateLimitedError,
  TimeoutError,
  UnavailableError,
  UpstreamError,
  ValidationError,
  errorFromCode,
  type ErrorInit,
  type UpstreamDetails,
  type ValidationIssue,
} from './errors.ts';
export { type RequestOptions } from './http.ts';
export { SDK_VERSION } from './version.ts';
export { Page, PagePromise } from './pagination.ts';
export { WebhookVerificationError, webhooks, type WebhookEvent, type WebhookHeaders, type WebhookVerifyOptions } from './webhooks.ts';
export type * from './types.ts';
export type * from './generated/actions.ts';
