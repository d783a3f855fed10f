// Checks the Google fake against Google's OFFICIAL clients: google-auth-library's OAuth2Client
// (authorization URL, code exchange with PKCE, refresh, tokeninfo, and the refresh-on-401 it does
// by itself), @googleapis/gmail and @googleapis/sheets with their rootUrl on the fake. If a client
// cannot read what the fake says, or reports a different error, the fake is wrong.
import { gmail as gmailApi, auth as gmailAuth } from '@googleapis/gmail';
import { sheets as sheetsApi } from '@googleapis/sheets';
import { CodeChallengeMethod, OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  GMAIL_FAKE_MESSAGES,
  GMAIL_SCOPES,
  GOOGLE_FAKE_ACCESS_TOKEN,
  GOOGLE_FAKE_CLIENT_ID,
  GOOGLE_FAKE_CLIENT_SECRET,
  GOOGLE_FAKE_DELETED_ACCOUNT_TOKEN,
  GOOGLE_FAKE_READONLY_TOKEN,
  GOOGLE_FAKE_SEND_ONLY_TOKEN,
  GOOGLE_FAKE_USER,
  type GoogleFake,
  SHEETS_FAKE_ORDERS_ID,
  SHEETS_QUICKSTART_ID,
  SHEETS_SCOPES,
  startGoogleFake,
} from './google-fake.ts';

const REDIRECT = 'https://app.example.com/oauth/callback';

