// Local fake of the Resend HTTP API (POST /emails, POST /emails/batch, GET /domains).
// Wire behaviour follows docs/upstreams/resend.md §1 and §4 ("the
// reference") and Resend's OpenAPI spec (R-OAS there). Where the reference marks something
// UNCONFIRMED, the comment says so: don't build hard assertions on those details.
import { createHash, randomUUID } from 'node:crypto';
import type { StartConformanceFake } from '../../conformance/fake-contract.ts';
import {
  type DropOptions,
  type FakeResponse,
  type FakeServer,
  type HandlerContext,
  type RecordedRequest,
  startFakeServer,
} from '../support/fake-server.ts';

export const RESEND_FAKE_FULL_KEY = 're_test_full_1234567890abcdef';
export const RESEND_FAKE_SENDING_KEY = 're_test_sending_0987654321fedcba';

/** 'full' = full access; 'sending' = "Sending access" key, only POST /emails(/batch). */
export type ResendKeyKind = 'full' | 'sending';

export interface ResendDomain {
  id: string;
  name: string;
  status: 'pending' | 'verified' | 'failed' | 'not_started' | 'partially_verified' | 'partially_failed';
  /** Postgres text format `YYYY-MM-DD hh:mm:ss.ffffff+00`, not ISO (reference §1.3). */
  created_at: string;
  region: string;
  open_tracking?: boolean;
  click_tracking?: boolean;
  capabilities: { sending: 'enabled' | 'disabled'; receiving: 'enabled' | 'disabled' };
}

export interface SentEmail {
  id: string;
  /** The email object as received (one array item for batch sends). */
  body: Record<string, unknown>;
  endpoint: '/emails' | '/emails/batch';
  idempotencyKey?: string;
  apiKey: string;
  sentAt: Date;
}

/** Any Resend error can be injected; `name` is what clients branch on. */
export interface ResendInjectedError {
  status: number;
  name: string;
  message: string;
  headers?: Record<string, string>;
}

export interface ResendFakeOptions {
  port?: number;
  /** Requests per second per team. Real default is 5/s (R-DOCS, older docs: 2); 10 keeps tests unhurried. */
  rateLimitPerSecond?: number;
}

/** Formats a Date the way Resend prints `created_at`: `2023-04-07 23:13:52.669661+00`. */
export function toPostgresTimestamp(date: Date): string {
  const iso = date.toISOString(); // 2023-04-07T23:13:52.669Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000+00`;
}

const DEFAULT_RATE_LIMIT = 10;
const DEFAULT_TEAM = 'team_default';
const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000; // "We keep idempotency keys ... for 24 hours" (R-DOCS)
const MAX_TO = 50; // R-OAS SendEmailRequest.to maxItems
const MAX_BATCH = 100; // R-OAS /emails/batch summary

function seedDomains(): ResendDomain[] {
  // Newest first, like the real list.
  return [
    {
      id: '4dd369bc-aa82-4ff3-97de-514ae3000ee0',
      name: 'mail.example.com',
      status: 'verified',
      created_at: '2024-11-02 09:41:07.220134+00',
      region: 'us-east-1',
      open_tracking: false,
      click_tracking: false,
      capabilities: { sending: 'enabled', receiving: 'disabled' },
    },
    {
      id: 'd91cd9bd-1176-453e-8fc1-35364d380206',
      name: 'example.org',
      status: 'pending',
      created_at: '2023-06-15 14:02:33.918271+00',
      region: 'eu-west-1',
      capabilities: { sending: 'enabled', receiving: 'enabled' },
    },
    {
      id: 'b6d24b8e-af0b-4c3c-be0c-359bbd97381e',
      name: 'example.net',
      status: 'not_started',
      created_at: '2023-04-07 23:13:52.669661+00',
      region: 'sa-east-1',
      capabilities: { sending: 'enabled', receiving: 'disabled' },
    },
  ];
}

interface KeyInfo {
  kind: ResendKeyKind;
  team: string;
  revoked: boolean;
}

interface IdempotencyEntry {
  hash: string;
  state: 'in_flight' | 'done';
  response?: FakeResponse;
  expiresAt: number;
}

