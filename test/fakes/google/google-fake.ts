// Local fake of Google: the OAuth 2.0 authorization page and token endpoint (accounts.google.com,
// oauth2.googleapis.com), and the Gmail v1 and Sheets v4 APIs (gmail.googleapis.com,
// sheets.googleapis.com), all on one port since their paths do not collide. Wire behaviour
// follows docs/upstreams/google.md ("the reference"): Google's discovery documents, its Node
// auth library, and error bodies quoted by third parties. Where the reference marks something
// UNCONFIRMED, or where this fake had to pick a behaviour the sources don't state, the comment
// says so: don't build hard assertions on those details.
//
// Paths:
//   GET  /o/oauth2/v2/auth        the consent page: signs the user in, redirects with ?code&state
//   POST /token                   authorization_code (with PKCE) and refresh_token grants
//   GET  /tokeninfo               access-token introspection
//   POST /revoke                  revokes a grant
//   GET  /gmail/v1/users/{userId}/profile | messages | messages/{id};  POST …/messages/send
//   GET  /v4/spreadsheets/{id}/values/{range};  POST …/values/{range}:append
//
// Wire rules in short:
// - Token endpoint: form-encoded; client credentials in the body (what Google's Node client sends)
//   or HTTP Basic; errors as RFC 6749 `{"error","error_description"}`, `invalid_grant` 400 for a
//   revoked or unknown refresh token. Access tokens live `expires_in: 3599` seconds. A refresh
//   answers no refresh_token (Google's do not rotate); a code exchange answers one only for
//   access_type=offline, and again after the first time only with prompt=consent.
// - APIs: `Authorization: Bearer <token>`; errors in Google's envelope (google-errors-wire.ts);
//   401 for an expired, revoked or unknown token, 403 for a scope the token lacks.
import { createHash, randomBytes } from 'node:crypto';
import type { ConformanceFake, StartConformanceFake } from '../../conformance/fake-contract.ts';
import {
  type DropOptions,
  type FakeResponse,
  type FakeServer,
  type HandlerContext,
  type RecordedRequest,
  startFakeServer,
} from '../support/fake-server.ts';
import { GMAIL_FAKE_MESSAGES, GMAIL_SCOPES, GmailBackend } from './gmail-backend.ts';
import {
  accountStateInvalid,
  credentialsMissing,
  expiredToken,
  type GoogleApi,
  type GoogleErrorSpec,
  googleError,
  internalError,
  invalidToken,
  rateLimited403,
  rateLimited429,
  unavailable,
  unknownPath,
} from './google-errors-wire.ts';
import { SHEETS_FAKE_ORDERS_ID, SHEETS_QUICKSTART_ID, SHEETS_SCOPES, SheetsBackend } from './sheets-backend.ts';

export type { SentGmailMessage } from './gmail-backend.ts';
export { GMAIL_FAKE_MESSAGES, GMAIL_SCOPES, SHEETS_FAKE_ORDERS_ID, SHEETS_QUICKSTART_ID, SHEETS_SCOPES };

// ---- defaults ------------------------------------------------------------------------------------

/** Google client ids end in .apps.googleusercontent.com; secrets start GOCSPX- (OBSERVED). */
export const GOOGLE_FAKE_CLIENT_ID = '123456789012-fakeclient0connector0engine.apps.googleusercontent.com';
export const GOOGLE_FAKE_CLIENT_SECRET = 'GOCSPX-fakeClientSecret0123456789ab';
/** The user the consent page signs in unless login_hint names another known account. */
export const GOOGLE_FAKE_USER = 'ada.lovelace@example.com';
/** An account whose tokens answer ACCOUNT_STATE_INVALID: deleted, so its credentials are dead. */
export const GOOGLE_FAKE_DELETED_USER = 'former.employee@example.com';

const ALL_SCOPES = [...Object.values(GMAIL_SCOPES), ...Object.values(SHEETS_SCOPES)];

