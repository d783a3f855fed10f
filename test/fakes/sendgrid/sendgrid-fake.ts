// Local fake of the Twilio SendGrid v3 Web API: POST /v3/mail/send, GET /v3/templates, GET /v3/scopes.
// Wire behaviour follows docs/upstreams/sendgrid.md §2 ("the reference") and SendGrid's OpenAPI
// files (SG-OAS there). Details marked UNCONFIRMED are choices the sources do not settle: don't
// build hard assertions on them.
//
// Decisions worth knowing:
// - Order: rate-limit accounting, then injected failures (`failNext`, `rateLimitNext`), then auth,
//   then the rate limit, then routing, scopes, validation and the sender identity check. Every
//   answer carries X-RateLimit-Limit/-Remaining/-Reset (CONFIRMED, §2.0); the order of auth vs. the
//   rate limit on the real API is UNCONFIRMED.
// - Missing key → 401 "authorization required" (SG-OAS example); unknown or revoked key → 401 with
//   the OBSERVED "authorization grant is invalid" message (§2.0).
// - A key without the scope of an endpoint gets 403 "access forbidden" (the SG-OAS 403 example);
//   the real body for a missing `mail.send` is UNCONFIRMED (§6). Scope names other than
//   `mail.send` (`templates.read`) are UNCONFIRMED.
// - Mail send validation answers 400 with every problem found, each naming its `field`. The limits
//   are CONFIRMED (§2.1); the field paths ("personalizations.0.to") and the message wording are
//   UNCONFIRMED.
// - An accepted send is 202, empty body, `X-Message-Id` (CONFIRMED). The id's format (22
//   base64url characters) is UNCONFIRMED.
// - The rate limit is a fixed window per key and endpoint (SendGrid limits per endpoint; the window
//   and numbers are UNCONFIRMED: none are published).
// - Template paging: `_metadata.next` is a URL carrying `page_token` (UNCONFIRMED, §6); the token
//   is opaque to clients. `_metadata.count` is the number of matching templates (UNCONFIRMED).
import { randomBytes } from 'node:crypto';
import type { StartConformanceFake } from '../../conformance/fake-contract.ts';
import {
  type DropOptions,
  type FakeResponse,
  type FakeServer,
  type HandlerContext,
  type RecordedRequest,
  startFakeServer,
} from '../support/fake-server.ts';

// ---- public constants -----------------------------------------------------------------------

/** Every scope the actions need. Real keys look like `SG.<22 chars>.<43 chars>` (OBSERVED). */
export const SENDGRID_FAKE_KEY = 'SG.fakeFullAccess0000001.fakeSecretFullAccessKey00000000000000000000';
/** Only `mail.send` (a "Restricted Access" key): templates answer 403. */
export const SENDGRID_FAKE_MAIL_ONLY_KEY = 'SG.fakeMailSendOnly00002.fakeSecretMailSendOnlyKey000000000000000000';
/** Only `templates.read`: a send answers 403, the connection stays valid. */
export const SENDGRID_FAKE_READ_ONLY_KEY = 'SG.fakeTemplatesRead0003.fakeSecretTemplatesReadKey00000000000000000';

export const FULL_ACCESS_SCOPES = [
  'mail.send',
  'templates.read',
  'templates.create',
  'templates.update',
  'templates.delete',
  'templates.versions.read',
  'templates.versions.create',
  'templates.versions.update',
  'templates.versions.delete',
  'templates.versions.activate.update',
] as const;

/** Domains whose addresses are verified sender identities out of the box. */
export const DEFAULT_VERIFIED_SENDERS = ['example.com'];

export const DEFAULT_RATE_LIMIT = 600;
export const DEFAULT_RATE_WINDOW_SECONDS = 60;
/** A send may be scheduled at most 72 hours ahead (CONFIRMED, §2.1). */
export const MAX_SEND_AT_AHEAD_SECONDS = 72 * 3600;
const MAX_PERSONALIZATIONS = 1000;
const MAX_RECIPIENTS = 1000;
const MAX_CATEGORIES = 10;

// ---- wire types --------------------------------------------------------------------------------