type ApiError = { status: number; name: string; message: string };

export class ResendFake {
  /** Emails "sent" so far, in order. */
  readonly sentEmails: SentEmail[] = [];
  /** What GET /domains lists, newest first. Assign freely in tests. */
  domains: ResendDomain[] = seedDomains();

  private keys = new Map<string, KeyInfo>();
  private readonly keyLatency = new Map<string, number>();
  private idempotency = new Map<string, IdempotencyEntry>();
  private windows = new Map<string, { start: number; count: number }>();
  private rateLimit: number;

  private constructor(
    private readonly server: FakeServer,
    private readonly defaultRateLimit: number,
  ) {
    this.rateLimit = defaultRateLimit;
    this.addDefaultKeys();
  }

  /** @internal use startResendFake */
  static async start(options: ResendFakeOptions = {}): Promise<ResendFake> {
    let fake: ResendFake | undefined;
    const server = await startFakeServer((req, ctx) => fake!.handle(req, ctx), { port: options.port });
    fake = new ResendFake(server, options.rateLimitPerSecond ?? DEFAULT_RATE_LIMIT);
    return fake;
  }

  get url(): string {
    return this.server.url;
  }
  get requests(): RecordedRequest[] {
    return this.server.requests;
  }

  /** Registers a key. Keys of one team share a rate-limit window and idempotency keys. */
  addKey(key: string, kind: ResendKeyKind, team: string = DEFAULT_TEAM): void {
    this.keys.set(key, { kind, team, revoked: false });
  }
  /** A revoked key answers like an unknown one: 403 invalid_api_key. */
  revokeKey(key: string): void {
    const info = this.keys.get(key);
    if (info) info.revoked = true;
  }
  setRateLimit(perSecond: number): void {
    this.rateLimit = perSecond;
  }
  setLatency(ms: number): void {
    this.server.setLatency(ms);
  }
  /** This key's requests take `ms` (Infinity: never answered); other keys keep `setLatency`'s. */
  setKeyLatency(key: string, ms: number): void {
    this.keyLatency.set(key, ms);
    this.server.setLatencyOf((req) => this.keyLatency.get(bearerToken(req.headers.authorization) ?? ''));
  }
  /**
   * The next n requests get this error instead of being processed. It applies after
   * the 1010 edge check and before auth, and carries the rate-limit headers (plus
   * `retry-after: 1` for `rate_limit_exceeded` unless `headers` sets it).
   */
  failNext(n: number, error: ResendInjectedError): void {
    this.server.failNext(n, {
      status: error.status,
      headers: error.headers,
      body: { statusCode: error.status, message: error.message, name: error.name },
    });
  }
  /** Destroy the socket of the next n requests without answering (network failure). */
  dropNextConnections(n: number, options?: DropOptions): void {
    this.server.dropNextConnections(n, options);
  }
  /** Back to the initial state: default keys/domains/rate limit, nothing recorded. */
  reset(): void {
    this.server.reset();
    this.sentEmails.length = 0;
    this.keyLatency.clear();
    this.domains = seedDomains();
    this.keys.clear();
    this.addDefaultKeys();
    this.idempotency.clear();
    this.windows.clear();
    this.rateLimit = this.defaultRateLimit;
  }
  close(): Promise<void> {
    return this.server.close();
  }

  private addDefaultKeys(): void {
    this.addKey(RESEND_FAKE_FULL_KEY, 'full');
    this.addKey(RESEND_FAKE_SENDING_KEY, 'sending');
  }

  // ---- request pipeline -------------------------------------------------------