/** Long-lived tokens (no expiry) for tests that do not go through the OAuth flow. */
export const GOOGLE_FAKE_ACCESS_TOKEN = 'ya29.fake-all-scopes-a0a0a0a0a0a0a0a0a0a0a0a0';
export const GOOGLE_FAKE_SEND_ONLY_TOKEN = 'ya29.fake-gmail-send-only-b1b1b1b1b1b1b1b1b1';
export const GOOGLE_FAKE_READONLY_TOKEN = 'ya29.fake-readonly-c2c2c2c2c2c2c2c2c2c2c2c2c2';
export const GOOGLE_FAKE_DELETED_ACCOUNT_TOKEN = 'ya29.fake-deleted-account-d3d3d3d3d3d3d3d3d3';

/** Access tokens live an hour; Google's `expires_in` is typically 3599 (OBSERVED). */
const ACCESS_TOKEN_LIFETIME_S = 3599;
/** Authorization codes are short-lived; 10 minutes is the fake's choice (UNCONFIRMED). */
const CODE_LIFETIME_MS = 10 * 60_000;

/** Scopes the consent page knows; any other is `invalid_scope` (the fake's catalogue, not Google's). */
const KNOWN_SCOPES = new Set<string>([
  ...ALL_SCOPES,
  'openid',
  'email',
  'profile',
  'https://www.googleapis.com/auth/userinfo.email',
  'https://www.googleapis.com/auth/userinfo.profile',
]);

// ---- public types -----------------------------------------------------------------------------------

export interface GoogleClientOptions {
  clientId: string;
  clientSecret: string;
  /** Registered redirect URIs, matched exactly (scheme, case, trailing slash). Empty: any (the fake's leniency). */
  redirectUris?: string[];
}

export interface AccessTokenInfo {
  token: string;
  clientId: string;
  email: string;
  scopes: string[];
  /** Epoch ms; null = never expires (the fixed test tokens). */
  expiresAt: number | null;
  revoked: boolean;
  /** The refresh token (grant) it came from, if any. */
  refreshToken?: string;
}

export interface RefreshTokenInfo {
  token: string;
  clientId: string;
  email: string;
  scopes: string[];
  revoked: boolean;
  /** Successful refresh grants with this token. */
  uses: number;
}

/** One request to the token endpoint, as the fake read it (secrets included: it is a test fake). */
export interface TokenRequest {
  grantType: string | undefined;
  /** How the client authenticated: `body` (client_secret field), `basic` (HTTP Basic) or none. */
  clientAuth: 'body' | 'basic' | 'none';
  form: Record<string, string>;
  status: number;
  error?: string;
}

export interface GoogleFakeOptions {
  port?: number;
  /** A real per-user, per-API limit (requests in a sliding minute); default none. */
  rateLimitPerMinute?: number;
}

interface CodeInfo {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  email: string;
  challenge?: string;
  challengeMethod?: 'S256' | 'plain';
  offline: boolean;
  forceConsent: boolean;
  expiresAt: number;
  used: boolean;
}

const random = (bytes: number) => randomBytes(bytes).toString('base64url');

// ---- the fake -----------------------------------------------------------------------------------------

export class GoogleFake {
  readonly gmail = new GmailBackend(GOOGLE_FAKE_USER);
  readonly sheets = new SheetsBackend(GOOGLE_FAKE_USER);
  /** Every token endpoint request, in order. */
  readonly tokenRequests: TokenRequest[] = [];
  /** Successful refresh_token grants. */
  refreshCount = 0;
  /** Successful authorization_code grants. */
  codeExchanges = 0;

  private clients = new Map<string, { clientSecret: string; redirectUris: string[] }>();
  private accounts = new Map<string, { deleted: boolean }>();
  private accessTokens = new Map<string, AccessTokenInfo>();
  private refreshTokens = new Map<string, RefreshTokenInfo>();
  private codes = new Map<string, CodeInfo>();
  /** client + account pairs that have consented once (a refresh token is issued the first time). */
  private consented = new Set<string>();
  private tokenLifetimeS = ACCESS_TOKEN_LIFETIME_S;
  private denyAuthorize = 0;
  private tokenFailures: { status: number; error: string; description?: string; grantType?: string }[] = [];
  private forcedRateLimits: { api?: GoogleApi; shape: 429 | 403; retryAfterSeconds?: number }[] = [];
  private windows = new Map<string, number[]>();

  private constructor(
    private readonly server: FakeServer,
    private rateLimitPerMinute: number | null,
  ) {
    this.addDefaults();
  }