/** One entry of SendGrid's error envelope (SG-OAS ErrorResponse). */
export interface SendGridWireError {
  message: string;
  field?: string | null;
  help?: unknown;
  error_id?: string;
}

/** A template version as GET /v3/templates lists it (SG-OAS TransactionalTemplatesVersionOutputLean). */
export interface FakeTemplateVersion {
  id: string;
  template_id: string;
  active: 0 | 1;
  name: string;
  subject: string;
  updated_at: string;
  generate_plain_content: boolean;
  html_content: string;
  plain_content: string;
  editor: 'code' | 'design';
  thumbnail_url?: string;
}

/** A template as GET /v3/templates lists it (SG-OAS TransactionalTemplatesTemplateLean). */
export interface FakeTemplate {
  id: string;
  name: string;
  generation: 'legacy' | 'dynamic';
  /** `YYYY-MM-DD hh:mm:ss`, not ISO (SG-OAS pattern). */
  updated_at: string;
  versions: FakeTemplateVersion[];
}

export interface SentMessage {
  messageId: string;
  /** The Mail Send body as received. */
  body: Record<string, unknown>;
  apiKey: string;
  receivedAt: Date;
}

export interface SendGridInjectedError {
  status: number;
  /** Defaults to SendGrid's body for the status (SG-OAS examples). */
  errors?: SendGridWireError[];
  headers?: Record<string, string>;
}

export interface SendGridFakeOptions {
  port?: number;
  /** Requests per key and endpoint per window. */
  rateLimit?: number;
  rateWindowSeconds?: number;
}