let fake: GoogleFake;
beforeAll(async () => {
  fake = await startGoogleFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

function oauthClient(options: { basic?: boolean; secret?: string } = {}): OAuth2Client {
  return new OAuth2Client({
    clientId: GOOGLE_FAKE_CLIENT_ID,
    clientSecret: options.secret ?? GOOGLE_FAKE_CLIENT_SECRET,
    redirectUri: REDIRECT,
    endpoints: {
      oauth2AuthBaseUrl: fake.endpoints.authorize,
      oauth2TokenUrl: fake.endpoints.token,
      tokenInfoUrl: fake.endpoints.tokeninfo,
      oauth2RevokeUrl: fake.endpoints.revoke,
    },
    ...(options.basic ? { clientAuthentication: 'ClientSecretBasic' as never } : {}),
  });
}

/** Plays the user on the consent page; returns the redirect back to the app. */
async function consent(url: string): Promise<URL> {
  const res = await fetch(url, { redirect: 'manual' });
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location')!);
}

async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

// The API clients take the OAuth2Client of the google-auth-library copy they were built with.
type ApiAuth = InstanceType<typeof gmailAuth.OAuth2>;
const authFor = (accessToken: string): ApiAuth => {
  const client = new gmailAuth.OAuth2();
  client.setCredentials({ access_token: accessToken });
  return client;
};
// No automatic retries by the clients, unless a test wants to see them.
const gmail = (token = GOOGLE_FAKE_ACCESS_TOKEN, auth: ApiAuth = authFor(token)) =>
  gmailApi({ version: 'v1', auth, rootUrl: `${fake.url}/`, retry: false });
const sheets = (token = GOOGLE_FAKE_ACCESS_TOKEN) =>
  sheetsApi({ version: 'v4', auth: authFor(token), rootUrl: `${fake.url}/`, retry: false });

describe('OAuth 2.0 with google-auth-library', () => {
  it('authorizes with PKCE, exchanges the code (client secret in the body) and issues an hour-long token and a refresh token', async () => {
    const client = oauthClient();
    const { codeVerifier, codeChallenge } = await client.generateCodeVerifierAsync();
    const url = client.generateAuthUrl({
      access_type: 'offline',
      prompt: 'consent',
      scope: [GMAIL_SCOPES.send, GMAIL_SCOPES.readonly],
      state: 'state-123',
      code_challenge: codeChallenge,
      code_challenge_method: CodeChallengeMethod.S256,
    });
    const back = await consent(url);
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get('state')).toBe('state-123');
    const code = back.searchParams.get('code')!;
    expect(code).toMatch(/^4\/0A/);

    const before = Date.now();
    const { tokens } = await client.getToken({ code, codeVerifier });
    expect(tokens).toMatchObject({
      access_token: expect.stringMatching(/^ya29\./),
      refresh_token: expect.stringMatching(/^1\/\/0/),
      token_type: 'Bearer',
      scope: `${GMAIL_SCOPES.send} ${GMAIL_SCOPES.readonly}`,
    });
    expect(tokens.expiry_date! - before).toBeGreaterThan(3590_000);
    expect(tokens.expiry_date! - before).toBeLessThanOrEqual(3600_000);
    expect(fake.tokenRequests[0]).toMatchObject({ grantType: 'authorization_code', clientAuth: 'body', status: 200 });
    expect(fake.tokenRequests[0]!.form).toMatchObject({
      client_id: GOOGLE_FAKE_CLIENT_ID,
      client_secret: GOOGLE_FAKE_CLIENT_SECRET,
      redirect_uri: REDIRECT,
      code_verifier: codeVerifier,
    });

    // The code works once.
    const reused = await rejection(client.getToken({ code, codeVerifier }));
    expect(reused.response.status).toBe(400);
    expect(reused.response.data.error).toBe('invalid_grant');
  });

  it('refuses a wrong or missing PKCE verifier with invalid_grant', async () => {
    const client = oauthClient();
    const { codeChallenge } = await client.generateCodeVerifierAsync();
    const other = await client.generateCodeVerifierAsync();
    const authUrl = () =>
      client.generateAuthUrl({
        access_type: 'offline',
        scope: [GMAIL_SCOPES.readonly],
        code_challenge: codeChallenge,
        code_challenge_method: CodeChallengeMethod.S256,
      });
    const wrong = await rejection(
      client.getToken({ code: (await consent(authUrl())).searchParams.get('code')!, codeVerifier: other.codeVerifier }),
    );
    expect(wrong.response.data).toEqual({ error: 'invalid_grant', error_description: 'Invalid code verifier.' });
    expect(wrong.message).toBe('invalid_grant');
    const missing = await rejection(client.getToken({ code: (await consent(authUrl())).searchParams.get('code')! }));
    expect(missing.response.data.error).toBe('invalid_grant');
  });

  it('issues a refresh token again only with prompt=consent, and only for access_type=offline', async () => {
    const client = oauthClient();
    const exchange = async (opts: Record<string, string>) =>
      (
        await client.getToken(
          (
            await consent(client.generateAuthUrl({ scope: [GMAIL_SCOPES.readonly], ...opts }))
          ).searchParams.get('code')!,
        )
      ).tokens;
    expect((await exchange({ access_type: 'online' })).refresh_token).toBeUndefined();
    expect((await exchange({ access_type: 'offline' })).refresh_token).toBeUndefined(); // the user consented before
    expect((await exchange({ access_type: 'offline', prompt: 'consent' })).refresh_token).toEqual(expect.any(String));
  });

  it('accepts HTTP Basic client authentication too, and rejects a wrong secret', async () => {
    const basic = oauthClient({ basic: true });
    const { tokens } = await basic.getToken(
      (await consent(basic.generateAuthUrl({ scope: [GMAIL_SCOPES.readonly] }))).searchParams.get('code')!,
    );
    expect(tokens.access_token).toEqual(expect.any(String));
    expect(fake.tokenRequests.at(-1)).toMatchObject({ clientAuth: 'basic', status: 200 });

    const wrong = oauthClient({ secret: 'GOCSPX-wrong' });
    const err = await rejection(
      wrong.getToken(
        (await consent(wrong.generateAuthUrl({ scope: [GMAIL_SCOPES.readonly] }))).searchParams.get('code')!,
      ),
    );
    expect(err.response.status).toBe(401);
    expect(err.response.data.error).toBe('invalid_client');
  });

  it('refreshes without rotating the refresh token, and answers invalid_grant once the grant is revoked', async () => {
    const { accessToken, refreshToken } = fake.issueTokens({ scopes: [GMAIL_SCOPES.readonly] });
    const client = oauthClient();
    client.setCredentials({ access_token: accessToken, refresh_token: refreshToken, expiry_date: Date.now() - 1000 });
    const { credentials, res } = await client.refreshAccessToken();
    expect(credentials.access_token).not.toBe(accessToken);
    expect(credentials.refresh_token).toBe(refreshToken); // the library keeps the old one
    expect(res!.data).toMatchObject({ token_type: 'Bearer', scope: GMAIL_SCOPES.readonly });
    expect(fake.refreshCount).toBe(1);
    expect(fake.tokenRequests.at(-1)!.form).toMatchObject({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_secret: GOOGLE_FAKE_CLIENT_SECRET,
    });

    // The answer itself has no refresh_token (the library copied the old one in), and the same
    // refresh token keeps working.
    const raw = await fetch(fake.endpoints.token, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: GOOGLE_FAKE_CLIENT_ID,
        client_secret: GOOGLE_FAKE_CLIENT_SECRET,
      }),
    });
    expect(await raw.json()).toEqual({
      access_token: expect.stringMatching(/^ya29\./),
      expires_in: 3599,
      scope: GMAIL_SCOPES.readonly,
      token_type: 'Bearer',
    });
    expect(fake.refreshTokenInfo(refreshToken)!.uses).toBe(2);

    fake.revokeGrant(refreshToken);
    const err = await rejection(client.refreshAccessToken());
    expect(err.response.status).toBe(400);
    expect(err.response.data).toEqual({
      error: 'invalid_grant',
      error_description: 'Token has been expired or revoked.',
    });
  });

  it('answers tokeninfo for a live token and refuses a revoked one', async () => {
    const { accessToken, refreshToken } = fake.issueTokens({ scopes: [SHEETS_SCOPES.readonly] });
    const info = await oauthClient().getTokenInfo(accessToken);
    expect(info).toMatchObject({
      aud: GOOGLE_FAKE_CLIENT_ID,
      scopes: [SHEETS_SCOPES.readonly],
      email: GOOGLE_FAKE_USER,
      access_type: 'offline',
    });
    expect(info.expiry_date).toBeGreaterThan(Date.now() + 3500_000);
    await oauthClient().revokeToken(refreshToken);
    expect((await rejection(oauthClient().getTokenInfo(accessToken))).response.status).toBe(400);
  });

  it("lets the client's own refresh-and-retry fix a 401 on an expired access token", async () => {
    const { accessToken, refreshToken } = fake.issueTokens({ scopes: [GMAIL_SCOPES.readonly] });
    fake.expireAccessToken(accessToken);
    const client = new gmailAuth.OAuth2({
      clientId: GOOGLE_FAKE_CLIENT_ID,
      clientSecret: GOOGLE_FAKE_CLIENT_SECRET,
      endpoints: { oauth2TokenUrl: fake.endpoints.token },
    });
    // The library does not know it expired (no expiry_date): it learns from the 401.
    client.setCredentials({ access_token: accessToken, refresh_token: refreshToken });
    const res = await gmail(undefined, client).users.getProfile({ userId: 'me' });
    expect(res.data.emailAddress).toBe(GOOGLE_FAKE_USER);
    expect(fake.refreshCount).toBe(1);
    const statuses = fake.requests.filter((r) => r.path === '/gmail/v1/users/me/profile');
    expect(statuses).toHaveLength(2);
  });

  it('redirects a denial with error=access_denied and the state, and shows an error page for a bad request', async () => {
    const client = oauthClient();
    fake.denyNextAuthorize();
    const back = await consent(client.generateAuthUrl({ scope: [GMAIL_SCOPES.readonly], state: 's1' }));
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe('s1');
    expect(back.searchParams.has('code')).toBe(false);
    const bad = await fetch(client.generateAuthUrl({ scope: ['https://www.googleapis.com/auth/not-a-scope'] }), {
      redirect: 'manual',
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('invalid_scope');
  });
});