  /** @internal use startGoogleFake */
  static async start(options: GoogleFakeOptions = {}): Promise<GoogleFake> {
    let fake: GoogleFake | undefined;
    const server = await startFakeServer((req, ctx) => fake!.handle(req, ctx), { port: options.port });
    fake = new GoogleFake(server, options.rateLimitPerMinute ?? null);
    return fake;
  }

  get url(): string {
    return this.server.url;
  }
  get requests(): RecordedRequest[] {
    return this.server.requests;
  }
  /** Where to point GOOGLE_OAUTH_AUTHORIZE_URL, GOOGLE_OAUTH_TOKEN_URL and an OAuth2Client's endpoints. */
  get endpoints() {
    return {
      authorize: `${this.url}/o/oauth2/v2/auth`,
      token: `${this.url}/token`,
      tokeninfo: `${this.url}/tokeninfo`,
      revoke: `${this.url}/revoke`,
    };
  }

  // ---- accounts, clients, tokens ---------------------------------------------------------------

  registerClient(options: GoogleClientOptions): void {
    this.clients.set(options.clientId, {
      clientSecret: options.clientSecret,
      redirectUris: options.redirectUris ?? [],
    });
  }
  addAccount(email: string): void {
    this.accounts.set(email.toLowerCase(), { deleted: false });
  }
  /** The account is deleted: its tokens answer ACCOUNT_STATE_INVALID, its refresh tokens invalid_grant. */
  deleteAccount(email: string): void {
    this.accounts.set(email.toLowerCase(), { deleted: true });
  }

  /** Registers an access token directly (no grant behind it). */
  addAccessToken(
    token: string,
    options: { scopes: string[]; email?: string; clientId?: string; expiresAt?: number | null },
  ): AccessTokenInfo {
    const info: AccessTokenInfo = {
      token,
      clientId: options.clientId ?? GOOGLE_FAKE_CLIENT_ID,
      email: options.email ?? GOOGLE_FAKE_USER,
      scopes: [...options.scopes],
      expiresAt: options.expiresAt ?? null,
      revoked: false,
    };
    this.accessTokens.set(token, info);
    return info;
  }

  /** A grant as a finished authorization would leave it: an access token and a refresh token. */
  issueTokens(options: { scopes: string[]; email?: string; clientId?: string; lifetimeSeconds?: number }): {
    accessToken: string;
    refreshToken: string;
    expiresIn: number;
  } {
    const clientId = options.clientId ?? GOOGLE_FAKE_CLIENT_ID;
    const email = options.email ?? GOOGLE_FAKE_USER;
    const refreshToken = this.newRefreshToken(clientId, email, options.scopes);
    const expiresIn = options.lifetimeSeconds ?? this.tokenLifetimeS;
    const accessToken = this.newAccessToken(clientId, email, options.scopes, expiresIn, refreshToken);
    return { accessToken, refreshToken, expiresIn };
  }

  accessTokenInfo(token: string): AccessTokenInfo | undefined {
    return this.accessTokens.get(token);
  }
  refreshTokenInfo(token: string): RefreshTokenInfo | undefined {
    return this.refreshTokens.get(token);
  }
  /** The access token is past its expiry from now on (answers 401 ACCESS_TOKEN_EXPIRED). */
  expireAccessToken(token: string): void {
    const info = this.accessTokens.get(token);
    if (info) info.expiresAt = Date.now() - 1000;
  }
  /** Only this access token stops working (answers the plain 401 of an unknown token); its grant lives on. */
  invalidateAccessToken(token: string): void {
    const info = this.accessTokens.get(token);
    if (info) info.revoked = true;
  }
  /** The user revoked the app: the refresh token and every access token of the grant stop working. */
  revokeGrant(refreshToken: string): void {
    const grant = this.refreshTokens.get(refreshToken);
    if (grant) grant.revoked = true;
    for (const t of this.accessTokens.values()) if (t.refreshToken === refreshToken) t.revoked = true;
  }
  /** `expires_in` of access tokens issued from now on. */
  setTokenLifetime(seconds: number): void {
    this.tokenLifetimeS = seconds;
  }
  /** The next n GET /o/oauth2/v2/auth redirect with error=access_denied (the user clicked Cancel). */
  denyNextAuthorize(n = 1): void {
    this.denyAuthorize += n;
  }
  /** The next n token requests (of one grant type, if given) fail with this RFC 6749 error. */
  failNextTokenRequest(
    n: number,
    failure: {
      status?: number;
      error: string;
      description?: string;
      grantType?: 'authorization_code' | 'refresh_token';
    },
  ): void {
    for (let i = 0; i < n; i++)
      this.tokenFailures.push({
        status: failure.status ?? 400,
        error: failure.error,
        description: failure.description,
        grantType: failure.grantType,
      });
  }