/** Formats a Date the way SendGrid prints `updated_at`: `2021-04-28 13:12:46`. */
export function toSendGridTimestamp(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

// ---- seed data ---------------------------------------------------------------------------------

/** Dynamic template ids are `d-` + 32 hex characters (the `d-` prefix is CONFIRMED; the length is OBSERVED). */
export const ORDER_CONFIRMATION_TEMPLATE_ID = 'd-5a6b7c8d9e0f41a2b3c4d5e6f7a8b9c0';

function version(
  templateId: string,
  n: number,
  fields: Partial<FakeTemplateVersion> & { subject: string },
): FakeTemplateVersion {
  return {
    id: `${n.toString(16).padStart(8, '0')}-7c1e-4b8a-9f2d-3a4b5c6d7e8f`,
    template_id: templateId,
    active: 1,
    name: `Version ${n}`,
    updated_at: '2025-03-04 10:11:12',
    generate_plain_content: true,
    html_content: '<p>{{firstName}}, thanks!</p>',
    plain_content: '{{firstName}}, thanks!',
    editor: 'code',
    ...fields,
  };
}

function seedTemplates(): FakeTemplate[] {
  const dynamic = (
    id: string,
    name: string,
    updatedAt: string,
    versions: (id: string) => FakeTemplateVersion[],
  ): FakeTemplate => ({
    id,
    name,
    generation: 'dynamic',
    updated_at: updatedAt,
    versions: versions(id),
  });
  return [
    dynamic(ORDER_CONFIRMATION_TEMPLATE_ID, 'Order confirmation', '2025-03-04 10:11:12', (id) => [
      version(id, 1, {
        subject: 'Order {{orderId}} confirmed',
        active: 0,
        name: 'First draft',
        editor: 'design',
        thumbnail_url: 'https://thumbnails.example.com/order-v1.png',
      }),
      version(id, 2, { subject: 'Your order {{orderId}} is confirmed', updated_at: '2025-03-05 08:00:00' }),
    ]),
    dynamic('d-1b2c3d4e5f60718293a4b5c6d7e8f901', 'Shipping update', '2025-02-01 09:30:00', (id) => [
      version(id, 3, { subject: 'On its way: {{orderId}}' }),
    ]),
    dynamic('d-2c3d4e5f60718293a4b5c6d7e8f90a12', 'Password reset', '2025-01-15 17:45:03', (id) => [
      version(id, 4, { subject: 'Reset your password' }),
    ]),
    dynamic('d-3d4e5f60718293a4b5c6d7e8f90a1b23', 'Welcome', '2024-12-24 12:00:00', () => []),
    dynamic('d-4e5f60718293a4b5c6d7e8f90a1b2c34', 'Invoice', '2024-11-11 11:11:11', (id) => [
      version(id, 5, { subject: 'Invoice {{invoiceNumber}}' }),
    ]),
    {
      id: 'fae7c985-eb92-4b47-9987-28ec29dbc698',
      name: 'Legacy newsletter',
      generation: 'legacy',
      updated_at: '2020-11-12 12:00:09',
      versions: [
        version('fae7c985-eb92-4b47-9987-28ec29dbc698', 6, {
          subject: '<%subject%>',
          html_content: '<%body%>',
          plain_content: '<%body%>',
        }),
      ],
    },
    {
      id: '0c314114-a2b7-4523-8cbc-a293d7d19007',
      name: 'Legacy receipt',
      generation: 'legacy',
      updated_at: '2021-04-28 13:12:46',
      versions: [],
    },
  ];
}

// ---- the fake ----------------------------------------------------------------------------------

interface KeyInfo {
  scopes: Set<string>;
  revoked: boolean;
}

const KNOWN_PATHS: Record<string, { method: string; scope?: string }> = {
  '/v3/mail/send': { method: 'POST', scope: 'mail.send' },
  '/v3/templates': { method: 'GET', scope: 'templates.read' },
  // Any valid key may list its own scopes (UNCONFIRMED).
  '/v3/scopes': { method: 'GET' },
};

export class SendGridFake {
  /** Messages accepted (202) so far, in order. */
  readonly sentMessages: SentMessage[] = [];
  /** What GET /v3/templates lists, in this order. Assign freely in tests. */
  templates: FakeTemplate[] = seedTemplates();
  /** Verified sender identities: addresses, or domains (domain authentication). */
  verifiedSenders: string[] = [...DEFAULT_VERIFIED_SENDERS];

  private keys = new Map<string, KeyInfo>();
  private windows = new Map<string, { start: number; count: number }>();
  private rateLimit: number;
  private rateWindowSeconds: number;

  private constructor(
    private readonly server: FakeServer,
    private readonly options: SendGridFakeOptions,
  ) {
    this.rateLimit = options.rateLimit ?? DEFAULT_RATE_LIMIT;
    this.rateWindowSeconds = options.rateWindowSeconds ?? DEFAULT_RATE_WINDOW_SECONDS;
    this.addDefaultKeys();
  }

  /** @internal use startSendGridFake */
  static async start(options: SendGridFakeOptions = {}): Promise<SendGridFake> {
    let fake: SendGridFake | undefined;
    const server = await startFakeServer((req, ctx) => fake!.handle(req, ctx), { port: options.port });
    fake = new SendGridFake(server, options);
    return fake;
  }

  get url(): string {
    return this.server.url;
  }
  get requests(): RecordedRequest[] {
    return this.server.requests;
  }

  /** Registers a key with its scopes (default: full access). */
  addKey(key: string, scopes: readonly string[] = FULL_ACCESS_SCOPES): void {
    this.keys.set(key, { scopes: new Set(scopes), revoked: false });
  }
  /** A revoked key answers like an unknown one: 401. */
  revokeKey(key: string): void {
    const info = this.keys.get(key);
    if (info) info.revoked = true;
  }
  setRateLimit(limit: number, windowSeconds = this.rateWindowSeconds): void {
    this.rateLimit = limit;
    this.rateWindowSeconds = windowSeconds;
    this.windows.clear();
  }
  setLatency(ms: number): void {
    this.server.setLatency(ms);
  }
  /**
   * The next n requests get this error instead of being processed (before auth), with the
   * rate-limit headers of the request's window unless `headers` overrides them.
   */
  failNext(n: number, error: SendGridInjectedError): void {
    this.server.failNext(n, {
      status: error.status,
      headers: error.headers,
      body: { errors: error.errors ?? defaultErrors(error.status) },
    });
  }
  /**
   * The next n requests get SendGrid's 429: `{"errors":[{"field":null,"message":"too many requests"}]}`,
   * `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset` = now + `resetInSeconds`, in epoch seconds (§2.0).
   */
  rateLimitNext(n: number, options: { resetInSeconds?: number } = {}): { resetAt: number } {
    const resetAt = Math.ceil((Date.now() + (options.resetInSeconds ?? 1) * 1000) / 1000);
    this.failNext(n, {
      status: 429,
      errors: [{ field: null, message: 'too many requests' }],
      headers: {
        'x-ratelimit-limit': String(this.rateLimit),
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(resetAt),
      },
    });
    return { resetAt };
  }
  /** Destroy the socket of the next n requests without answering (network failure). */
  dropNextConnections(n: number, options?: DropOptions): void {
    this.server.dropNextConnections(n, options);
  }
  /** Back to the initial state: default keys, templates, senders and rate limit, nothing recorded. */
  reset(): void {
    this.server.reset();
    this.sentMessages.length = 0;
    this.templates = seedTemplates();
    this.verifiedSenders = [...DEFAULT_VERIFIED_SENDERS];
    this.keys.clear();
    this.addDefaultKeys();
    this.windows.clear();
    this.rateLimit = this.options.rateLimit ?? DEFAULT_RATE_LIMIT;
    this.rateWindowSeconds = this.options.rateWindowSeconds ?? DEFAULT_RATE_WINDOW_SECONDS;
  }
  close(): Promise<void> {
    return this.server.close();
  }

  private addDefaultKeys(): void {
    this.addKey(SENDGRID_FAKE_KEY);
    this.addKey(SENDGRID_FAKE_MAIL_ONLY_KEY, ['mail.send']);
    this.addKey(SENDGRID_FAKE_READ_ONLY_KEY, ['templates.read']);
  }

  // ---- request pipeline -----------------------------------------------------------------------

  private async handle(req: RecordedRequest, ctx: HandlerContext): Promise<FakeResponse> {
    const apiKey = bearerToken(req.headers.authorization);
    const path = req.path.replace(/\/+$/, '') || '/';
    const rl = this.countRequest(`${apiKey ?? ''}\n${req.method} ${path}`);
    const withRl = (res: FakeResponse): FakeResponse => ({ ...res, headers: { ...rl.headers, ...res.headers } });

    const injected = ctx.takeInjectedResponse();
    if (injected) return withRl(injected);

    if (!apiKey) return withRl(errorResponse(401, [{ field: null, message: 'authorization required' }]));
    const key = this.keys.get(apiKey);
    if (!key || key.revoked) {
      return withRl(
        errorResponse(401, [
          { field: null, message: 'The provided authorization grant is invalid, expired, or revoked', help: null },
        ]),
      );
    }
    if (rl.exceeded) return withRl(errorResponse(429, [{ field: null, message: 'too many requests' }]));

    const route = KNOWN_PATHS[path];
    if (!route) return withRl(errorResponse(404, [{ field: null, message: 'not found' }]));
    if (route.method !== req.method)
      return withRl(errorResponse(405, [{ field: null, message: 'method not allowed' }]));
    if (route.scope && !key.scopes.has(route.scope))
      return withRl(errorResponse(403, [{ field: null, message: 'access forbidden' }]));

    await ctx.simulateLatency(); // the send "happens" after the wait, so a timeout can leave it done
    switch (path) {
      case '/v3/mail/send':
        return withRl(this.mailSend(req, apiKey));
      case '/v3/templates':
        return withRl(this.listTemplates(req));
      default:
        return withRl({ status: 200, body: { scopes: [...key.scopes] } });
    }
  }

  /** Fixed windows aligned to the epoch; the reset is the window's end in Unix seconds (§2.0). */
  private countRequest(bucket: string) {
    const now = Date.now();
    const windowMs = this.rateWindowSeconds * 1000;
    const start = Math.floor(now / windowMs) * windowMs;
    let w = this.windows.get(bucket);
    if (!w || w.start !== start) {
      w = { start, count: 0 };
      this.windows.set(bucket, w);
    }
    w.count++;
    return {
      exceeded: w.count > this.rateLimit,
      headers: {
        'x-ratelimit-limit': String(this.rateLimit),
        'x-ratelimit-remaining': String(Math.max(0, this.rateLimit - w.count)),
        'x-ratelimit-reset': String(Math.ceil((start + windowMs) / 1000)),
      },
    };
  }

  // ---- endpoints ----------------------------------------------------------------------------------

  private mailSend(req: RecordedRequest, apiKey: string): FakeResponse {
    const body = parseJson(req);
    if (!isObject(body))
      return errorResponse(400, [{ field: null, message: 'The request body must be a JSON object.' }]); // wording UNCONFIRMED
    const problems = validateMail(body, Math.floor(Date.now() / 1000));
    if (problems.length > 0) return errorResponse(400, problems);

    // Sender identity (§2.0, OBSERVED body): checked once the request is well-formed (order UNCONFIRMED).
    const senders = [body.from, ...(body.personalizations as Record<string, unknown>[]).map((p) => p.from)].filter(
      isObject,
    );
    if (senders.some((s) => !this.isVerifiedSender(String(s.email)))) {
      return errorResponse(403, [
        {
          message:
            'The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ to see the Sender Identity requirements',
          field: 'from',
          help: null,
        },
      ]);
    }

    const messageId = randomBytes(16).toString('base64url'); // 22 characters; format UNCONFIRMED
    this.sentMessages.push({ messageId, body, apiKey, receivedAt: new Date() });
    return { status: 202, headers: { 'x-message-id': messageId } }; // empty body (CONFIRMED, §2.1)
  }

  private isVerifiedSender(email: string): boolean {
    const address = email.toLowerCase();
    return this.verifiedSenders.some((s) =>
      s.includes('@') ? s.toLowerCase() === address : address.endsWith(`@${s.toLowerCase()}`),
    );
  }

  private listTemplates(req: RecordedRequest): FakeResponse {
    // The 400 of ListTemplate carries `error_id` instead of `field` (SG-OAS); its values are UNCONFIRMED.
    const bad = (message: string) => errorResponse(400, [{ message, error_id: 'bad_request' }]);
    const rawSize = req.query.page_size;
    if (rawSize === undefined) return bad('page_size is required'); // required (SG-OAS)
    const pageSize = Number(rawSize);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 200)
      return bad('page_size should be an integer between 1 and 200');

    const requested = (req.query.generations ?? 'legacy').split(','); // default legacy (SG-OAS)
    if (
      requested.length === 0 ||
      requested.length > 2 ||
      requested.some((g) => g !== 'legacy' && g !== 'dynamic') ||
      new Set(requested).size !== requested.length
    ) {
      return bad('generations should be one of legacy, dynamic or legacy,dynamic');
    }
    const matching = this.templates.filter((t) => requested.includes(t.generation));

    let offset = 0;
    const token = req.query.page_token;
    if (token !== undefined) {
      const decoded = decodePageToken(token);
      if (decoded === undefined || decoded > matching.length) return bad('invalid page_token'); // UNCONFIRMED
      offset = decoded;
    }
    const page = matching.slice(offset, offset + pageSize);
    const link = (pageToken?: string) => {
      const url = new URL('/v3/templates', this.url);
      url.searchParams.set('page_size', String(pageSize));
      if (req.query.generations !== undefined) url.searchParams.set('generations', req.query.generations);
      if (pageToken !== undefined) url.searchParams.set('page_token', pageToken);
      return url.toString();
    };
    const metadata: Record<string, unknown> = { self: link(token) };
    if (offset > 0) metadata.prev = link(offset - pageSize > 0 ? encodePageToken(offset - pageSize) : undefined);
    if (offset + pageSize < matching.length) metadata.next = link(encodePageToken(offset + pageSize));
    metadata.count = matching.length;
    return { status: 200, body: { result: page, _metadata: metadata } };
  }
}