  private async handle(req: RecordedRequest, ctx: HandlerContext): Promise<FakeResponse> {
    // Cloudflare rejects requests without a User-Agent before they reach the API:
    // plain text, not the JSON envelope, no rate-limit headers (reference §1.0).
    if (!req.headers['user-agent']) {
      return { status: 403, headers: { 'content-type': 'text/plain; charset=UTF-8' }, body: 'error code: 1010' };
    }

    const apiKey = bearerToken(req.headers.authorization);
    const keyInfo = apiKey ? this.keys.get(apiKey) : undefined;
    const validKey = keyInfo && !keyInfo.revoked ? keyInfo : undefined;

    // Rate-limit headers go on every API response (reference §1.0). The real limit
    // is per team, shared by its keys; unauthenticated callers get their own window.
    const rl = this.countRequest(validKey ? `team:${validKey.team}` : `anon:${apiKey ?? ''}`);
    const withRl = (res: FakeResponse): FakeResponse => ({ ...res, headers: { ...rl.headers, ...res.headers } });

    const injected = ctx.takeInjectedResponse();
    if (injected) {
      const body = injected.body as { name?: string } | undefined;
      const extra: Record<string, string> = body?.name === 'rate_limit_exceeded' ? { 'retry-after': '1' } : {};
      return { ...injected, headers: { ...rl.headers, ...extra, ...injected.headers } };
    }

    if (!apiKey) {
      return withRl(apiError(401, 'missing_api_key', 'Missing API key in the authorization header.'));
    }
    // Invalid or revoked keys are 403, not 401 (reference §1.0 error catalogue).
    if (!validKey) return withRl(apiError(403, 'invalid_api_key', 'API key is invalid'));

    if (rl.exceeded) {
      return withRl({
        ...apiError(
          429,
          'rate_limit_exceeded',
          'Too many requests. Please limit the number of requests per second. Or contact support to increase rate limit.',
        ),
        headers: { 'retry-after': '1' },
      });
    }

    const path = req.path.replace(/\/+$/, '') || '/';
    const route = `${req.method} ${path}`;
    const isSendRoute = route === 'POST /emails' || route === 'POST /emails/batch';
    const knownPaths = ['/emails', '/emails/batch', '/domains'];
    if (!isSendRoute && validKey.kind === 'sending' && knownPaths.includes(path)) {
      // Sending-access keys authenticate fine but may only send (reference §1.3/§1.4).
      return withRl(apiError(401, 'restricted_api_key', 'This API key is restricted to only send emails'));
    }

    switch (route) {
      case 'POST /emails':
        return withRl(await this.idempotent(req, ctx, validKey.team, () => this.sendEmail(req, apiKey)));
      case 'POST /emails/batch':
        return withRl(await this.idempotent(req, ctx, validKey.team, () => this.sendBatch(req, apiKey)));
      case 'GET /domains':
        return withRl(this.listDomains(req));
    }
    if (knownPaths.includes(path))
      return withRl(apiError(405, 'method_not_allowed', 'Method is not allowed for the requested path.'));
    return withRl(apiError(404, 'not_found', 'The requested endpoint does not exist.'));
  }

  /** Fixed one-second window per bucket; `ratelimit-*` headers as in the HAR (IETF draft-06). */
  private countRequest(bucket: string) {
    const now = Date.now();
    let w = this.windows.get(bucket);
    if (!w || now - w.start >= 1000) {
      w = { start: now, count: 0 };
      this.windows.set(bucket, w);
    }
    w.count++;
    const reset = Math.max(1, Math.ceil((w.start + 1000 - now) / 1000));
    return {
      exceeded: w.count > this.rateLimit,
      headers: {
        'ratelimit-limit': String(this.rateLimit),
        'ratelimit-remaining': String(Math.max(0, this.rateLimit - w.count)),
        'ratelimit-reset': String(reset),
        'ratelimit-policy': `${this.rateLimit};w=1`,
      },
    };
  }

