/** @connector-engine/sdk: a typed client of the connector engine's HTTP API (see README.md). */
export {
  Client,
  type ClientOptions,
  ConnectionsResource,
  ConnectorsResource,
  InvocationsResource,
  invocationError,
  OAuthResource,
  ProjectsResource,
  ToolsResource,
} from './client.ts';
export {
  AuthenticationError,
  ConflictError,
  ConnectionBrokenError,
  ConnectorEngineError,
  type ErrorInit,
  errorFromCode,
  NetworkError,
  NotFoundError,
  PermissionError,
  RateLimitedError,
  TimeoutError,
  UnavailableError,
  type UpstreamDetails,
  UpstreamError,
  ValidationError,
  type ValidationIssue,
} from './errors.ts';
export type * from './generated/actions.ts';
export type { RequestOptions } from './http.ts';
export { Page, PagePromise } from './pagination.ts';
export type * from './types.ts';
export { SDK_VERSION } from './version.ts';
export {
  type WebhookEvent,
  type WebhookHeaders,
  WebhookVerificationError,
  type WebhookVerifyOptions,
  webhooks,
} from './webhooks.ts';