export async function startSendGridFake(options?: SendGridFakeOptions): Promise<SendGridFake> {
  return SendGridFake.start(options);
}

// ---- helpers -------------------------------------------------------------------------------------

function errorResponse(status: number, errors: SendGridWireError[]): FakeResponse {
  return { status, body: { errors } };
}

/** SendGrid's bodies for the statuses a test injects (SG-OAS examples; 429 from SG-DOCS rate-limits). */
function defaultErrors(status: number): SendGridWireError[] {
  const messages: Record<number, string> = {
    400: 'invalid request',
    401: 'authorization required',
    403: 'access forbidden',
    404: 'not found',
    405: 'method not allowed',
    413: 'content too large',
    429: 'too many requests',
  };
  if (messages[status] !== undefined) return [{ field: null, message: messages[status] }];
  return [{ message: 'internal server error' }]; // the SG-OAS 500 example has no field
}

function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

function parseJson(req: RecordedRequest): unknown {
  if (req.json !== undefined) return req.json;
  try {
    return JSON.parse(req.rawBody.toString('utf8'));
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function encodePageToken(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}
function decodePageToken(token: string): number | undefined {
  const match = /^o:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  return match ? Number(match[1]) : undefined;
}

const EMAIL = /^[^\s@<>()]+@[^\s@<>()]+\.[^\s@<>()]+$/;

/**
 * The Mail Send rules of §2.1 (SG-OAS PostMailSend and the errors page): every problem found, each
 * with the field it is about. Field paths and wording are UNCONFIRMED.
 */
export function validateMail(body: Record<string, unknown>, nowSeconds: number): SendGridWireError[] {
  const problems: SendGridWireError[] = [];
  const problem = (field: string, message: string) => problems.push({ field, message, help: null });
  const hasTemplate = body.template_id !== undefined;

  const address = (value: unknown, field: string, what: string) => {
    if (!isObject(value) || typeof value.email !== 'string' || !EMAIL.test(value.email)) {
      problem(field, `The ${what} must have an email parameter with a valid email address, and may also have a name.`);
      return undefined;
    }
    if (value.name !== undefined && typeof value.name !== 'string')
      problem(`${field}.name`, `The ${what} name must be a string.`);
    return value.email.toLowerCase();
  };

  if (body.from === undefined) problem('from', 'The from object must be provided for every email send.');
  else address(body.from, 'from', 'from object');
  if (body.reply_to !== undefined) address(body.reply_to, 'reply_to', 'reply_to object');
  if (body.reply_to !== undefined && body.reply_to_list !== undefined)
    problem('reply_to_list', 'Use either reply_to or reply_to_list, not both.');

  const personalizations = body.personalizations;
  const allHaveSubject =
    Array.isArray(personalizations) && personalizations.every((p) => isObject(p) && typeof p.subject === 'string');
  if (!Array.isArray(personalizations) || personalizations.length === 0) {
    problem('personalizations', 'You must have at least one personalization.');
  } else if (personalizations.length > MAX_PERSONALIZATIONS) {
    problem(
      'personalizations',
      `The personalization block is limited to ${MAX_PERSONALIZATIONS} personalizations per API request. You have provided ${personalizations.length}.`,
    );
  } else {
    const seen = new Set<string>();
    let recipients = 0;
    personalizations.forEach((p, i) => {
      const at = `personalizations.${i}`;
      if (!isObject(p)) {
        problem(at, 'Each personalization must be an object.');
        return;
      }
      if (!Array.isArray(p.to) || p.to.length === 0)
        problem(
          `${at}.to`,
          'The to parameter is required for all personalization objects, and must have at least one email address.',
        );
      for (const kind of ['to', 'cc', 'bcc'] as const) {
        const list = p[kind];
        if (list === undefined) continue;
        if (!Array.isArray(list)) {
          problem(`${at}.${kind}`, `The ${kind} parameter must be an array of email objects.`);
          continue;
        }
        if (list.length > MAX_RECIPIENTS)
          problem(`${at}.${kind}`, `The ${kind} array is limited to ${MAX_RECIPIENTS} addresses.`);
        list.forEach((a, j) => {
          recipients++;
          const email = address(a, `${at}.${kind}.${j}.email`, `${kind} object`);
          if (email === undefined) return;
          if (seen.has(email))
            problem(
              `${at}.${kind}`,
              `Each unique email address in the personalizations array should only be included once. You have included ${email} more than once.`,
            );
          seen.add(email);
        });
      }
      if (p.from !== undefined) address(p.from, `${at}.from`, 'from object');
      if (p.subject !== undefined && (typeof p.subject !== 'string' || p.subject === ''))
        problem(`${at}.subject`, 'The subject must be a string of at least one character.');
      if (p.dynamic_template_data !== undefined && !isObject(p.dynamic_template_data))
        problem(`${at}.dynamic_template_data`, 'The dynamic_template_data must be an object.');
      if (p.custom_args !== undefined) customArgsProblem(p.custom_args, `${at}.custom_args`, problem);
      if (p.send_at !== undefined) sendAtProblem(p.send_at, `${at}.send_at`, nowSeconds, problem);
    });
    if (recipients > MAX_RECIPIENTS)
      problem(
        'personalizations',
        `There is a limit of ${MAX_RECIPIENTS} total recipients (to + cc + bcc) per request.`,
      );
  }

  if (body.subject !== undefined && (typeof body.subject !== 'string' || body.subject === ''))
    problem('subject', 'The subject must be a string of at least one character.');
  else if (body.subject === undefined && !hasTemplate && !allHaveSubject)
    problem('subject', 'The subject is required. You can set it in personalizations or at the message level.');

  if (body.content === undefined) {
    if (!hasTemplate)
      problem(
        'content',
        'Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block.',
      );
  } else if (!Array.isArray(body.content) || (body.content.length === 0 && !hasTemplate)) {
    problem('content', 'The content parameter must be an array with at least one content block.');
  } else {
    body.content.forEach((c, k) => {
      if (!isObject(c) || typeof c.type !== 'string' || c.type === '')
        problem(`content.${k}.type`, 'The content type must be a string at least one character in length.');
      if (!isObject(c) || typeof c.value !== 'string' || c.value === '')
        problem(`content.${k}.value`, 'The content value must be a string at least one character in length.');
    });
  }
  if (hasTemplate && (typeof body.template_id !== 'string' || body.template_id === ''))
    problem('template_id', 'The template_id must be a string.');

  if (body.categories !== undefined) {
    const cats = body.categories;
    if (!Array.isArray(cats) || cats.some((c) => typeof c !== 'string' || c.length > 255))
      problem('categories', 'The categories must be an array of strings of at most 255 characters.');
    else if (cats.length > MAX_CATEGORIES)
      problem('categories', `You may not have more than ${MAX_CATEGORIES} categories per request.`);
    else if (new Set(cats).size !== cats.length) problem('categories', 'The categories must be unique.');
  }
  // SG-OAS types the top-level custom_args as a string, but the official helper sends an object of
  // strings (@sendgrid/helpers Mail#setCustomArgs): the fake accepts the object (UNCONFIRMED).
  if (body.custom_args !== undefined) customArgsProblem(body.custom_args, 'custom_args', problem);
  if (body.send_at !== undefined) sendAtProblem(body.send_at, 'send_at', nowSeconds, problem);
  return problems;
}

function customArgsProblem(value: unknown, field: string, problem: (field: string, message: string) => void): void {
  if (!isObject(value) || Object.values(value).some((v) => typeof v !== 'string'))
    problem(field, 'The custom_args must be an object of string values.');
}

function sendAtProblem(
  value: unknown,
  field: string,
  nowSeconds: number,
  problem: (field: string, message: string) => void,
): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
    problem(field, 'The send_at must be a Unix timestamp in seconds.');
  else if (value > nowSeconds + MAX_SEND_AT_AHEAD_SECONDS)
    problem(field, 'The send_at cannot be scheduled more than 72 hours in advance.');
}

/** The conformance suite's view of this fake (test/conformance/fake-contract.ts). */
export const startConformanceFake: StartConformanceFake = async () => {
  // The suite calls each endpoint many times in a row: a ceiling it never reaches.
  const fake = await startSendGridFake({ rateLimit: 100_000 });
  return {
    apiUrl: fake.url,
    credentials: { apiKey: SENDGRID_FAKE_KEY },
    rejectedCredentials: { apiKey: 'SG.revokedKey00000000001.revokedSecret000000000000000000000000000000' },
    failNext(kind) {
      if (kind === 'rate_limited') fake.rateLimitNext(1, { resetInSeconds: 1 });
      else if (kind === 'server_error') fake.failNext(1, { status: 500 });
      else fake.failNext(1, { status: 403 });
    },
    close: () => fake.close(),
  };
};