  /**
   * Idempotency-Key handling (R-DOCS idempotency-keys): only a *sent* request is
   * remembered, for 24 h. Same payload → same response replayed (nothing re-sent);
   * other payload → 409 invalid_idempotent_request; original still running → 409
   * concurrent_idempotent_requests. Failed requests free the key so a fixed request can reuse it.
   */
  private async idempotent(
    req: RecordedRequest,
    ctx: HandlerContext,
    team: string,
    run: () => FakeResponse,
  ): Promise<FakeResponse> {
    const key = req.headers['idempotency-key'];
    if (key === undefined) {
      await ctx.simulateLatency();
      return run();
    }
    if (key.length < 1 || key.length > 256) {
      return apiError(400, 'invalid_idempotency_key', 'The key must be between 1-256 chars.');
    }

    const storeKey = `${team}\n${key}`;
    const hash = createHash('sha256')
      .update(`${req.path}\n${req.headers['x-batch-validation'] ?? ''}\n`)
      .update(req.json !== undefined ? stableStringify(req.json) : req.rawBody)
      .digest('hex');
    const existing = this.idempotency.get(storeKey);
    if (existing && existing.expiresAt > Date.now()) {
      if (existing.state === 'in_flight') {
        return apiError(
          409,
          'concurrent_idempotent_requests',
          'Same idempotency key used while original request is still in progress.',
        );
      }
      if (existing.hash !== hash) {
        return apiError(
          409,
          'invalid_idempotent_request',
          'Same idempotency key used with a different request payload.',
        );
      }
      return existing.response!;
    }

    const entry: IdempotencyEntry = { hash, state: 'in_flight', expiresAt: Date.now() + IDEMPOTENCY_TTL_MS };
    this.idempotency.set(storeKey, entry);
    try {
      await ctx.simulateLatency(); // the "in progress" window a concurrent duplicate can hit
      const response = run();
      if (response.status === 200) Object.assign(entry, { state: 'done', response });
      else this.idempotency.delete(storeKey);
      return response;
    } catch (err) {
      this.idempotency.delete(storeKey);
      throw err;
    }
  }

  // ---- endpoints ----------------------------------------------------------------

  private sendEmail(req: RecordedRequest, apiKey: string): FakeResponse {
    const body = jsonBody(req);
    if ('error' in body) return apiError(body.error.status, body.error.name, body.error.message);
    if (!isObject(body.value)) return apiError(422, 'validation_error', 'The request body must be a JSON object.');

    const invalid = validateEmail(body.value, { batch: false });
    if (invalid) return apiError(invalid.status, invalid.name, invalid.message);

    const id = this.store(body.value, '/emails', req, apiKey);
    return { status: 200, body: { id } }; // 200, not 201 (R-OAS)
  }

  private sendBatch(req: RecordedRequest, apiKey: string): FakeResponse {
    const mode = (req.headers['x-batch-validation'] ?? 'strict').toLowerCase(); // default strict (reference §1.2)
    if (mode !== 'strict' && mode !== 'permissive') {
      return apiError(422, 'validation_error', 'The `x-batch-validation` header must be `strict` or `permissive`.');
    }
    const body = jsonBody(req);
    if ('error' in body) return apiError(body.error.status, body.error.name, body.error.message);
    const items = body.value;
    if (!Array.isArray(items)) return apiError(422, 'validation_error', 'The request body must be an array of emails.');
    // Status 422 per the reference's notes; the exact status/message is UNCONFIRMED.
    if (items.length > MAX_BATCH)
      return apiError(422, 'validation_error', `Too many emails in batch. The maximum is ${MAX_BATCH}.`);
    if (items.length === 0) return apiError(422, 'validation_error', 'The batch must contain at least one email.'); // UNCONFIRMED

    const results = items.map((item) =>
      isObject(item)
        ? validateEmail(item, { batch: true })
        : {
            status: 422,
            name: 'validation_error',
            message: 'Each email must be a JSON object.',
            batchMessage: undefined,
          },
    );

    if (mode === 'strict') {
      // Atomic: the first invalid email rejects the whole batch with its normal error.
      const firstError = results.find((r) => r !== null);
      if (firstError) return apiError(firstError.status, firstError.name, firstError.message);
      const data = items.map((item) => ({
        id: this.store(item as Record<string, unknown>, '/emails/batch', req, apiKey),
      }));
      return { status: 200, body: { data } };
    }

    const data: { id: string }[] = [];
    const errors: { index: number; message: string }[] = [];
    items.forEach((item, index) => {
      const r = results[index];
      if (r) errors.push({ index, message: r.batchMessage ?? r.message });
      else data.push({ id: this.store(item as Record<string, unknown>, '/emails/batch', req, apiKey) });
    });
    return { status: 200, body: { data, errors } };
  }

