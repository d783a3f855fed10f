// A small OAuth 2 provider with an API behind it, written for the custom connector OAuth tests
// (test/e2e/custom-connector-oauth.test.ts), not modelled on a real service: an authorization page
// that redirects back with a code at once (the user "clicks Allow"), a token endpoint (RFC 6749:
// authorization_code with PKCE, refresh_token without rotation, client_credentials), and notes to
// read and write with a bearer token. Errors follow RFC 6749 §5.2 (`invalid_grant`, `invalid_client`).
import { createHash, randomBytes } from 'node:crypto';
import { type FakeResponse, type FakeServer, type RecordedRequest, startFakeServer } from '../support/fake-server.ts';

/** The workspace's app (authorization code). */
export const NOTES_APP = { clientId: 'notes-app-client', clientSecret: 'notes-app-secret-0123456789' };
/** A machine client (client credentials). */
export const NOTES_MACHINE = { clientId: 'notes-machine-client', clientSecret: 'notes-machine-secret-0123456789' };

export interface NotesFake extends FakeServer {
  notes: { id: string; text: string; by: string }[];
  /** Token requests by grant type, e.g. `{client_credentials: 2}`. */
  tokenRequests: Record<string, number>;
  /** The client secrets the token endpoint accepts, by client id; delete one to revoke the client. */
  clients: Map<string, string>;
  /** The scope each issued access token was granted. */
  scopeOf(accessToken: string): string | undefined;
  /** Forgets every access token issued so far: the API answers 401 to them (an expiry before ours). */
  expireAccessTokens(): void;
  /** Revokes every refresh token issued so far: the token endpoint answers invalid_grant. */
  revokeRefreshTokens(): void;
  /** The lifetime (`expires_in`) of the tokens issued from now on, in seconds. */
  setTokenLifetime(seconds: number): void;
}

interface Code {
  clientId: string;
  redirectUri: string;
  challenge?: string;
  scope: string;
}

const oauthError = (status: number, error: string, description: string): FakeResponse => ({
  status,
  headers: { 'cache-control': 'no-store' },
  body: { error, error_description: description },
});
const apiError = (status: number, code: string, message: string): FakeResponse => ({
  status,
  body: { error: { code, message } },
});
const token = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