  // ---- API failure switches ---------------------------------------------------------------------

  /**
   * The next n API requests (of one API, if given) are throttled before anything happens: 429
   * RESOURCE_EXHAUSTED (default) or Gmail's 403 usageLimits/rateLimitExceeded. Google sends no
   * Retry-After as far as the reference knows (UNCONFIRMED); give one to model a proxy that does.
   */
  rateLimitNext(n: number, options: { api?: GoogleApi; shape?: 429 | 403; retryAfterSeconds?: number } = {}): void {
    for (let i = 0; i < n; i++)
      this.forcedRateLimits.push({
        api: options.api,
        shape: options.shape ?? 429,
        retryAfterSeconds: options.retryAfterSeconds,
      });
  }
  /** A real per-user, per-API limit per sliding minute; null removes it. */
  setRateLimit(perMinute: number | null): void {
    this.rateLimitPerMinute = perMinute;
    this.windows.clear();
  }
  /**
   * The next n API requests get this Google error instead of being processed: `500` INTERNAL,
   * `503` UNAVAILABLE, `permission` (a scope the token lacks) or any envelope.
   */
  failNext(n: number, failure: 500 | 503 | 'permission' | GoogleErrorSpec): void {
    // The API is known only when the request arrives; the marker is resolved then.
    for (let i = 0; i < n; i++) this.server.failNext(1, { status: 0, body: failure });
  }
  dropNextConnections(n: number, options?: DropOptions): void {
    this.server.dropNextConnections(n, options);
  }
  setLatency(ms: number): void {
    this.server.setLatency(ms);
  }

  /** Back to the initial state: seeds, default tokens and client, no switches, nothing recorded. */
  reset(): void {
    this.server.reset();
    this.gmail.reset();
    this.sheets.reset();
    this.tokenRequests.length = 0;
    this.refreshCount = 0;
    this.codeExchanges = 0;
    this.clients.clear();
    this.accounts.clear();
    this.accessTokens.clear();
    this.refreshTokens.clear();
    this.codes.clear();
    this.consented.clear();
    this.tokenLifetimeS = ACCESS_TOKEN_LIFETIME_S;
    this.denyAuthorize = 0;
    this.tokenFailures = [];
    this.forcedRateLimits = [];
    this.windows.clear();
    this.addDefaults();
  }
  close(): Promise<void> {
    return this.server.close();
  }

  private addDefaults(): void {
    this.registerClient({ clientId: GOOGLE_FAKE_CLIENT_ID, clientSecret: GOOGLE_FAKE_CLIENT_SECRET });
    this.addAccount(GOOGLE_FAKE_USER);
    this.addAccount('grace.hopper@example.com');
    this.deleteAccount(GOOGLE_FAKE_DELETED_USER);
    this.addAccessToken(GOOGLE_FAKE_ACCESS_TOKEN, { scopes: ALL_SCOPES });
    this.addAccessToken(GOOGLE_FAKE_SEND_ONLY_TOKEN, { scopes: [GMAIL_SCOPES.send] });
    this.addAccessToken(GOOGLE_FAKE_READONLY_TOKEN, { scopes: [GMAIL_SCOPES.readonly, SHEETS_SCOPES.readonly] });
    this.addAccessToken(GOOGLE_FAKE_DELETED_ACCOUNT_TOKEN, { scopes: ALL_SCOPES, email: GOOGLE_FAKE_DELETED_USER });
  }

  private newAccessToken(
    clientId: string,
    email: string,
    scopes: string[],
    lifetimeS: number,
    refreshToken?: string,
  ): string {
    // Real access tokens start "ya29." (OBSERVED); their length varies.
    const token = `ya29.a0${random(48)}`;
    this.accessTokens.set(token, {
      token,
      clientId,
      email,
      scopes: [...scopes],
      expiresAt: Date.now() + lifetimeS * 1000,
      revoked: false,
      refreshToken,
    });
    return token;
  }