describe('Gmail with @googleapis/gmail', () => {
  const raw = (lines: string[]) => Buffer.from(lines.join('\r\n')).toString('base64url');

  it('sends a raw message and answers id, threadId and SENT', async () => {
    const res = await gmail().users.messages.send({
      userId: 'me',
      requestBody: {
        raw: raw([
          'To: Grace <grace@example.com>',
          'Subject: =?UTF-8?B?w4dh?=',
          'Content-Type: text/plain; charset=UTF-8',
          '',
          'Hello',
        ]),
      },
    });
    expect(res.status).toBe(200);
    expect(res.data).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{16}$/),
      threadId: res.data.id,
      labelIds: ['SENT'],
    });
    const sent = fake.gmail.sent[0]!;
    expect(sent).toMatchObject({
      id: res.data.id,
      text: 'Hello',
      userEmail: GOOGLE_FAKE_USER,
      accessToken: GOOGLE_FAKE_ACCESS_TOKEN,
    });
    expect(sent.headers.subject).toBe('Ça');
    const request = fake.requests.at(-1)!;
    expect(request).toMatchObject({ method: 'POST', path: '/gmail/v1/users/me/messages/send' });
    expect(request.headers.authorization).toBe(`Bearer ${GOOGLE_FAKE_ACCESS_TOKEN}`);
  });

  it('refuses a send without raw, without recipients, or into an unknown thread', async () => {
    const noRaw = await rejection(gmail().users.messages.send({ userId: 'me', requestBody: {} }));
    expect(noRaw.status).toBe(400);
    expect(noRaw.message).toContain("'raw' RFC822 payload message string");
    const noRecipient = await rejection(
      gmail().users.messages.send({ userId: 'me', requestBody: { raw: raw(['Subject: x', '', 'y']) } }),
    );
    expect(noRecipient.message).toBe('Recipient address required');
    const badThread = await rejection(
      gmail().users.messages.send({
        userId: 'me',
        requestBody: { raw: raw(['To: a@example.com', '', 'y']), threadId: '18ffffffffffffff' },
      }),
    );
    expect(badThread.status).toBe(404);
    expect(fake.gmail.sent).toHaveLength(0);
  });

  it('lists newest first with q, repeated labelIds and page tokens', async () => {
    const first = await gmail().users.messages.list({ userId: 'me', labelIds: ['INBOX'], maxResults: 2 });
    expect(first.data.messages).toEqual([
      { id: GMAIL_FAKE_MESSAGES.thread, threadId: GMAIL_FAKE_MESSAGES.welcome },
      { id: GMAIL_FAKE_MESSAGES.unicode, threadId: GMAIL_FAKE_MESSAGES.unicode },
    ]);
    expect(first.data.resultSizeEstimate).toBe(4);
    const second = await gmail().users.messages.list({
      userId: 'me',
      labelIds: ['INBOX'],
      maxResults: 2,
      pageToken: first.data.nextPageToken!,
    });
    expect(second.data.messages!.map((m) => m.id)).toEqual([GMAIL_FAKE_MESSAGES.invoice, GMAIL_FAKE_MESSAGES.welcome]);
    expect(second.data.nextPageToken).toBeUndefined();

    const unread = await gmail().users.messages.list({ userId: 'me', labelIds: ['INBOX', 'UNREAD'] });
    expect(unread.data.messages!.map((m) => m.id)).toEqual([GMAIL_FAKE_MESSAGES.unicode, GMAIL_FAKE_MESSAGES.welcome]);
    expect(fake.requests.at(-1)!.rawQuery).toBe('labelIds=INBOX&labelIds=UNREAD');

    const search = await gmail().users.messages.list({ userId: 'me', q: 'from:grace@example.com subject:welcome' });
    expect(search.data.messages!.map((m) => m.id)).toEqual([GMAIL_FAKE_MESSAGES.thread, GMAIL_FAKE_MESSAGES.welcome]);
    const none = await gmail().users.messages.list({ userId: 'me', q: 'nothing-matches-this' });
    expect(none.data).toEqual({ resultSizeEstimate: 0 });
    const spam = await gmail().users.messages.list({ userId: 'me', includeSpamTrash: true, q: 'is:unread' });
    expect(spam.data.messages!.map((m) => m.id)).toContain(GMAIL_FAKE_MESSAGES.spam);
  });

  it('gets a message in format=full: headers, base64url text parts, attachments by id', async () => {
    const welcome = (
      await gmail().users.messages.get({ userId: 'me', id: GMAIL_FAKE_MESSAGES.welcome, format: 'full' })
    ).data;
    expect(welcome).toMatchObject({
      id: GMAIL_FAKE_MESSAGES.welcome,
      labelIds: ['INBOX', 'UNREAD', 'CATEGORY_PERSONAL'],
      snippet: 'Hi Ada, it&#39;s great to have you on the team!',
      historyId: expect.any(String),
      internalDate: String(Date.UTC(2024, 4, 1, 9, 30)),
    });
    const parts = welcome.payload!.parts!;
    expect(welcome.payload).toMatchObject({ partId: '', mimeType: 'multipart/alternative', body: { size: 0 } });
    expect(parts.map((p) => p.mimeType)).toEqual(['text/plain', 'text/html']);
    expect(Buffer.from(parts[1]!.body!.data!, 'base64url').toString()).toBe(
      "<p>Hi Ada, it's great to have you on the <b>team</b>!</p>",
    );
    expect(welcome.payload!.headers!.find((h) => h.name === 'Subject')!.value).toBe('Welcome aboard');

    const invoice = (await gmail().users.messages.get({ userId: 'me', id: GMAIL_FAKE_MESSAGES.invoice })).data;
    const pdf = invoice.payload!.parts!.find((p) => p.filename === 'invoice-2024-05.pdf')!;
    expect(pdf.body).toEqual({ attachmentId: expect.any(String), size: expect.any(Number) });
    expect(Buffer.from(invoice.payload!.parts![0]!.body!.data!, 'base64url').toString()).toBe(
      'Your invoice for May is attached. Total: $42.00 EUR.',
    ); // quoted-printable, soft line break undone

    const missing = await rejection(gmail().users.messages.get({ userId: 'me', id: '18ffffffffffffff' }));
    expect(missing.status).toBe(404);
    expect(missing.response.data.error).toMatchObject({
      code: 404,
      status: 'NOT_FOUND',
      message: 'Requested entity was not found.',
    });
  });

  it('reports the profile, and keeps other mailboxes out of reach', async () => {
    expect((await gmail().users.getProfile({ userId: 'me' })).data).toMatchObject({
      emailAddress: GOOGLE_FAKE_USER,
      messagesTotal: 6,
      historyId: expect.any(String),
    });
    const other = await rejection(gmail().users.getProfile({ userId: 'grace.hopper@example.com' }));
    expect(other.status).toBe(403);
  });

  it('answers 401 UNAUTHENTICATED for unknown, expired and deleted-account tokens, each in its own way', async () => {
    const unknown = await rejection(gmail('ya29.unknown-token-0000000000').users.getProfile({ userId: 'me' }));
    expect(unknown.status).toBe(401);
    expect(unknown.response.data.error).toEqual({
      code: 401,
      message: expect.stringContaining('Request had invalid authentication credentials'),
      errors: [
        {
          message: 'Invalid Credentials',
          domain: 'global',
          reason: 'authError',
          location: 'Authorization',
          locationType: 'header',
        },
      ],
      status: 'UNAUTHENTICATED',
    });
    expect(unknown.response.headers.get('www-authenticate')).toContain('invalid_token');

    const { accessToken } = fake.issueTokens({ scopes: [GMAIL_SCOPES.readonly] });
    fake.expireAccessToken(accessToken);
    const expired = await rejection(gmail(accessToken).users.getProfile({ userId: 'me' }));
    expect(expired.status).toBe(401);
    expect(expired.response.data.error.details).toEqual([
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'ACCESS_TOKEN_EXPIRED',
        domain: 'googleapis.com',
        metadata: { service: 'gmail.googleapis.com' },
      },
    ]);

    const deleted = await rejection(gmail(GOOGLE_FAKE_DELETED_ACCOUNT_TOKEN).users.getProfile({ userId: 'me' }));
    expect(deleted.status).toBe(401);
    expect(deleted.response.data.error.details[0].reason).toBe('ACCOUNT_STATE_INVALID');
  });

  it('answers 403 PERMISSION_DENIED for a scope the token lacks', async () => {
    const err = await rejection(gmail(GOOGLE_FAKE_SEND_ONLY_TOKEN).users.messages.list({ userId: 'me' }));
    expect(err.status).toBe(403);
    expect(err.response.data.error).toMatchObject({
      status: 'PERMISSION_DENIED',
      message: 'Request had insufficient authentication scopes.',
      errors: [{ reason: 'insufficientPermissions' }],
    });
    expect(err.response.data.error.details[0].reason).toBe('ACCESS_TOKEN_SCOPE_INSUFFICIENT');
    // The send-only token can send.
    expect(
      (
        await gmail(GOOGLE_FAKE_SEND_ONLY_TOKEN).users.messages.send({
          userId: 'me',
          requestBody: { raw: raw(['To: a@example.com', '', 'x']) },
        })
      ).status,
    ).toBe(200);
  });

  it("throttles with 429 RESOURCE_EXHAUSTED, which the client's own retry rides out, and fails with 500/503", async () => {
    fake.rateLimitNext(1, { api: 'gmail' });
    const retrying = gmailApi({ version: 'v1', auth: authFor(GOOGLE_FAKE_ACCESS_TOKEN), rootUrl: `${fake.url}/` });
    expect((await retrying.users.getProfile({ userId: 'me' })).status).toBe(200);
    expect(fake.requests.filter((r) => r.path === '/gmail/v1/users/me/profile')).toHaveLength(2);

    fake.rateLimitNext(1, { api: 'gmail' });
    const limited = await rejection(gmail().users.getProfile({ userId: 'me' }));
    expect(limited.status).toBe(429);
    expect(limited.response.data.error).toMatchObject({
      status: 'RESOURCE_EXHAUSTED',
      errors: [{ reason: 'rateLimitExceeded' }],
    });

    fake.rateLimitNext(1, { api: 'gmail', shape: 403 });
    const usage = await rejection(gmail().users.getProfile({ userId: 'me' }));
    expect(usage.status).toBe(403);
    expect(usage.response.data.error.errors[0]).toMatchObject({ domain: 'usageLimits', reason: 'rateLimitExceeded' });

    fake.failNext(1, 503);
    expect((await rejection(gmail().users.getProfile({ userId: 'me' }))).response.data.error.status).toBe(
      'UNAVAILABLE',
    );
  });
});

