import type { z } from 'zod';
import type { UpstreamClient, UpstreamRequest, UpstreamResponse } from './upstream-client.ts';
import type { ClassifiedFailure, UpstreamHttpError } from './upstream-errors.ts';

/** One field of a connection's credentials, as shown in the catalog. */
export interface AuthField {
  key: string;
  label: string;
  /** Secret fields are encrypted, never returned, and shown only as a 4-character hint. */
  secret: boolean;
  required: boolean;
}

/** Where a connector's base URL comes from: a config key such as RESEND_API_URL. */
export type UpstreamUrlKey = 'RESEND_API_URL' | 'SLACK_API_URL' | 'ELEVENLABS_API_URL';

export interface ArtifactRef {
  contentType: string;
  sizeBytes: number;
  url: string;
}

/** What an action handler gets: everything it needs, nothing that would let it leak credentials. */
export interface ActionContext {
  /** Already set up with base URL, auth, timeout and User-Agent. */
  http: UpstreamClient;
  invocationId: string;
  /** Identical on every attempt of one invocation, for upstreams that dedupe writes. */
  idempotencyKey: string;
  saveArtifact(name: string, contentType: string, data: Buffer): Promise<ArtifactRef>;
}

export interface ActionDefinition<Input = any, Output = unknown> {
  id: string;
  displayName: string;
  description: string;
  /** `write` actions are retried only when the request provably did not run, or the upstream dedupes it. */
  sideEffects: 'read' | 'write';
  /** True when the upstream dedupes this write by the idempotency key we send, so any retry is safe. */
  upstreamDedupes?: boolean;
  input: z.ZodType<Input>;
  run(ctx: ActionContext, input: Input): Promise<Output>;
}

export type CredentialVerdict = { valid: true; note?: string } | { valid: false; reason: string };

export interface ConnectorDefinition<Credentials extends Record<string, string> = Record<string, string>> {
  id: string;
  displayName: string;
  category: string;
  description: string;
  authType: 'api_key' | 'oauth2';
  authFields: AuthField[];
  /** Validates the `credentials` object a caller gives when creating or updating a connection. */
  credentials: z.ZodType<Credentials>;
  /** The connector's own ceiling; the engine uses the lower of this and RATE_LIMIT_PER_MINUTE. */
  rateLimit: { requestsPerMinute: number };
  baseUrlConfigKey: UpstreamUrlKey;
  authHeaders(credentials: Credentials): Record<string, string>;
  /** A cheap read that proves the credentials authenticate (see toolkit/credential-test.ts). */
  credentialTest: UpstreamRequest;
  classifyHttpError(err: UpstreamHttpError): ClassifiedFailure;
  /** Throws an UpstreamHttpError for a 2xx answer that is an error in the upstream's own terms. */
  checkResponse?: (res: UpstreamResponse) => void;
  /** For `authType: 'oauth2'`: how to authorize, exchange a code and refresh tokens. */
  oauth?: OAuthSpec;
  actions: ActionDefinition[];
}

export interface OAuthClientCredentials {
  clientId: string;
  clientSecret: string;
}

/**
 * An OAuth2 provider, as data plus two calls. The engine owns state, storage, locking and
 * scheduling; the connector only knows its provider's wire format.
 */
export interface OAuthSpec {
  authorizeUrlConfigKey: 'SLACK_OAUTH_AUTHORIZE_URL';
  clientIdConfigKey: 'SLACK_CLIENT_ID';
  clientSecretConfigKey: 'SLACK_CLIENT_SECRET';
  /** Scopes requested at authorization, and the query parameter that carries them. */
  scopes: string[];
  scopeParam: string;
  scopeSeparator: string;
  /** Exchanges an authorization code for credentials (as stored, with `expiresAt` in epoch ms when tokens expire). */
  exchangeCode(http: UpstreamClient, args: { code: string; redirectUri: string; client: OAuthClientCredentials }): Promise<Record<string, string>>;
  /** New credentials from the stored ones; rejects with an UpstreamHttpError when the provider refuses. */
  refresh(http: UpstreamClient, credentials: Record<string, string>, client: OAuthClientCredentials): Promise<Record<string, string>>;
  /** The base URL config key of the token endpoint's host. */
  tokenBaseUrlConfigKey: UpstreamUrlKey;
}

/** Identity helpers that keep the generic types of a definition without casts at the call site. */
export function defineAction<I, O>(action: ActionDefinition<I, O>): ActionDefinition<I, O> {
  return action;
}

export function defineConnector<C extends Record<string, string>>(connector: ConnectorDefinition<C>): ConnectorDefinition<C> {
  return connector;
}