  private newRefreshToken(clientId: string, email: string, scopes: string[]): string {
    // Real refresh tokens start "1//0" (OBSERVED).
    const token = `1//0${random(40)}`;
    this.refreshTokens.set(token, { token, clientId, email, scopes: [...scopes], revoked: false, uses: 0 });
    return token;
  }

  private isDeleted(email: string): boolean {
    return this.accounts.get(email.toLowerCase())?.deleted ?? false;
  }

  // ---- request pipeline -----------------------------------------------------------------------

  private async handle(req: RecordedRequest, ctx: HandlerContext): Promise<FakeResponse> {
    if (req.path === '/o/oauth2/v2/auth') return this.authorize(req);
    if (req.path === '/token') return req.method === 'POST' ? this.token(req) : unknownPath(req.path);
    if (req.path === '/tokeninfo') return this.tokeninfo(req);
    if (req.path === '/revoke') return this.revoke(req);
    const api: GoogleApi | undefined =
      req.path.startsWith('/gmail/') || req.path.startsWith('/upload/gmail/')
        ? 'gmail'
        : req.path.startsWith('/v4/')
          ? 'sheets'
          : undefined;
    if (!api) return unknownPath(req.path);

    const injected = ctx.takeInjectedResponse();
    if (injected) return this.injected(api, injected.body as 500 | 503 | 'permission' | GoogleErrorSpec);
    const forced = this.forcedRateLimits.findIndex((f) => f.api === undefined || f.api === api);
    if (forced >= 0) {
      const [f] = this.forcedRateLimits.splice(forced, 1);
      return f!.shape === 403 ? rateLimited403(api) : rateLimited429(api, f!.retryAfterSeconds);
    }

    // Authentication: the Authorization header, or the `access_token` query parameter (a
    // global parameter of every method, G-DISC).
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ?? req.query.access_token;
    if (!token) return credentialsMissing(api);
    const info = this.accessTokens.get(token);
    if (!info || info.revoked) return invalidToken(api);
    if (this.isDeleted(info.email)) return accountStateInvalid(api, info.email);
    if (info.expiresAt !== null && info.expiresAt <= Date.now()) return expiredToken(api);

    if (this.rateLimitPerMinute !== null) {
      const key = `${api}\n${info.email}`;
      const now = Date.now();
      const window = (this.windows.get(key) ?? []).filter((t) => t > now - 60_000);
      if (window.length >= this.rateLimitPerMinute) {
        this.windows.set(key, window);
        return rateLimited429(api);
      }
      window.push(now);
      this.windows.set(key, window);
    }

    await ctx.simulateLatency();
    const auth = { email: info.email, scopes: info.scopes, token };
    return (api === 'gmail' ? this.gmail.handle(req, auth) : this.sheets.handle(req, auth)) ?? unknownPath(req.path);
  }

