import { createHash, randomBytes } from 'node:crypto';
import { basicAuthorization } from './auth.ts';
import type { ErrorTable } from './error-table.ts';
import type { UpstreamClient, UpstreamResponse } from './upstream-client.ts';

/**
 * An OAuth 2.0 provider as data: where to authorize and exchange tokens, how the client
 * authenticates, whether PKCE is used, whether refresh tokens rotate, and how its token endpoint
 * reports errors. Connectors reference a provider (`oauth2Auth({ provider })`), so two services of
 * one vendor share one client and one definition. The engine owns state, storage, locking and
 * scheduling; this module owns the provider-neutral wire format (RFC 6749 §4.1, RFC 7636).
 */
export interface OAuthProviderDefinition {
  /** Lowercase; the prefix of its settings (`<ID>_CLIENT_ID`, `<ID>_CLIENT_SECRET`, …). */
  id: string;
  displayName: string;
  /**
   * How connections get tokens: a person's consent (authorization code, the default) or, RFC 6749
   * §4.4, the client credentials of the connection itself (`clientId` and `clientSecret` among its
   * credentials; no authorization page, no refresh token: a new token is simply fetched again).
   */
  grant?: 'authorization_code' | 'client_credentials';
  /** The consent page; empty for a client-credentials provider, which has none. */
  authorizeUrl: string;
  tokenUrl: string;
  /**
   * When the token endpoint is a method of a service's API (Slack's oauth.v2.access): it moves with
   * that connector's `<ID>_API_URL` when the operator points the API elsewhere (a fake, a proxy).
   */
  tokenUrlFollowsApiOf?: { connectorId: string; path: string };
  /** Send a PKCE S256 challenge with the authorization and the verifier with the code. */
  pkce: boolean;
  /** Each refresh returns a new refresh token and revokes the old one (Slack); else the first is kept (Google). */
  refreshTokenRotates: boolean;
  /** Client credentials as HTTP Basic (RFC 6749 §2.3.1's preference) or as form fields. */
  clientAuthentication: 'basic' | 'body';
  /** Scopes asked for whatever the connector (e.g. `openid`); the connector's actions add theirs. */
  baseScopes?: readonly string[];
  /** The query parameter that carries scopes (default `scope`) and their separator (default a space). */
  scopeParam?: string;
  scopeSeparator?: string;
  /** Extra authorization parameters, e.g. `access_type=offline` and `prompt=consent`. */
  authorizeParams?: Readonly<Record<string, string>>;
  /** Throws an UpstreamHttpError for a 2xx token answer that is an error (Slack's `ok:false`). */
  checkTokenResponse?: (res: UpstreamResponse) => void;
  /**
   * The token endpoint's errors. A refresh that fails as anything but transient or rate_limited
   * (RFC 6749's `invalid_grant`: revoked, expired, or already used) breaks the connection.
   */
  errors: ErrorTable;
  /**
   * The provider's own client id and secret, for a custom connector that brings the workspace's
   * OAuth app. Absent for the built-ins, whose client comes from the operator's settings.
   */
  client?: OAuthClient;
  /** The stored credentials from a token response; `previous` is what the connection held before. */
  credentialsFrom(token: TokenResponse, previous: Readonly<Record<string, string>>): Record<string, string>;
}

/** RFC 6749 §5.1, plus what providers add (Slack's bot fields, Google's id_token). */
export type TokenResponse = Record<string, unknown> & {
  access_token?: string;
  refresh_token?: string;
  expires_in?: number;
  scope?: string;
};

/** The standard fields of a token response as stored credentials, keeping what the answer leaves out. */
export function standardCredentials(
  token: TokenResponse,
  previous: Readonly<Record<string, string>>,
  accessTokenField: string,
): Record<string, string> {
  const creds: Record<string, string> = { ...previous };
  if (typeof token.access_token === 'string') creds[accessTokenField] = token.access_token;
  if (typeof token.refresh_token === 'string') creds.refreshToken = token.refresh_token;
  if (typeof token.expires_in === 'number') creds.expiresAt = String(Date.now() + token.expires_in * 1000);
  if (typeof token.scope === 'string') creds.scope = token.scope;
  return creds;
}

/** The scopes to ask for: the provider's own, then every action's, each once. */
export function scopesFor(
  provider: OAuthProviderDefinition,
  actions: readonly { scopes?: readonly string[] }[],
): string[] {
  return [...new Set([...(provider.baseScopes ?? []), ...actions.flatMap((a) => a.scopes ?? [])])];
}