  private listDomains(req: RecordedRequest): FakeResponse {
    // Pagination per R-DOCS api-reference/pagination: no `limit` → everything;
    // cursors are object ids and are excluded from the page; after/before not both.
    const { limit: rawLimit, after, before } = req.query;
    if (after !== undefined && before !== undefined) {
      return apiError(422, 'validation_error', 'You can only use either `after` or `before`, not both.'); // status UNCONFIRMED
    }
    let limit = this.domains.length;
    if (rawLimit !== undefined) {
      limit = Number(rawLimit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
        return apiError(422, 'validation_error', 'The `limit` parameter must be an integer between 1 and 100.'); // status UNCONFIRMED
      }
    }
    const cursor = after ?? before;
    const at = cursor === undefined ? -1 : this.domains.findIndex((d) => d.id === cursor);
    if (cursor !== undefined && at < 0) {
      return apiError(422, 'validation_error', 'The cursor does not match any domain.'); // UNCONFIRMED
    }

    let page: ResendDomain[];
    let hasMore: boolean;
    if (before !== undefined) {
      const start = Math.max(0, at - limit);
      page = this.domains.slice(start, at);
      hasMore = start > 0;
    } else {
      page = this.domains.slice(at + 1, at + 1 + limit);
      hasMore = at + 1 + limit < this.domains.length;
    }
    return { status: 200, body: { object: 'list', has_more: hasMore, data: page } };
  }

  private store(
    body: Record<string, unknown>,
    endpoint: SentEmail['endpoint'],
    req: RecordedRequest,
    apiKey: string,
  ): string {
    const id = randomUUID();
    this.sentEmails.push({
      id,
      body,
      endpoint,
      idempotencyKey: req.headers['idempotency-key'],
      apiKey,
      sentAt: new Date(),
    });
    return id;
  }
}

export async function startResendFake(options?: ResendFakeOptions): Promise<ResendFake> {
  return ResendFake.start(options);
}

// ---- helpers ----------------------------------------------------------------------

/** Error envelope as recorded in real traffic: `{"statusCode","message","name"}`, JSON utf-8. */
function apiError(status: number, name: string, message: string): FakeResponse {
  return { status, body: { statusCode: status, message, name } };
}

function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  // Resend's own examples sometimes omit "Bearer"; accept both.
  const token = header.replace(/^Bearer\s*/i, '').trim();
  return token || undefined; // blank → treated as missing (reference §1.4)
}