  private injected(api: GoogleApi, failure: 500 | 503 | 'permission' | GoogleErrorSpec): FakeResponse {
    if (failure === 500) return internalError(api);
    if (failure === 503) return unavailable(api);
    if (failure === 'permission') {
      return googleError(api, {
        status: 403,
        googleStatus: 'PERMISSION_DENIED',
        message: 'Request had insufficient authentication scopes.',
        legacy: { reason: 'insufficientPermissions', message: 'Insufficient Permission' },
        errorInfo: { reason: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT' },
      });
    }
    return googleError(api, failure);
  }

  // ---- OAuth: the consent page ------------------------------------------------------------------

  /** GET /o/oauth2/v2/auth: simulates the user choosing an account and clicking Allow (or Cancel). */
  private authorize(req: RecordedRequest): FakeResponse {
    if (req.method !== 'GET' && req.method !== 'POST') return unknownPath(req.path);
    const q = req.query;
    // Problems with the request itself are shown on Google's error page, never redirected (OBSERVED).
    const page = (error: string, detail: string): FakeResponse => ({
      status: 400,
      headers: { 'content-type': 'text/html; charset=utf-8' },
      body: `<!DOCTYPE html><html><body><h1>Access blocked: This app’s request is invalid</h1><p>Error 400: ${error}</p><p>${detail}</p></body></html>`,
    });
    const client = q.client_id ? this.clients.get(q.client_id) : undefined;
    if (!client) return { ...page('invalid_client', 'The OAuth client was not found.'), status: 401 };
    const redirectUri = q.redirect_uri;
    if (!redirectUri) return page('invalid_request', 'Missing required parameter: redirect_uri');
    if (client.redirectUris.length && !client.redirectUris.includes(redirectUri))
      return page('redirect_uri_mismatch', `redirect_uri=${redirectUri}`);
    let target: URL;
    try {
      target = new URL(redirectUri);
    } catch {
      return page('invalid_request', 'Invalid parameter value for redirect_uri');
    }
    if (q.response_type !== 'code') return page('unsupported_response_type', `response_type=${q.response_type ?? ''}`);
    const scopes = (q.scope ?? '').split(' ').filter(Boolean);
    if (scopes.length === 0) return page('invalid_request', 'Missing required parameter: scope');
    const unknown = scopes.filter((s) => !KNOWN_SCOPES.has(s));
    if (unknown.length)
      return page('invalid_scope', `Some requested scopes were invalid. {invalid=[${unknown.join(', ')}]}`);
    if (q.access_type !== undefined && q.access_type !== 'online' && q.access_type !== 'offline')
      return page('invalid_request', `Invalid access_type: ${q.access_type}`);
    // "prompt=none" only alone; values are space-separated and case-sensitive (CONFIRMED).
    const prompts = (q.prompt ?? '').split(' ').filter(Boolean);
    if (
      prompts.some((p) => !['none', 'consent', 'select_account'].includes(p)) ||
      (prompts.includes('none') && prompts.length > 1)
    ) {
      return page('invalid_request', `Invalid prompt: ${q.prompt}`);
    }
    // PKCE: a method without a challenge is an error; a challenge without a method means plain.
    if (q.code_challenge_method !== undefined && !q.code_challenge)
      return page('invalid_request', 'code_challenge_method without code_challenge');
    const method = q.code_challenge ? (q.code_challenge_method ?? 'plain') : undefined;
    if (method !== undefined && method !== 'S256' && method !== 'plain')
      return page('invalid_request', `Invalid code_challenge_method: ${method}`);

    if (this.denyAuthorize > 0) {
      this.denyAuthorize--;
      target.searchParams.set('error', 'access_denied'); // OBSERVED form of a denial
    } else {
      const hinted = q.login_hint?.toLowerCase();
      const email = hinted && this.accounts.has(hinted) ? hinted : GOOGLE_FAKE_USER;
      // Real codes look like "4/0A…" (OBSERVED).
      const code = `4/0A${random(60)}`;
      this.codes.set(code, {
        clientId: q.client_id!,
        redirectUri,
        scopes,
        email,
        challenge: q.code_challenge,
        challengeMethod: method as 'S256' | 'plain' | undefined,
        offline: q.access_type === 'offline',
        forceConsent: prompts.includes('consent'),
        expiresAt: Date.now() + CODE_LIFETIME_MS,
        used: false,
      });
      target.searchParams.set('code', code);
      // Google also returns the granted scopes (and authuser, prompt) with the code (UNCONFIRMED).
      target.searchParams.set('scope', scopes.join(' '));
    }
    if (q.state !== undefined) target.searchParams.set('state', q.state);
    return {
      status: 302,
      headers: { location: target.toString(), 'cache-control': 'no-cache, no-store, max-age=0, must-revalidate' },
      body: '',
    };
  }

  // ---- OAuth: the token endpoint --------------------------------------------------------------------

  private token(req: RecordedRequest): FakeResponse {
    const record: TokenRequest = { grantType: undefined, clientAuth: 'none', form: {}, status: 0 };
    this.tokenRequests.push(record);
    const answer = (status: number, body: Record<string, unknown>): FakeResponse => {
      record.status = status;
      if (typeof body.error === 'string') record.error = body.error;
      return {
        status,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'cache-control': 'no-cache, no-store, max-age=0, must-revalidate',
          pragma: 'no-cache',
        },
        body,
      };
    };
    const fail = (status: number, error: string, description?: string) =>
      answer(status, description === undefined ? { error } : { error, error_description: description });

    if (!(req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded') || !req.form) {
      return fail(400, 'invalid_request', 'Invalid request: expected application/x-www-form-urlencoded'); // UNCONFIRMED wording
    }
    const form = req.form;
    record.form = form;
    record.grantType = form.grant_type;

    // Client authentication (RFC 6749 §2.3.1): HTTP Basic or the form body; not both.
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    let clientId = form.client_id;
    let clientSecret = form.client_secret;
    if (basic) {
      const [id, secret] = Buffer.from(basic, 'base64').toString('utf8').split(':');
      if (form.client_secret !== undefined)
        return fail(400, 'invalid_request', 'Multiple client authentication methods');
      if (clientId !== undefined && clientId !== decodeURIComponent(id ?? ''))
        return fail(400, 'invalid_request', 'client_id mismatch');
      clientId = decodeURIComponent(id ?? '');
      clientSecret = decodeURIComponent(secret ?? '');
      record.clientAuth = 'basic';
    } else if (form.client_secret !== undefined) {
      record.clientAuth = 'body';
    }
    if (!clientId) return fail(400, 'invalid_request', 'Could not determine client ID from request.'); // OBSERVED
    const client = this.clients.get(clientId);
    // Status and wording of invalid_client are UNCONFIRMED (401 per RFC 6749 §5.2 with Basic).
    if (!client) return fail(401, 'invalid_client', 'The OAuth client was not found.');
    if (clientSecret !== client.clientSecret) return fail(401, 'invalid_client', 'Unauthorized');

    const injected = this.tokenFailures.findIndex((f) => f.grantType === undefined || f.grantType === form.grant_type);
    if (injected >= 0) {
      const [f] = this.tokenFailures.splice(injected, 1);
      return fail(f!.status, f!.error, f!.description);
    }

    if (form.grant_type === 'authorization_code') return this.exchangeCode(form, clientId, answer, fail);
    if (form.grant_type === 'refresh_token') return this.refresh(form, clientId, answer, fail);
    return fail(400, 'unsupported_grant_type', `Invalid grant_type: ${form.grant_type ?? ''}`);
  }

  private exchangeCode(
    form: Record<string, string>,
    clientId: string,
    answer: (status: number, body: Record<string, unknown>) => FakeResponse,
    fail: (status: number, error: string, description?: string) => FakeResponse,
  ): FakeResponse {
    if (!form.code) return fail(400, 'invalid_request', 'Missing required parameter: code');
    const code = this.codes.get(form.code);
    // Google's error_description strings for codes are UNCONFIRMED; the codes are RFC 6749's.
    if (!code || code.clientId !== clientId) return fail(400, 'invalid_grant', 'Malformed auth code.');
    if (code.used) return fail(400, 'invalid_grant', 'Bad Request');
    if (code.expiresAt <= Date.now()) return fail(400, 'invalid_grant', 'Bad Request');
    if (form.redirect_uri !== code.redirectUri) return fail(400, 'redirect_uri_mismatch', 'Bad Request');
    if (code.challenge !== undefined) {
      const verifier = form.code_verifier;
      if (!verifier) return fail(400, 'invalid_grant', 'Missing code verifier.');
      // RFC 7636 §4.1: 43 to 128 unreserved characters.
      if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) return fail(400, 'invalid_grant', 'Invalid code verifier.');
      const computed =
        code.challengeMethod === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
      if (computed !== code.challenge) return fail(400, 'invalid_grant', 'Invalid code verifier.');
    }
    code.used = true;
    if (this.isDeleted(code.email)) return fail(400, 'invalid_grant', 'Account has been deleted');
    this.codeExchanges++;
    // A refresh token only with access_type=offline, and after the first consent only when
    // prompt=consent asked again (CONFIRMED for offline; the repeat rule is OBSERVED).
    const pair = `${clientId}\n${code.email}`;
    const firstConsent = !this.consented.has(pair);
    this.consented.add(pair);
    const refreshToken =
      code.offline && (firstConsent || code.forceConsent)
        ? this.newRefreshToken(clientId, code.email, code.scopes)
        : undefined;
    const accessToken = this.newAccessToken(clientId, code.email, code.scopes, this.tokenLifetimeS, refreshToken);
    return answer(200, {
      access_token: accessToken,
      expires_in: this.tokenLifetimeS,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      scope: code.scopes.join(' '),
      token_type: 'Bearer',
    });
  }

