import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyAuth, basicAuth, expandPath, oauth2Auth, publicFields } from '../../connectors/toolkit/auth.ts';
import { classifyUpstreamError } from '../../connectors/toolkit/classify.ts';
import { stringAt } from '../../connectors/toolkit/error-table.ts';
import {
  authorizationUrl,
  connectionClientOf,
  type OAuthProviderDefinition,
  OAuthTokenEndpoint,
  oauthStandardErrors,
  pkcePair,
  scopesFor,
  standardCredentials,
  tokenEndpointParts,
} from '../../connectors/toolkit/oauth-provider.ts';
import { UpstreamClient } from '../../connectors/toolkit/upstream-client.ts';
import { type FakeServer, type RecordedRequest, startFakeServer } from '../fakes/support/fake-server.ts';

const accountSid = { key: 'accountSid', label: 'Account SID', secret: false, required: true };
const authToken = { key: 'authToken', label: 'Auth token', secret: true, required: true };

describe('auth schemes', () => {
  it('api_key: a bearer token by default, or a header of its own', () => {
    expect(apiKeyAuth().headers({ apiKey: 'k123' })).toEqual({ authorization: 'Bearer k123' });
    expect(apiKeyAuth({ header: 'xi-api-key' }).headers({ apiKey: 'k123' })).toEqual({ 'xi-api-key': 'k123' });
    expect(apiKeyAuth().type).toBe('api_key');
  });

  it('basic: HTTP Basic from an id and a secret field', () => {
    const scheme = basicAuth({ username: accountSid, password: authToken });
    expect(scheme.type).toBe('basic');
    expect(scheme.fields.map((f) => f.key)).toEqual(['accountSid', 'authToken']);
    expect(scheme.headers({ accountSid: 'AC1', authToken: 'tok' })).toEqual({
      authorization: `Basic ${Buffer.from('AC1:tok').toString('base64')}`,
    });
  });

  it('exposes only non-secret fields to actions and path templates, URL-encoded', () => {
    const scheme = basicAuth({ username: accountSid, password: authToken });
    const fields = publicFields(scheme, { accountSid: 'AC 1/2', authToken: 'secret-token' });
    expect(fields).toEqual({ accountSid: 'AC 1/2' });
    expect(expandPath('/2010-04-01/Accounts/{accountSid}/Messages.json', fields)).toBe(
      '/2010-04-01/Accounts/AC%201%2F2/Messages.json',
    );
    expect(() => expandPath('/x/{authToken}', fields)).toThrow(/not a non-secret field/);
  });
});

/** A provider like Google's: PKCE, non-rotating refresh tokens, client credentials in the body, RFC 6749 errors. */
const googleLike = (tokenUrl: string): OAuthProviderDefinition => ({
  id: 'acme',
  displayName: 'Acme',
  authorizeUrl: 'https://accounts.acme.example/authorize',
  tokenUrl,
  pkce: true,
  refreshTokenRotates: false,
  clientAuthentication: 'body',
  baseScopes: ['openid'],
  authorizeParams: { access_type: 'offline', prompt: 'consent' },
  errors: {
    codeOf: (b) => stringAt(b, 'error'),
    messageOf: (b) => stringAt(b, 'error_description'),
    byCode: oauthStandardErrors,
    byStatus: { 401: 'permission', 403: 'permission' },
  },
  credentialsFrom: (token, previous) => standardCredentials(token, previous, 'accessToken'),
});