function jsonBody(req: RecordedRequest): { value: unknown } | { error: ApiError } {
  if (req.json !== undefined) return { value: req.json };
  if (req.rawBody.length === 0)
    return { error: { status: 422, name: 'validation_error', message: 'The request body is missing.' } }; // UNCONFIRMED
  try {
    return { value: JSON.parse(req.rawBody.toString('utf8')) }; // JSON sent without a JSON content type
  } catch {
    // Malformed JSON: 400 validation_error (catalogue); exact message UNCONFIRMED.
    return { error: { status: 400, name: 'validation_error', message: 'The request body is not valid JSON.' } };
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const ADDRESS = /^(?:[^<>]*<\s*[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+\s*>|[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+)$/;
const TAG_PART = /^[A-Za-z0-9_-]{1,256}$/;

type EmailError = ApiError & { batchMessage?: string };

/**
 * Validates one SendEmailRequest (R-OAS). Messages for missing fields follow the
 * recorded format "Missing `to` field."; permissive batch errors use the wording
 * of the reference example ("The `to` field is missing."). Field errors are 422
 * validation_error as observed (3rd-party) for invalid addresses.
 */
function validateEmail(email: Record<string, unknown>, { batch }: { batch: boolean }): EmailError | null {
  const isBlank = (v: unknown) => v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
  for (const field of ['from', 'to', 'subject']) {
    if (isBlank(email[field])) {
      return {
        status: 422,
        name: 'missing_required_field',
        message: `Missing \`${field}\` field.`,
        batchMessage: `The \`${field}\` field is missing.`,
      };
    }
  }
  const fieldError = (message: string): EmailError => ({ status: 422, name: 'validation_error', message });

  if (typeof email.subject !== 'string') return fieldError('The `subject` field must be a `string`.');
  for (const field of ['from', 'to', 'cc', 'bcc', 'reply_to']) {
    const value = email[field];
    if (value === undefined || value === null) continue;
    const list = Array.isArray(value) ? value : [value];
    if (field === 'from' && Array.isArray(value)) return fieldError('The `from` field must be a `string`.');
    if (list.some((a) => typeof a !== 'string'))
      return fieldError(`The \`${field}\` field must be a \`string\` or an array of strings.`);
    if (list.some((a) => !ADDRESS.test((a as string).trim()))) {
      return fieldError(
        `Invalid \`${field}\` field. The email address needs to follow the \`email@example.com\` or \`Name <email@example.com>\` format.`,
      );
    }
    if (field === 'to' && list.length > MAX_TO)
      return fieldError(`Too many recipients in the \`to\` field. The maximum is ${MAX_TO}.`); // wording UNCONFIRMED
  }

  if (batch) {
    // Not supported in batch (reference §1.2); exact status/message UNCONFIRMED.
    if (email.attachments !== undefined)
      return fieldError('The `attachments` field is not supported for batch emails.');
    if (email.scheduled_at !== undefined)
      return fieldError('The `scheduled_at` field is not supported for batch emails.');
  } else if (email.attachments !== undefined) {
    if (!Array.isArray(email.attachments)) return fieldError('The `attachments` field must be an array.');
    for (const a of email.attachments) {
      if (!isObject(a) || (isBlank(a.content) && isBlank(a.path))) {
        return {
          status: 422,
          name: 'invalid_attachment',
          message: 'Attachment must have either a `content` or `path`.',
        };
      }
    }
  }

  if (email.template !== undefined) {
    if (!isObject(email.template) || isBlank(email.template.id)) {
      return {
        status: 422,
        name: 'missing_required_field',
        message: 'Missing `template.id` field.',
        batchMessage: 'The `template.id` field is missing.',
      };
    }
    // Published templates replace html/text; sending both is a validation error (R-OAS, R-DOCS).
    if (email.html !== undefined || email.text !== undefined)
      return fieldError('The `html` and `text` fields cannot be used together with `template`.');
  }

  if (email.tags !== undefined) {
    const ok =
      Array.isArray(email.tags) &&
      email.tags.every(
        (t) =>
          isObject(t) &&
          typeof t.name === 'string' &&
          TAG_PART.test(t.name) &&
          (t.value === undefined || (typeof t.value === 'string' && TAG_PART.test(t.value))),
      );
    if (!ok)
      return fieldError(
        'Tags should only contain ASCII letters, numbers, underscores, or dashes, and be at most 256 characters.',
      );
  }
  return null;
}

/** JSON with sorted object keys, so key order doesn't change an idempotency hash. */
function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => value[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableStringify(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The conformance suite's view of this fake (test/conformance/fake-contract.ts). */
export const startConformanceFake: StartConformanceFake = async () => {
  // The suite runs every example and error several times in a row: Resend's 5/s would throttle it.
  const fake = await startResendFake({ rateLimitPerSecond: 1000 });
  return {
    apiUrl: fake.url,
    credentials: { apiKey: RESEND_FAKE_FULL_KEY },
    rejectedCredentials: { apiKey: 're_revoked_0000000000000000' },
    failNext(kind) {
      const errors = {
        rate_limited: {
          status: 429,
          name: 'rate_limit_exceeded',
          message: 'Too many requests. You can only make 5 requests per second.',
          headers: { 'retry-after': '1' },
        },
        server_error: { status: 500, name: 'internal_server_error', message: 'An unexpected error occurred.' },
        permission: {
          status: 401,
          name: 'restricted_api_key',
          message: 'This API key is restricted to only send emails',
        },
      } satisfies Record<string, ResendInjectedError>;
      fake.failNext(1, errors[kind]);
    },
    close: () => fake.close(),
  };
};