export async function startNotesFake(): Promise<NotesFake> {
  const codes = new Map<string, Code>();
  const accessTokens = new Map<string, { subject: string; scope: string }>();
  const refreshTokens = new Map<string, { clientId: string; subject: string; scope: string }>();
  const state = {
    notes: [] as { id: string; text: string; by: string }[],
    tokenRequests: {} as Record<string, number>,
    clients: new Map<string, string>(),
    lifetime: 3600,
  };
  const reset = () => {
    codes.clear();
    accessTokens.clear();
    refreshTokens.clear();
    state.notes = [{ id: 'n_1', text: 'First note', by: 'seed' }];
    state.tokenRequests = {};
    state.clients = new Map([
      [NOTES_APP.clientId, NOTES_APP.clientSecret],
      [NOTES_MACHINE.clientId, NOTES_MACHINE.clientSecret],
    ]);
    state.lifetime = 3600;
  };
  reset();

  const issue = (subject: string, scope: string, clientId: string, withRefresh: boolean) => {
    const access = token('at');
    accessTokens.set(access, { subject, scope });
    const body: Record<string, unknown> = {
      access_token: access,
      token_type: 'Bearer',
      expires_in: state.lifetime,
      scope,
    };
    if (withRefresh) {
      const refresh = token('rt');
      refreshTokens.set(refresh, { clientId, subject, scope });
      body.refresh_token = refresh;
    }
    return { status: 200, headers: { 'cache-control': 'no-store' }, body } satisfies FakeResponse;
  };

  /** RFC 6749 §2.3.1: HTTP Basic, or client_id and client_secret in the form. */
  const authenticatedClient = (req: RecordedRequest): string | undefined => {
    let id = req.form?.client_id;
    let secret = req.form?.client_secret;
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (basic) [id, secret] = Buffer.from(basic[1]!, 'base64').toString().split(':') as [string, string];
    return id !== undefined && secret !== undefined && state.clients.get(id) === secret ? id : undefined;
  };

  const tokenEndpoint = (req: RecordedRequest, injected: FakeResponse | undefined): FakeResponse => {
    const form = req.form ?? {};
    const grant = form.grant_type ?? '';
    state.tokenRequests[grant] = (state.tokenRequests[grant] ?? 0) + 1;
    if (injected) return injected;
    const clientId = authenticatedClient(req);
    if (!clientId) return oauthError(401, 'invalid_client', 'Client authentication failed.');
    if (grant === 'authorization_code') {
      const code = codes.get(form.code ?? '');
      codes.delete(form.code ?? '');
      if (!code || code.clientId !== clientId || code.redirectUri !== form.redirect_uri)
        return oauthError(400, 'invalid_grant', 'The code is invalid.');
      if (
        code.challenge &&
        createHash('sha256')
          .update(form.code_verifier ?? '')
          .digest('base64url') !== code.challenge
      )
        return oauthError(400, 'invalid_grant', 'PKCE verification failed.');
      return issue('user_1', code.scope, clientId, true);
    }
    if (grant === 'refresh_token') {
      const refresh = refreshTokens.get(form.refresh_token ?? '');
      if (!refresh || refresh.clientId !== clientId)
        return oauthError(400, 'invalid_grant', 'The refresh token is invalid or revoked.');
      // No rotation: the answer leaves the refresh token out, and the first one stays valid.
      return issue(refresh.subject, refresh.scope, clientId, false);
    }
    if (grant === 'client_credentials') return issue(`client:${clientId}`, form.scope ?? '', clientId, false);
    return oauthError(400, 'unsupported_grant_type', `grant_type ${grant} is not supported.`);
  };

  const authorize = (req: RecordedRequest): FakeResponse => {
    const q = req.query;
    if (!q.client_id || !state.clients.has(q.client_id) || !q.redirect_uri || q.response_type !== 'code')
      return { status: 400, body: 'invalid authorization request' };
    const code = token('code');
    codes.set(code, {
      clientId: q.client_id,
      redirectUri: q.redirect_uri,
      scope: q.scope ?? '',
      ...(q.code_challenge ? { challenge: q.code_challenge } : {}),
    });
    const target = new URL(q.redirect_uri);
    target.searchParams.set('code', code);
    if (q.state !== undefined) target.searchParams.set('state', q.state);
    return { status: 302, headers: { location: target.toString() }, body: '' };
  };

  const server = await startFakeServer(async (req: RecordedRequest, ctx) => {
    if (req.method === 'GET' && req.path === '/oauth/authorize') return authorize(req);
    if (req.method === 'POST' && req.path === '/oauth/token') return tokenEndpoint(req, ctx.takeInjectedResponse());
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const holder = bearer ? accessTokens.get(bearer) : undefined;
    if (!holder) return apiError(401, 'invalid_token', 'The access token is invalid or expired.');
    const injected = ctx.takeInjectedResponse();
    if (injected) return injected;
    if (req.method === 'GET' && req.path === '/api/me') return { status: 200, body: { subject: holder.subject } };
    if (req.method === 'GET' && req.path === '/api/notes') return { status: 200, body: { notes: state.notes } };
    if (req.method === 'POST' && req.path === '/api/notes') {
      const text = (req.json as { text?: unknown } | undefined)?.text;
      if (typeof text !== 'string') return apiError(422, 'invalid_text', 'text is required');
      const note = { id: `n_${state.notes.length + 1}`, text, by: holder.subject };
      state.notes.push(note);
      return { status: 201, body: { note } };
    }
    return apiError(404, 'not_found', 'No such route.');
  });

  const baseReset = server.reset.bind(server);
  Object.defineProperties(server, {
    notes: { get: () => state.notes },
    tokenRequests: { get: () => state.tokenRequests },
    clients: { get: () => state.clients },
    scopeOf: { value: (accessToken: string) => accessTokens.get(accessToken)?.scope },
    expireAccessTokens: { value: () => accessTokens.clear() },
    revokeRefreshTokens: { value: () => refreshTokens.clear() },
    setTokenLifetime: {
      value: (seconds: number) => {
        state.lifetime = seconds;
      },
    },
    reset: {
      value: () => {
        baseReset();
        reset();
      },
    },
  });
  return server as NotesFake;
}

/** A definition of the notes fake with the given OAuth auth, as a workspace would write it (docs/custom-connectors.md). */
export function notesDefinition(
  baseUrl: string,
  auth: Record<string, unknown>,
  overrides: Record<string, unknown> = {},
) {
  return {
    id: 'custom-notes',
    displayName: 'Notes',
    description: 'A small notes service behind OAuth 2.',
    baseUrl: `${baseUrl}/api`,
    auth,
    credentialTest: { method: 'GET', path: '/me' },
    rateLimit: { requestsPerMinute: 600 },
    errors: { codePointer: '/error/code', messagePointer: '/error/message' },
    actions: [
      {
        id: 'listNotes',
        displayName: 'List notes',
        description: 'Every note.',
        sideEffects: 'read',
        method: 'GET',
        path: '/notes',
        inputSchema: { type: 'object', properties: {} },
        output: { pointer: '/notes' },
      },
      {
        id: 'addNote',
        displayName: 'Add a note',
        description: 'Writes a note.',
        sideEffects: 'write',
        method: 'POST',
        path: '/notes',
        body: { encoding: 'json' },
        inputSchema: {
          type: 'object',
          properties: { text: { type: 'string', minLength: 1 } },
          required: ['text'],
          additionalProperties: false,
        },
        output: { pointer: '/note' },
      },
    ],
    ...overrides,
  };
}