  private refresh(
    form: Record<string, string>,
    clientId: string,
    answer: (status: number, body: Record<string, unknown>) => FakeResponse,
    fail: (status: number, error: string, description?: string) => FakeResponse,
  ): FakeResponse {
    if (!form.refresh_token) return fail(400, 'invalid_request', 'Missing required parameter: refresh_token');
    const grant = this.refreshTokens.get(form.refresh_token);
    // OBSERVED body for a revoked or expired refresh token.
    if (!grant || grant.revoked || this.isDeleted(grant.email))
      return fail(400, 'invalid_grant', 'Token has been expired or revoked.');
    // A refresh token of another client (OBSERVED body; the status is UNCONFIRMED).
    if (grant.clientId !== clientId) return fail(401, 'unauthorized_client', 'Unauthorized');
    grant.uses++;
    this.refreshCount++;
    const accessToken = this.newAccessToken(clientId, grant.email, grant.scopes, this.tokenLifetimeS, grant.token);
    // No refresh_token in the answer: Google's do not rotate (CONFIRMED by its Node client's behaviour).
    return answer(200, {
      access_token: accessToken,
      expires_in: this.tokenLifetimeS,
      scope: grant.scopes.join(' '),
      token_type: 'Bearer',
    });
  }

  /** GET|POST /tokeninfo?access_token=… (the field set of google-auth-library's TokenInfoRequest). */
  private tokeninfo(req: RecordedRequest): FakeResponse {
    // The token as a parameter, or (as google-auth-library sends it) as a Bearer header.
    const token =
      req.query.access_token ??
      req.form?.access_token ??
      /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const info = token ? this.accessTokens.get(token) : undefined;
    if (!info || info.revoked || (info.expiresAt !== null && info.expiresAt <= Date.now())) {
      return { status: 400, body: { error: 'invalid_token', error_description: 'Invalid Value' } }; // OBSERVED
    }
    const expiresIn = info.expiresAt === null ? 3599 : Math.floor((info.expiresAt - Date.now()) / 1000);
    return {
      status: 200,
      body: {
        azp: info.clientId,
        aud: info.clientId,
        scope: info.scopes.join(' '),
        exp: String(Math.floor(Date.now() / 1000) + expiresIn),
        expires_in: String(expiresIn),
        email: info.email,
        email_verified: 'true',
        access_type: info.refreshToken ? 'offline' : 'online',
      },
    };
  }