/** A PKCE verifier (43 URL-safe characters) and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface OAuthClient {
  clientId: string;
  clientSecret: string;
}

/** A client-credentials connection's own client, from its stored credentials (undefined when incomplete). */
export function connectionClientOf(credentials: Readonly<Record<string, string>>): OAuthClient | undefined {
  const { clientId, clientSecret } = credentials;
  return clientId && clientSecret ? { clientId, clientSecret } : undefined;
}

/** The authorization page URL for one attempt. */
export function authorizationUrl(
  provider: OAuthProviderDefinition,
  args: {
    authorizeUrl: string;
    clientId: string;
    redirectUri: string;
    state: string;
    scopes: readonly string[];
    codeChallenge?: string;
  },
): string {
  const url = new URL(args.authorizeUrl);
  url.searchParams.set('client_id', args.clientId);
  url.searchParams.set('redirect_uri', args.redirectUri);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set(provider.scopeParam ?? 'scope', args.scopes.join(provider.scopeSeparator ?? ' '));
  url.searchParams.set('state', args.state);
  if (args.codeChallenge) {
    url.searchParams.set('code_challenge', args.codeChallenge);
    url.searchParams.set('code_challenge_method', 'S256');
  }
  for (const [k, v] of Object.entries(provider.authorizeParams ?? {})) url.searchParams.set(k, v);
  return url.toString();
}

/** Splits a token URL into the client's base (its origin) and the request path. */
export function tokenEndpointParts(tokenUrl: string): { baseUrl: string; path: string } {
  const url = new URL(tokenUrl);
  return { baseUrl: url.origin, path: `${url.pathname}${url.search}` };
}

/**
 * Calls a provider's token endpoint. `http` is a client on the token URL's origin (built by
 * shared/connections/oauth-token-client.ts, with metrics), and `path` the endpoint's path.
 */
export class OAuthTokenEndpoint {
  constructor(
    private readonly provider: OAuthProviderDefinition,
    private readonly http: UpstreamClient,
    private readonly path: string,
    private readonly client: OAuthClient,
  ) {}

  /** Exchanges an authorization code for credentials (as stored). */
  async exchangeCode(args: {
    code: string;
    redirectUri: string;
    codeVerifier?: string;
  }): Promise<Record<string, string>> {
    const token = await this.post({
      grant_type: 'authorization_code',
      code: args.code,
      redirect_uri: args.redirectUri,
      code_verifier: args.codeVerifier,
    });
    return this.provider.credentialsFrom(token, {});
  }

  /**
   * New credentials from the stored ones: a refresh token grant, or for a client-credentials provider
   * a new token for the connection's client. Rejects with an UpstreamHttpError when the provider refuses.
   */
  async refresh(credentials: Readonly<Record<string, string>>): Promise<Record<string, string>> {
    if (this.provider.grant === 'client_credentials') {
      const scopes = this.provider.baseScopes ?? [];
      const token = await this.post({
        grant_type: 'client_credentials',
        scope: scopes.length ? scopes.join(this.provider.scopeSeparator ?? ' ') : undefined,
      });
      return this.provider.credentialsFrom(token, credentials);
    }
    const token = await this.post({ grant_type: 'refresh_token', refresh_token: credentials.refreshToken ?? '' });
    const refreshed = this.provider.credentialsFrom(token, credentials);
    // A provider that does not rotate usually leaves the refresh token out of its answer: keep ours.
    if (!this.provider.refreshTokenRotates && credentials.refreshToken && !refreshed.refreshToken)
      refreshed.refreshToken = credentials.refreshToken;
    return refreshed;
  }

  private async post(form: Record<string, string | undefined>): Promise<TokenResponse> {
    const basic = this.provider.clientAuthentication === 'basic';
    const res = await this.http.request<TokenResponse>({
      method: 'POST',
      path: this.path,
      form: basic ? form : { ...form, client_id: this.client.clientId, client_secret: this.client.clientSecret },
      headers: {
        accept: 'application/json',
        ...(basic ? { authorization: basicAuthorization(this.client.clientId, this.client.clientSecret) } : {}),
      },
    });
    return res.body ?? {};
  }
}

/** RFC 6749 §5.2's error codes, for providers that follow it: the base of a provider's error table. */
export const oauthStandardErrors: Record<string, 'auth_invalid' | 'permission' | 'invalid_request' | 'transient'> = {
  invalid_grant: 'auth_invalid',
  invalid_client: 'permission',
  unauthorized_client: 'permission',
  invalid_scope: 'permission',
  invalid_request: 'invalid_request',
  unsupported_grant_type: 'invalid_request',
  temporarily_unavailable: 'transient',
  server_error: 'transient',
};