describe('Sheets with @googleapis/sheets', () => {
  it('appends after the table (USER_ENTERED parses numbers) and answers the updates', async () => {
    const res = await sheets().spreadsheets.values.append({
      spreadsheetId: SHEETS_FAKE_ORDERS_ID,
      range: 'Orders!A:D',
      valueInputOption: 'USER_ENTERED',
      requestBody: {
        values: [
          ['2024-05-01', 'A-1001', '2', 19.9],
          ['2024-05-02', 'A-1002', 1, null],
        ],
      },
    });
    expect(res.data).toEqual({
      spreadsheetId: SHEETS_FAKE_ORDERS_ID,
      tableRange: 'Orders!A1:D4',
      updates: {
        spreadsheetId: SHEETS_FAKE_ORDERS_ID,
        updatedRange: 'Orders!A5:D6',
        updatedRows: 2,
        updatedColumns: 4,
        updatedCells: 7,
      },
    });
    expect(fake.sheets.sheetValues(SHEETS_FAKE_ORDERS_ID, 'Orders').slice(4)).toEqual([
      ['2024-05-01', 'A-1001', 2, 19.9],
      ['2024-05-02', 'A-1002', 1],
    ]);
    expect(fake.requests.at(-1)!.path).toBe(`/v4/spreadsheets/${SHEETS_FAKE_ORDERS_ID}/values/Orders%21A%3AD:append`);

    await sheets().spreadsheets.values.append({
      spreadsheetId: SHEETS_FAKE_ORDERS_ID,
      range: 'Orders!A1',
      valueInputOption: 'RAW',
      requestBody: { values: [['raw', '=1+1']] },
    });
    expect(fake.sheets.sheetValues(SHEETS_FAKE_ORDERS_ID, 'Orders').at(-1)).toEqual(['raw', '=1+1']);
  });

  it('answers 400 without valueInputOption, and for a range it cannot parse', async () => {
    const missing = await rejection(
      sheets().spreadsheets.values.append({
        spreadsheetId: SHEETS_FAKE_ORDERS_ID,
        range: 'Orders!A:D',
        requestBody: { values: [['x']] },
      }),
    );
    expect(missing.status).toBe(400);
    expect(missing.response.data.error).toEqual({
      code: 400,
      message: "'valueInputOption' is required but not specified",
      status: 'INVALID_ARGUMENT',
    });
    const badRange = await rejection(
      sheets().spreadsheets.values.get({ spreadsheetId: SHEETS_FAKE_ORDERS_ID, range: 'Nope!A1' }),
    );
    expect(badRange.response.data.error).toMatchObject({
      code: 400,
      message: 'Unable to parse range: Nope!A1',
      status: 'INVALID_ARGUMENT',
    });
  });

  it('gets values with trailing empties dropped, by rows or columns', async () => {
    const rows = await sheets().spreadsheets.values.get({
      spreadsheetId: SHEETS_FAKE_ORDERS_ID,
      range: 'Notes!A1:D10',
    });
    expect(rows.data).toEqual({
      range: 'Notes!A1:D10',
      majorDimension: 'ROWS',
      values: [['Topic', 'Owner'], ['Launch', '', 'draft'], [], ['Retro', 'Grace']],
    });
    const columns = await sheets().spreadsheets.values.get({
      spreadsheetId: SHEETS_FAKE_ORDERS_ID,
      range: 'Notes!A1:D10',
      majorDimension: 'COLUMNS',
    });
    expect(columns.data.values).toEqual([
      ['Topic', 'Launch', '', 'Retro'],
      ['Owner', '', '', 'Grace'],
      ['', 'draft'],
    ]);
    const formatted = await sheets().spreadsheets.values.get({
      spreadsheetId: SHEETS_FAKE_ORDERS_ID,
      range: "'Summary Q2'!A1:B2",
    });
    expect(formatted.data).toEqual({
      range: "'Summary Q2'!A1:B2",
      majorDimension: 'ROWS',
      values: [
        ['Month', 'Total'],
        ['April', '72.49'],
      ],
    });
    const unformatted = await sheets().spreadsheets.values.get({
      spreadsheetId: SHEETS_FAKE_ORDERS_ID,
      range: "'Summary Q2'!B2",
      valueRenderOption: 'UNFORMATTED_VALUE',
    });
    expect(unformatted.data.values).toEqual([[72.49]]);
    const empty = await sheets().spreadsheets.values.get({
      spreadsheetId: SHEETS_FAKE_ORDERS_ID,
      range: 'Orders!H1:H5',
    });
    expect(empty.data).toEqual({ range: 'Orders!H1:H5', majorDimension: 'ROWS' });
  });

  it("reads the quickstart's public sample with any token, and keeps writes and unknown spreadsheets out", async () => {
    const sample = await sheets(GOOGLE_FAKE_READONLY_TOKEN).spreadsheets.values.get({
      spreadsheetId: SHEETS_QUICKSTART_ID,
      range: 'Class Data!A1:A1',
    });
    expect(sample.data.values).toEqual([['Student Name']]);
    expect(sample.data.range).toBe("'Class Data'!A1");
    const write = await rejection(
      sheets().spreadsheets.values.append({
        spreadsheetId: SHEETS_QUICKSTART_ID,
        range: 'Class Data',
        valueInputOption: 'RAW',
        requestBody: { values: [['x']] },
      }),
    );
    expect(write.status).toBe(403);
    expect(write.response.data.error).toEqual({
      code: 403,
      message: 'The caller does not have permission',
      status: 'PERMISSION_DENIED',
    });
    const readonly = await rejection(
      sheets(GOOGLE_FAKE_READONLY_TOKEN).spreadsheets.values.append({
        spreadsheetId: SHEETS_FAKE_ORDERS_ID,
        range: 'Orders',
        valueInputOption: 'RAW',
        requestBody: { values: [['x']] },
      }),
    );
    expect(readonly.response.data.error.details[0].reason).toBe('ACCESS_TOKEN_SCOPE_INSUFFICIENT');
    const unknown = await rejection(
      sheets().spreadsheets.values.get({ spreadsheetId: '1NoSuchSpreadsheet', range: 'A1' }),
    );
    expect(unknown.status).toBe(404);
    expect(unknown.response.data.error.status).toBe('NOT_FOUND');
    const unauthenticated = await rejection(
      sheets('ya29.unknown-token-0000000000').spreadsheets.values.get({
        spreadsheetId: SHEETS_FAKE_ORDERS_ID,
        range: 'Orders',
      }),
    );
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.response.data.error).not.toHaveProperty('errors'); // Sheets has no legacy list
  });
});