  /** POST /revoke token=… : revokes the grant of an access or refresh token (response details UNCONFIRMED). */
  private revoke(req: RecordedRequest): FakeResponse {
    const token = req.form?.token ?? req.query.token;
    const access = token ? this.accessTokens.get(token) : undefined;
    const grant = token
      ? (this.refreshTokens.get(token) ??
        (access?.refreshToken ? this.refreshTokens.get(access.refreshToken) : undefined))
      : undefined;
    if (!access && !grant)
      return { status: 400, body: { error: 'invalid_token', error_description: 'Token expired or revoked' } };
    if (grant) this.revokeGrant(grant.token);
    if (access) access.revoked = true;
    return { status: 200, body: {} };
  }
}

export async function startGoogleFake(options?: GoogleFakeOptions): Promise<GoogleFake> {
  return GoogleFake.start(options);
}

/**
 * The conformance suite's view of the fake for one Google API (test/conformance/fake-contract.ts):
 * the all-scopes token; as dead credentials, a token of a deleted account (ACCOUNT_STATE_INVALID),
 * the one 401 Google says is final. (A revoked token answers a plain 401 UNAUTHENTICATED, which the
 * connectors treat as "refresh and retry", since Gmail says the same for an expired one.)
 */
export function conformanceFakeFor(api: GoogleApi): StartConformanceFake {
  return async (): Promise<ConformanceFake> => {
    const fake = await startGoogleFake();
    return {
      apiUrl: fake.url,
      credentials: { accessToken: GOOGLE_FAKE_ACCESS_TOKEN },
      rejectedCredentials: { accessToken: GOOGLE_FAKE_DELETED_ACCOUNT_TOKEN },
      failNext(kind) {
        if (kind === 'rate_limited') fake.rateLimitNext(1, { api });
        else if (kind === 'server_error') fake.failNext(1, 500);
        else fake.failNext(1, 'permission');
      },
      close: () => fake.close(),
    };
  };
}