describe('OAuth providers as definitions', () => {
  let server: FakeServer;
  let answer: { status: number; body: unknown } = { status: 200, body: {} };
  beforeAll(async () => {
    server = await startFakeServer(() => answer);
  });
  afterAll(() => server.close());
  const endpoint = (provider: OAuthProviderDefinition) => {
    const { baseUrl, path } = tokenEndpointParts(provider.tokenUrl);
    return new OAuthTokenEndpoint(provider, new UpstreamClient({ baseUrl, authHeaders: {}, timeoutMs: 5_000 }), path, {
      clientId: 'cid',
      clientSecret: 'csecret',
    });
  };
  const last = (): RecordedRequest => server.requests.at(-1)!;

  it('asks for the provider scopes plus every action scope, once each, with its extra parameters and a PKCE challenge', () => {
    const provider = googleLike('https://oauth2.acme.example/token');
    const scopes = scopesFor(provider, [{ scopes: ['mail.send', 'mail.read'] }, { scopes: ['mail.read'] }, {}]);
    expect(scopes).toEqual(['openid', 'mail.send', 'mail.read']);
    const { verifier, challenge } = pkcePair();
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const url = new URL(
      authorizationUrl(provider, {
        authorizeUrl: provider.authorizeUrl,
        clientId: 'cid',
        redirectUri: 'https://e.example/cb',
        state: 's1',
        scopes,
        codeChallenge: challenge,
      }),
    );
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: 'cid',
      redirect_uri: 'https://e.example/cb',
      response_type: 'code',
      scope: 'openid mail.send mail.read',
      state: 's1',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      access_type: 'offline',
      prompt: 'consent',
    });
  });

  it('exchanges a code with the PKCE verifier and the client in the body', async () => {
    answer = { status: 200, body: { access_token: 'at1', refresh_token: 'rt1', expires_in: 3600, scope: 'openid' } };
    const before = Date.now();
    const creds = await endpoint(googleLike(`${server.url}/token`)).exchangeCode({
      code: 'c1',
      redirectUri: 'https://e.example/cb',
      codeVerifier: 'v'.repeat(43),
    });
    expect(last().path).toBe('/token');
    expect(last().form).toEqual({
      grant_type: 'authorization_code',
      code: 'c1',
      redirect_uri: 'https://e.example/cb',
      code_verifier: 'v'.repeat(43),
      client_id: 'cid',
      client_secret: 'csecret',
    });
    expect(creds).toMatchObject({ accessToken: 'at1', refreshToken: 'rt1', scope: 'openid' });
    expect(Number(creds.expiresAt)).toBeGreaterThanOrEqual(before + 3_600_000);
  });

  it('keeps a refresh token that does not rotate, and sends the client as HTTP Basic when the provider says so', async () => {
    answer = { status: 200, body: { access_token: 'at2', expires_in: 3600 } };
    const refreshed = await endpoint(googleLike(`${server.url}/token`)).refresh({
      accessToken: 'at1',
      refreshToken: 'rt1',
      expiresAt: '1',
    });
    expect(refreshed).toMatchObject({ accessToken: 'at2', refreshToken: 'rt1' });
    answer = { status: 200, body: { access_token: 'at3', refresh_token: 'rt2', expires_in: 60 } };
    const rotating = {
      ...googleLike(`${server.url}/token`),
      refreshTokenRotates: true,
      clientAuthentication: 'basic' as const,
    };
    expect(await endpoint(rotating).refresh({ accessToken: 'at1', refreshToken: 'rt1' })).toMatchObject({
      accessToken: 'at3',
      refreshToken: 'rt2',
    });
    expect(last().headers.authorization).toBe(`Basic ${Buffer.from('cid:csecret').toString('base64')}`);
    expect(last().form).toEqual({ grant_type: 'refresh_token', refresh_token: 'rt1' });
  });

  it("gets a client-credentials token for the connection's own client, with the provider's scopes and no refresh token", async () => {
    answer = { status: 200, body: { access_token: 'cc1', token_type: 'Bearer', expires_in: 600 } };
    const provider: OAuthProviderDefinition = {
      ...googleLike(`${server.url}/token`),
      grant: 'client_credentials',
      baseScopes: ['a', 'b'],
      scopeSeparator: ',',
    };
    const { baseUrl, path } = tokenEndpointParts(provider.tokenUrl);
    const client = connectionClientOf({ clientId: 'machine', clientSecret: 'msecret' })!;
    const creds = await new OAuthTokenEndpoint(
      provider,
      new UpstreamClient({ baseUrl, authHeaders: {}, timeoutMs: 5_000 }),
      path,
      client,
    ).refresh({ clientId: 'machine', clientSecret: 'msecret', accessToken: 'old' });
    expect(last().form).toEqual({
      grant_type: 'client_credentials',
      scope: 'a,b',
      client_id: 'machine',
      client_secret: 'msecret',
    });
    expect(creds).toMatchObject({ clientId: 'machine', clientSecret: 'msecret', accessToken: 'cc1' });
    expect(creds.refreshToken).toBeUndefined();
    expect(connectionClientOf({ clientId: 'machine' })).toBeUndefined();
  });

  it("reads a revoked refresh token (invalid_grant) as dead credentials, by the provider's own table", async () => {
    answer = { status: 400, body: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' } };
    const provider = googleLike(`${server.url}/token`);
    const failure = await endpoint(provider)
      .refresh({ refreshToken: 'rt1' })
      .then(
        () => undefined,
        (err) => classifyUpstreamError(provider, err),
      );
    expect(failure).toMatchObject({
      kind: 'auth_invalid',
      upstreamCode: 'invalid_grant',
      message: 'Token has been expired or revoked.',
    });
  });

  it('oauth2Auth sends the token field as a bearer token', () => {
    const scheme = oauth2Auth({
      provider: googleLike('https://x.example/token'),
      tokenField: { key: 'accessToken', label: 'Access token', secret: true, required: true },
    });
    expect(scheme.headers({ accessToken: 'ya29.x' })).toEqual({ authorization: 'Bearer ya29.x' });
  });
});
