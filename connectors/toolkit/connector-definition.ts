import type { z } from 'zod';
import type { ErrorTable } from './error-table.ts';
import type { InboundHook } from './inbound.ts';
import type { OAuthProviderDefinition } from './oauth-provider.ts';
import type { UpstreamClient, UpstreamRequest, UpstreamResponse } from './upstream-client.ts';

/**
 * What a connector is: everything the engine knows about one service, as data plus a few handlers.
 * The engine (api, worker, toolkit) reads connectors only through this shape and never names one.
 * connectors/README.md walks through a complete definition.
 */

/** One field of a connection's credentials, as the catalog shows it and the connect form asks for it. */
export interface AuthField {
  key: string;
  label: string;
  /**
   * Secret fields are encrypted, never returned, and shown only as a 4-character hint. Non-secret
   * fields (an account id) are readable by actions (`ActionContext.fields`) and usable in the
   * credential test's path, e.g. `/Accounts/{accountSid}.json`.
   */
  secret: boolean;
  required: boolean;
}

/**
 * How a connection authenticates, as the catalog's `authType` and the headers every request gets.
 * Build one with the helpers in toolkit/auth.ts rather than by hand.
 */
export type AuthScheme =
  | {
      type: 'api_key';
      fields: AuthField[];
      headers(credentials: Record<string, string>): Record<string, string>;
      /** Query parameters every request gets, for services that take the key in the URL (`?api_key=`). */
      query?(credentials: Record<string, string>): Record<string, string>;
    }
  | { type: 'basic'; fields: AuthField[]; headers(credentials: Record<string, string>): Record<string, string> }
  | {
      type: 'oauth2';
      /** The OAuth provider that issues this connector's tokens (shared by the connectors of one vendor). */
      provider: OAuthProviderDefinition;
      /** The fields a connection stores: the access token, and what the provider's refresh needs. */
      fields: AuthField[];
      headers(credentials: Record<string, string>): Record<string, string>;
    };

export interface ArtifactRef {
  contentType: string;
  sizeBytes: number;
  url: string;
}

/** What an action handler gets: everything it needs, nothing that would let it leak credentials. */
export interface ActionContext {
  /** Already set up with base URL, auth, timeout and User-Agent. */
  http: UpstreamClient;
  /** The connection's non-secret auth fields (e.g. an account id), never a secret one. */
  fields: Readonly<Record<string, string>>;
  invocationId: string;
  /** Identical on every attempt of one invocation, for upstreams that dedupe writes. */
  idempotencyKey: string;
  saveArtifact(name: string, contentType: string, data: Buffer): Promise<ArtifactRef>;
}

/** A worked input of an action: documentation, and what the conformance suite runs against the fake. */
export interface ActionExample<Input> {
  summary: string;
  input: Input;
}

// biome-ignore lint/suspicious/noExplicitAny: the registry holds actions of every input and output type; `run`'s parameter is contravariant, so `unknown` would accept none of them.
export interface ActionDefinition<Input = any, Output = any> {
  id: string;
  displayName: string;
  description: string;
  /** `write` actions are retried only when the request provably did not run, or the upstream dedupes it. */
  sideEffects: 'read' | 'write';
  /** True when the upstream dedupes this write by the idempotency key we send, so any retry is safe. */
  upstreamDedupes?: boolean;
  /** OAuth scopes this action needs; an OAuth connector's authorization asks for the union of its actions'. */
  scopes?: readonly string[];
  /** Validates the caller's input before anything is queued; the catalog's `inputSchema`. */
  input: z.ZodType<Input>;
  /** What `run` returns; the catalog's `outputSchema`, and the SDK's output type. */
  output: z.ZodType<Output>;
  /** At least one; each must pass `input` and succeed against the connector's fake (test/conformance). */
  examples: readonly ActionExample<Record<string, unknown>>[];
  run(ctx: ActionContext, input: Input): Promise<Output>;
}

/**
 * Whether running the action twice for one invocation does no harm: a read, or a write the upstream
 * dedupes by the idempotency key we send. Such an action is retried after any transient failure, run
 * again after a worker died mid-call (docs/decisions/0001), and its claim need not be durable before
 * the call (docs/decisions/0020).
 */
export function safeToRepeat(action: Pick<ActionDefinition, 'sideEffects' | 'upstreamDedupes'>): boolean {
  return action.sideEffects === 'read' || action.upstreamDedupes === true;
}

export type CredentialVerdict = { valid: true; note?: string } | { valid: false; reason: string };

export interface ConnectorDefinition {
  /** Lowercase letters and digits: also the prefix of its settings (`<ID>_API_URL`). */
  id: string;
  displayName: string;
  category: string;
  description: string;
  /**
   * The service's API root. The operator overrides it with `<ID IN CAPITALS>_API_URL` (a local fake,
   * a regional endpoint); connectors/toolkit/settings.ts derives the name.
   */
  baseUrl: string;
  /**
   * For services where each account has its own host: the non-secret auth field whose value, when a
   * connection sets it, is that connection's base URL instead of `baseUrl`.
   */
  connectionBaseUrlField?: string;
  auth: AuthScheme;
  /** Validates the `credentials` object a caller gives when creating or updating a connection. */
  credentials: z.ZodType<Record<string, string>>;
  /** The connector's own ceiling; the engine uses the lower of this and RATE_LIMIT_PER_MINUTE. */
  rateLimit: { requestsPerMinute: number };
  /**
   * A cheap read that proves the credentials authenticate (toolkit/credential-test.ts). Its path may
   * name non-secret auth fields as `{field}`.
   */
  credentialTest: UpstreamRequest & { method: 'GET' | 'POST' };
  /** The upstream's errors as data: its codes and statuses → what they mean to the engine. */
  errors: ErrorTable;
  /** Throws an UpstreamHttpError for a 2xx answer that is an error in the upstream's own terms. */
  checkResponse?: (res: UpstreamResponse) => void;
  actions: ActionDefinition[];
  /** For services that send events: how to verify and read them (toolkit/inbound.ts). Optional. */
  inbound?: InboundHook;
  /**
   * Set for a definition a workspace posted (custom connectors, connectors/custom/): absent for the
   * built-ins. Its URLs are a tenant's choice, so every request passes the egress guard, and the
   * operator's `<ID>_…` settings do not apply to it.
   */
  origin?: CustomOrigin;
}

/** Whose definition a custom connector is, and which of its versions. */
export interface CustomOrigin {
  source: 'custom';
  workspaceId: string;
  version: number;
}

/** Identity helpers that keep the generic types of a definition without casts at the call site. */
export function defineAction<I, O>(action: ActionDefinition<I, O>): ActionDefinition<I, O> {
  return action;
}

export function defineConnector(connector: ConnectorDefinition): ConnectorDefinition {
  return connector;
}
