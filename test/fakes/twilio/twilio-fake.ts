// Local fake of Twilio's Programmable Messaging REST API (2010-04-01): send, list and fetch
// Messages, and fetch an Account (the connector's credential test). Wire behaviour follows
// docs/upstreams/twilio.md ("the reference"): Twilio's OpenAPI document (T-OAS), twilio-node
// (T-NODE) and twilio.com/docs (T-DOCS). Where the reference marks something UNCONFIRMED, the
// comment says so: don't build hard assertions on those details.
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

export const TWILIO_FAKE_ACCOUNT_SID = 'AC0fa4e000000000000000000000000001';
export const TWILIO_FAKE_AUTH_TOKEN = '0fa4e0000000000000000000a0717c0d';
/** A second, separate account: its messages are not the first one's. */
export const TWILIO_FAKE_OTHER_ACCOUNT_SID = 'AC0fa4e000000000000000000000000002';
export const TWILIO_FAKE_OTHER_AUTH_TOKEN = '0fa4e0000000000000000000a0717c02';
/** Test credentials (T-DOCS test-credentials): may send, but any read answers 403 20008. */
export const TWILIO_FAKE_TEST_ACCOUNT_SID = 'AC0fa4e0000000000000000000000007e5';
export const TWILIO_FAKE_TEST_AUTH_TOKEN = '0fa4e0000000000000000000000007e5';
/** The sender every fake account owns: Twilio's magic "passes all validation" number. */
export const TWILIO_FAKE_FROM = '+15005550006';
/** The default account's Messaging Service. */
export const TWILIO_FAKE_MESSAGING_SERVICE_SID = 'MG0fa4e000000000000000000000000001';

/**
 * Magic `To` numbers of Twilio's test credentials (T-DOCS test-credentials, "Test inputs for SMS").
 * Twilio documents them for test credentials only; the fake applies them to every account so that
 * tests can provoke each refusal (UNCONFIRMED for live credentials).
 */
export const TWILIO_MAGIC_TO = {
  invalid: '+15005550001', // 21211
  unroutable: '+15005550002', // 21612
  noGeoPermission: '+15005550003', // 21408
  blocked: '+15005550004', // 21610 (opted out)
  notSmsCapable: '+15005550009', // 21614
} as const;
/** Magic `From` numbers (same source and caveat). Any other unowned number gets 21606. */
export const TWILIO_MAGIC_FROM = {
  invalid: '+15005550001',
  notOwned: '+15005550007',
  queueFull: '+15005550008',
} as const;

const API = '/2010-04-01';
const DOCS = 'https://www.twilio.com/docs/errors/';
const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
const MESSAGE_SID = /^(SM|MM)[0-9a-fA-F]{32}$/;
const SERVICE_SID = /^MG[0-9a-fA-F]{32}$/;
const E164 = /^\+[1-9]\d{1,14}$/;
const CHANNEL_ADDRESS = /^[a-z]+:\+?[^\s:]+$/; // whatsapp:+1…, messenger:…, rcs:… (T-OAS `To` description)
const DATE = /^(\d{4}-\d{2}-\d{2})(?:[T ][\d:.]+Z?)?$/;
const MAX_BODY = 1600; // T-OAS `Body`
const MAX_MEDIA = 10; // T-OAS `MediaUrl`
const MAX_PAGE_SIZE = 1000; // T-OAS `PageSize`
const DEFAULT_PAGE_SIZE = 50;
/** Twilio's default concurrency per account is 100 (T-DOCS 20429 describes the limit, not the number: UNCONFIRMED). */
const DEFAULT_CONCURRENCY = 100;

/** A Message resource exactly as Twilio serializes it (T-OAS `api.v2010.account.message`). */
export interface TwilioMessage {
  account_sid: string;
  api_version: string;
  body: string | null;
  date_created: string | null;
  date_sent: string | null;
  date_updated: string | null;
  direction: 'inbound' | 'outbound-api' | 'outbound-call' | 'outbound-reply';
  error_code: number | null;
  error_message: string | null;
  from: string | null;
  messaging_service_sid: string | null;
  num_media: string | null;
  num_segments: string | null;
  price: string | null;
  price_unit: string | null;
  sid: string;
  status: string;
  subresource_uris: Record<string, string> | null;
  to: string | null;
  uri: string | null;
}

/** What the fake received for one accepted send, beyond the resource it answered. */
export interface SentMessage {
  accountSid: string;
  sid: string;
  /** The form exactly as decoded, repeated keys kept (`MediaUrl`). */
  params: Record<string, string[]>;
  statusCallback: string | null;
}

export interface TwilioAccount {
  sid: string;
  authToken: string;
  friendlyName: string;
  status: 'active' | 'suspended' | 'closed';
  type: 'Trial' | 'Full';
  /** Test credentials: only sending works; every read answers 403 20008 (T-DOCS test-credentials). */
  testCredentials: boolean;
  dateCreated: Date;
  /** Senders this account owns (`From`). */
  numbers: Set<string>;
  messagingServices: Set<string>;
  /** The account's default Messaging Service SID, stamped on messages sent without one (T-OAS). */
  defaultServiceSid: string;
  /** Newest first, as Twilio lists them (ordering UNCONFIRMED: the reference names no order). */
  messages: TwilioMessage[];
}

/** A Twilio error as the fake should answer it: `{code, message, more_info, status}`. */
export interface TwilioInjectedError {
  status: number;
  code: number;
  message: string;
  headers?: Record<string, string>;
}

/** The answers the conformance suite and tests inject most. Codes and wording as the reference gives them. */
export const TWILIO_ERRORS = {
  // HTTP 429 + 20429 is CONFIRMED (T-DOCS 20429); the message wording and the absence of
  // Retry-After / rate-limit headers are UNCONFIRMED.
  rateLimited: { status: 429, code: 20429, message: 'Too Many Requests' },
  // Twilio's 5xx bodies: the envelope and code 20500 are UNCONFIRMED.
  serverError: { status: 500, code: 20500, message: 'Internal Server Error' },
  unavailable: { status: 503, code: 20503, message: 'Service Unavailable' },
  // 403 for a resource test credentials may not use (T-DOCS 20008, test-credentials).
  testCredentials: { status: 403, code: 20008, message: 'Resource not accessible with Test Account Credentials' },
  // The account is suspended or closed (T-DOCS 20403); HTTP status 403 per the code's name.
  suspended: { status: 403, code: 20403, message: '403 Forbidden' },
} satisfies Record<string, TwilioInjectedError>;

export interface TwilioFakeOptions {
  port?: number;
  /** Concurrent requests per account before 429 20429. */
  concurrencyLimit?: number;
}

type ErrorAnswer = { status: number; code: number; message: string };

/**
 * Twilio's Messages and Accounts endpoints for tests: accounts with Basic credentials, messages per
 * account, switches for latency, concurrency (429 20429), injected errors and dropped connections,
 * and every request recorded for wire assertions.
 */
export class TwilioFake {
  readonly accounts = new Map<string, TwilioAccount>();
  /** Every accepted send, in order. */
  readonly sent: SentMessage[] = [];

  private inFlight = new Map<string, number>();
  private concurrencyLimit: number;

  private constructor(
    private readonly server: FakeServer,
    private readonly defaultConcurrency: number,
  ) {
    this.concurrencyLimit = defaultConcurrency;
    this.seed();
  }

  /** @internal use startTwilioFake */
  static async start(options: TwilioFakeOptions = {}): Promise<TwilioFake> {
    let fake: TwilioFake | undefined;
    const server = await startFakeServer((req, ctx) => fake!.handle(req, ctx), { port: options.port });
    fake = new TwilioFake(server, options.concurrencyLimit ?? DEFAULT_CONCURRENCY);
    return fake;
  }

  get url(): string {
    return this.server.url;
  }
  get requests(): RecordedRequest[] {
    return this.server.requests;
  }

  account(sid = TWILIO_FAKE_ACCOUNT_SID): TwilioAccount {
    const account = this.accounts.get(sid);
    if (!account) throw new Error(`no fake account ${sid}`);
    return account;
  }

  /** Registers an account; its SID and token are the Basic credentials. */
  addAccount(
    sid: string,
    authToken: string,
    options: { testCredentials?: boolean; status?: TwilioAccount['status'] } = {},
  ): TwilioAccount {
    if (!ACCOUNT_SID.test(sid)) throw new Error(`${sid} is not an Account SID`);
    const account: TwilioAccount = {
      sid,
      authToken,
      friendlyName: `Fake account ${sid.slice(-4)}`,
      status: options.status ?? 'active',
      type: 'Full',
      testCredentials: options.testCredentials ?? false,
      dateCreated: new Date('2024-01-15T10:00:00Z'),
      numbers: new Set([TWILIO_FAKE_FROM]),
      messagingServices: new Set(),
      defaultServiceSid: `MG${hex(32)}`,
      messages: [],
    };
    this.accounts.set(sid, account);
    return account;
  }

  /** A new Auth Token for the account: the old one answers 401 20003 from now on (T-DOCS 20003). */
  rotateAuthToken(sid = TWILIO_FAKE_ACCOUNT_SID): string {
    const account = this.account(sid);
    account.authToken = hex(32);
    return account.authToken;
  }

  /** A later status, e.g. a carrier failure: `{status:'undelivered', error_code:30003, …}` (reference §1.1). */
  updateMessage(
    sid: string,
    patch: Partial<
      Pick<TwilioMessage, 'status' | 'error_code' | 'error_message' | 'price' | 'price_unit' | 'date_sent'>
    >,
  ): TwilioMessage {
    for (const account of this.accounts.values()) {
      const message = account.messages.find((m) => m.sid === sid);
      if (message) return Object.assign(message, patch, { date_updated: rfc2822(new Date()) });
    }
    throw new Error(`no fake message ${sid}`);
  }

  setConcurrencyLimit(limit: number): void {
    this.concurrencyLimit = limit;
  }
  setLatency(ms: number): void {
    this.server.setLatency(ms);
  }
  /** The next n authenticated requests get this error instead of being processed. */
  failNext(n: number, error: TwilioInjectedError): void {
    this.server.failNext(n, { status: error.status, headers: error.headers, body: envelope(error) });
  }
  /** Destroy the socket of the next n requests without answering (network failure). */
  dropNextConnections(n: number, options?: DropOptions): void {
    this.server.dropNextConnections(n, options);
  }
  /** Back to the initial state: default accounts and messages, nothing recorded or queued. */
  reset(): void {
    this.server.reset();
    this.sent.length = 0;
    this.inFlight.clear();
    this.concurrencyLimit = this.defaultConcurrency;
    this.seed();
  }
  close(): Promise<void> {
    return this.server.close();
  }

  private seed(): void {
    this.accounts.clear();
    const main = this.addAccount(TWILIO_FAKE_ACCOUNT_SID, TWILIO_FAKE_AUTH_TOKEN);
    main.friendlyName = 'Acme Production';
    main.messagingServices.add(TWILIO_FAKE_MESSAGING_SERVICE_SID);
    main.messages = seedMessages(main);
    const other = this.addAccount(TWILIO_FAKE_OTHER_ACCOUNT_SID, TWILIO_FAKE_OTHER_AUTH_TOKEN);
    other.messages = seedMessages(other).slice(0, 2);
    this.addAccount(TWILIO_FAKE_TEST_ACCOUNT_SID, TWILIO_FAKE_TEST_AUTH_TOKEN, { testCredentials: true });
  }

  // ---- request pipeline -------------------------------------------------------

  private async handle(req: RecordedRequest, ctx: HandlerContext): Promise<FakeResponse> {
    const route = matchRoute(req.path);
    if (!route) return answer(notFound(req.path));

    // HTTP Basic: the Account SID and its Auth Token (T-OAS `accountSid_authToken`). The username
    // must be the account of the path: another account's credentials are 20003 too (T-DOCS 20003:
    // "subaccount credentials to access master account").
    const auth = basicCredentials(req.headers.authorization);
    const account = auth ? this.accounts.get(auth.username) : undefined;
    if (!auth || !account || account.authToken !== auth.password || account.sid !== route.accountSid)
      return unauthorized();
    // A closed account fails authentication (T-DOCS 20003 causes); a suspended one answers 20403 (T-DOCS 20403).
    if (account.status === 'closed') return unauthorized();
    if (account.status === 'suspended') return answer(TWILIO_ERRORS.suspended);

    const running = this.inFlight.get(account.sid) ?? 0;
    if (running >= this.concurrencyLimit) return answer(TWILIO_ERRORS.rateLimited);
    this.inFlight.set(account.sid, running + 1);
    try {
      const injected = ctx.takeInjectedResponse();
      if (injected) return withCommonHeaders(injected);
      await ctx.simulateLatency(); // while holding a concurrency slot, as a slow real request would
      return this.route(req, route, account);
    } finally {
      this.inFlight.set(account.sid, (this.inFlight.get(account.sid) ?? 1) - 1);
    }
  }

  private route(req: RecordedRequest, route: Route, account: TwilioAccount): FakeResponse {
    const reading = req.method === 'GET';
    // Test credentials may only create (T-DOCS test-credentials: "any other resource … 403 Forbidden").
    if (account.testCredentials && !(route.kind === 'messages' && req.method === 'POST'))
      return answer(TWILIO_ERRORS.testCredentials);
    switch (route.kind) {
      case 'account':
        if (reading) return json(200, this.accountResource(account));
        break;
      case 'messages':
        if (req.method === 'POST') return this.createMessage(req, account);
        if (reading) return this.listMessages(req, account);
        break;
      case 'message': {
        if (!reading) break; // POST (update) and DELETE exist (T-OAS) but the connector uses neither
        const message = account.messages.find((m) => m.sid === route.messageSid);
        return message ? json(200, message) : answer(notFound(req.path));
      }
    }
    // Status and code for a method the path does not have: UNCONFIRMED.
    return answer({ status: 405, code: 20004, message: 'Method not allowed' });
  }

  // ---- endpoints ----------------------------------------------------------------

  /** POST …/Messages.json (T-OAS CreateMessage; reference §1.1). */
  private createMessage(req: RecordedRequest, account: TwilioAccount): FakeResponse {
    // Form-encoded only; anything else reads as a form without `To` (T-DOCS 21604 names a non-form body).
    const params = (req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')
      ? formParams(req.rawBody)
      : {};
    const one = (key: string) => params[key]?.[0];
    const to = one('To');
    const from = one('From');
    const serviceSid = one('MessagingServiceSid');
    const body = one('Body');
    const mediaUrls = params.MediaUrl ?? [];
    const contentSid = one('ContentSid');
    const statusCallback = one('StatusCallback');

    if (!to) return answer({ status: 400, code: 21604, message: "A 'To' phone number is required." });
    const toError = recipientError(to);
    if (toError) return answer(toError);
    // Error codes and wording for the checks below are from T-DOCS error pages where named; those
    // marked UNCONFIRMED are plausible Twilio answers the reference does not state.
    if (!from && !serviceSid)
      return answer({
        status: 400,
        code: 21603,
        message: "A 'From' or 'MessagingServiceSid' parameter is required to send a message",
      }); // UNCONFIRMED
    if (from) {
      const fromError = this.senderError(account, from);
      if (fromError) return answer(fromError);
    }
    if (
      serviceSid &&
      (account.testCredentials || !SERVICE_SID.test(serviceSid) || !account.messagingServices.has(serviceSid))
    ) {
      return answer({ status: 400, code: 21701, message: `The Messaging Service Sid ${serviceSid} is invalid.` }); // UNCONFIRMED
    }
    if (!body && mediaUrls.length === 0 && !contentSid)
      return answer({ status: 400, code: 21602, message: 'Message body is required.' }); // code UNCONFIRMED
    if (body && body.length > MAX_BODY)
      return answer({
        status: 400,
        code: 21617,
        message: 'The concatenated message body exceeds the 1600 character limit.',
      }); // code UNCONFIRMED
    if (mediaUrls.length > MAX_MEDIA || mediaUrls.some((u) => !isHttpUrl(u)))
      return answer({ status: 400, code: 21620, message: 'Invalid media URL(s).' }); // UNCONFIRMED
    // "URL must contain a valid hostname and underscores are not allowed" (T-OAS StatusCallback); the code is UNCONFIRMED.
    if (
      statusCallback !== undefined &&
      (!isHttpUrl(statusCallback) || new URL(statusCallback).hostname.includes('_'))
    ) {
      return answer({
        status: 400,
        code: 21609,
        message: `The StatusCallback URL ${statusCallback} is not a valid URL.`,
      });
    }

    const now = rfc2822(new Date());
    const sid = `${mediaUrls.length > 0 ? 'MM' : 'SM'}${hex(32)}`;
    // Without `From`, the Messaging Service picks the sender later: `from` null, status `accepted`,
    // and `num_segments` "0" until then (reference §1.1; T-OAS `num_segments` description).
    const pending = !from;
    const message: TwilioMessage = {
      account_sid: account.sid,
      api_version: '2010-04-01',
      body: body ?? '',
      date_created: now,
      date_sent: pending ? null : now,
      date_updated: now,
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from: from ?? null,
      messaging_service_sid: serviceSid ?? account.defaultServiceSid,
      num_media: String(mediaUrls.length),
      num_segments: pending ? '0' : String(segmentsOf(body ?? '')),
      price: null,
      price_unit: null,
      sid,
      status: pending ? 'accepted' : 'queued',
      subresource_uris: { media: `${API}/Accounts/${account.sid}/Messages/${sid}/Media.json` },
      to,
      uri: `${API}/Accounts/${account.sid}/Messages/${sid}.json`,
    };
    account.messages.unshift(message);
    this.sent.push({ accountSid: account.sid, sid, params, statusCallback: statusCallback ?? null });
    return json(201, message);
  }

  /** GET …/Messages.json (T-OAS ListMessage; reference §1.3), paged by PageToken. */
  private listMessages(req: RecordedRequest, account: TwilioAccount): FakeResponse {
    const query = new URLSearchParams(req.query); // first value of each parameter
    const pageSize = query.has('PageSize') ? Number(query.get('PageSize')) : DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      return answer({ status: 400, code: 20001, message: `PageSize must be between 1 and ${MAX_PAGE_SIZE}` }); // code and wording UNCONFIRMED
    }
    const page = query.has('Page') ? Number(query.get('Page')) : 0; // "simply for client state" (T-OAS)
    if (!Number.isInteger(page) || page < 0)
      return answer({ status: 400, code: 20001, message: 'Page must be a non-negative integer' }); // UNCONFIRMED

    const dates: Array<[string, (sent: string, given: string) => boolean]> = [
      ['DateSent', (s, g) => s === g],
      ['DateSent<', (s, g) => s <= g], // "on and before" (T-OAS DateSent description)
      ['DateSent>', (s, g) => s >= g], // "on and after"
    ];
    const dateFilters: Array<[string, (sent: string, given: string) => boolean]> = [];
    for (const [name, test] of dates) {
      const raw = query.get(name);
      if (raw === null) continue;
      const day = DATE.exec(raw)?.[1];
      if (!day) return answer({ status: 400, code: 20001, message: `Invalid ${name}: ${raw}` }); // UNCONFIRMED
      dateFilters.push([day, test]);
    }
    const to = query.get('To');
    const from = query.get('From');
    const matching = account.messages.filter((m) => {
      if (to !== null && m.to !== to) return false;
      if (from !== null && m.from !== from) return false;
      if (dateFilters.length === 0) return true;
      if (!m.date_sent) return false;
      const sentDay = new Date(m.date_sent).toISOString().slice(0, 10);
      return dateFilters.every(([day, test]) => test(sentDay, day));
    });

    // PageToken "PA<sid>" continues after that message: the T-OAS example's token is "PA" plus the
    // SID of the page's last message. "PB<sid>" (before, for previous_page_uri) is UNCONFIRMED.
    const token = query.get('PageToken');
    let start = 0;
    let end = Math.min(matching.length, pageSize);
    if (token !== null) {
      const at = matching.findIndex((m) => m.sid === token.slice(2));
      if (!/^P[AB]/.test(token) || at < 0) return answer({ status: 400, code: 20001, message: 'Invalid PageToken' }); // UNCONFIRMED
      if (token.startsWith('PA')) [start, end] = [at + 1, Math.min(matching.length, at + 1 + pageSize)];
      else [start, end] = [Math.max(0, at - pageSize), at];
    }
    const items = matching.slice(start, end);

    const base = `${API}/Accounts/${account.sid}/Messages.json`;
    const filters = new URLSearchParams();
    for (const key of ['To', 'From', 'DateSent', 'DateSent<', 'DateSent>'])
      if (query.has(key)) filters.set(key, query.get(key)!);
    const uriFor = (pageNumber: number, pageToken?: string) => {
      const q = new URLSearchParams(filters);
      q.set('PageSize', String(pageSize));
      q.set('Page', String(pageNumber));
      if (pageToken) q.set('PageToken', pageToken);
      return `${base}?${q}`;
    };
    const hasNext = end < matching.length && items.length > 0;
    const hasPrevious = start > 0 && items.length > 0;
    return json(200, {
      first_page_uri: uriFor(0),
      end: Math.max(page * pageSize, page * pageSize + items.length - 1), // the T-OAS empty-page example has end 0
      previous_page_uri: hasPrevious ? uriFor(Math.max(0, page - 1), `PB${items[0]!.sid}`) : null,
      messages: items,
      uri: uriFor(page, token ?? undefined),
      page_size: pageSize,
      start: page * pageSize,
      next_page_uri: hasNext ? uriFor(page + 1, `PA${items[items.length - 1]!.sid}`) : null,
      page,
    });
  }

  /** GET /2010-04-01/Accounts/{Sid}.json (T-OAS FetchAccount): it echoes the auth token (reference §1.4). */
  private accountResource(account: TwilioAccount) {
    const uri = `${API}/Accounts/${account.sid}`;
    return {
      auth_token: account.authToken,
      date_created: rfc2822(account.dateCreated),
      date_updated: rfc2822(account.dateCreated),
      friendly_name: account.friendlyName,
      owner_account_sid: account.sid,
      sid: account.sid,
      status: account.status,
      subresource_uris: { messages: `${uri}/Messages.json`, balance: `${uri}/Balance.json` },
      type: account.type,
      uri: `${uri}.json`,
    };
  }

  private senderError(account: TwilioAccount, from: string): ErrorAnswer | undefined {
    if (from === TWILIO_MAGIC_FROM.invalid)
      return {
        status: 400,
        code: 21212,
        message: `The 'From' number ${from} is not a valid phone number, shortcode, or alphanumeric sender ID.`,
      };
    if (from === TWILIO_MAGIC_FROM.queueFull)
      return {
        status: 400,
        code: 21611,
        message: `This 'From' number has exceeded the maximum number of queued messages`,
      };
    if (from === TWILIO_MAGIC_FROM.notOwned || !account.numbers.has(from)) {
      return {
        status: 400,
        code: 21606,
        message: `The From phone number ${from} is not a valid, SMS-capable inbound phone number or short code for your account.`,
      };
    }
    return undefined;
  }
}

/** Starts a fake on a free port (or `options.port`) with the seeded accounts and messages. */
export async function startTwilioFake(options?: TwilioFakeOptions): Promise<TwilioFake> {
  return TwilioFake.start(options);
}

// ---- helpers ----------------------------------------------------------------------

type Route =
  | { kind: 'account'; accountSid: string }
  | { kind: 'messages'; accountSid: string }
  | { kind: 'message'; accountSid: string; messageSid: string };

/** Only the `.json` representations: without the suffix Twilio answers XML, which no client here asks for. */
function matchRoute(path: string): Route | undefined {
  let m = /^\/2010-04-01\/Accounts\/([^/]+)\.json$/.exec(path);
  if (m) return { kind: 'account', accountSid: decodeURIComponent(m[1]!) };
  m = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(path);
  if (m) return { kind: 'messages', accountSid: decodeURIComponent(m[1]!) };
  m = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\/([^/]+)\.json$/.exec(path);
  if (m && MESSAGE_SID.test(m[2]!))
    return { kind: 'message', accountSid: decodeURIComponent(m[1]!), messageSid: m[2]! };
  if (m) return { kind: 'message', accountSid: decodeURIComponent(m[1]!), messageSid: '' };
  return undefined;
}

function basicCredentials(header: string | undefined): { username: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header?.trim() ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The error envelope (reference §1.0): T-NODE RestException reads message, code, more_info. */
function envelope(error: ErrorAnswer) {
  return { code: error.code, message: error.message, more_info: `${DOCS}${error.code}`, status: error.status };
}

function answer(error: ErrorAnswer): FakeResponse {
  return json(error.status, envelope(error));
}

/**
 * 401 + 20003 "Authenticate" (OBSERVED body, reference §1.0). The WWW-Authenticate challenge is
 * what RFC 7235 requires of a 401; its realm is UNCONFIRMED.
 */
function unauthorized(): FakeResponse {
  const res = answer({ status: 401, code: 20003, message: 'Authenticate' });
  return { ...res, headers: { ...res.headers, 'www-authenticate': 'Basic realm="Twilio API"' } };
}

function notFound(path: string): ErrorAnswer {
  // 404 for an unknown resource is CONFIRMED (reference §1.2); the code 20404 and wording are UNCONFIRMED.
  return { status: 404, code: 20404, message: `The requested resource ${path} was not found` };
}

/** JSON with Twilio's request id header (OBSERVED in real responses; the `RQ` prefix is UNCONFIRMED). */
function json(status: number, body: unknown): FakeResponse {
  return withCommonHeaders({ status, body });
}

function withCommonHeaders(res: FakeResponse): FakeResponse {
  return {
    ...res,
    headers: { 'content-type': 'application/json; charset=utf-8', 'twilio-request-id': `RQ${hex(32)}`, ...res.headers },
  };
}

function recipientError(to: string): ErrorAnswer | undefined {
  const invalid = { status: 400, code: 21211, message: `The 'To' number ${to} is not a valid phone number.` };
  switch (to) {
    case TWILIO_MAGIC_TO.invalid:
      return invalid;
    case TWILIO_MAGIC_TO.unroutable:
      return {
        status: 400,
        code: 21612,
        message: `The 'To' phone number: ${to}, is not currently reachable using the 'From' phone number via SMS.`,
      };
    // The HTTP status of 21408, 21610 and 21614 is UNCONFIRMED (likely 400, reference §1.5).
    case TWILIO_MAGIC_TO.noGeoPermission:
      return {
        status: 400,
        code: 21408,
        message: `Permission to send an SMS has not been enabled for the region indicated by the 'To' number: ${to}.`,
      };
    case TWILIO_MAGIC_TO.blocked:
      return { status: 400, code: 21610, message: 'Attempt to send to unsubscribed recipient' };
    case TWILIO_MAGIC_TO.notSmsCapable:
      return { status: 400, code: 21614, message: `'To' number ${to} is not a valid mobile number` };
  }
  return E164.test(to) || CHANNEL_ADDRESS.test(to) ? undefined : invalid;
}

/** Decodes a form body keeping repeated keys (`MediaUrl=a&MediaUrl=b`, reference §1.0). */
function formParams(raw: Buffer): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [key, value] of new URLSearchParams(raw.toString('utf8'))) {
    out[key] ??= [];
    out[key].push(value);
  }
  return out;
}

function isHttpUrl(value: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/**
 * SMS segments: 160 GSM-7 characters (153 when concatenated) or 70 UCS-2 (67), reference §1.1.
 * GSM-7 is approximated as printable ASCII plus newlines (the real alphabet differs a little).
 */
function segmentsOf(body: string): number {
  const gsm = /^[\x20-\x7E\r\n]*$/.test(body);
  const [single, multi] = gsm ? [160, 153] : [70, 67];
  // UTF-16 code units, which is how UCS-2 counts characters outside the BMP (emoji count 2).
  return body.length <= single ? 1 : Math.ceil(body.length / multi);
}

/** RFC 2822 as Twilio prints it: `Thu, 24 Aug 2023 05:01:45 +0000` (T-OAS; T-NODE parses exactly this). */
export function rfc2822(date: Date): string {
  return date.toUTCString().replace('GMT', '+0000');
}

function hex(n: number): string {
  return randomBytes(Math.ceil(n / 2))
    .toString('hex')
    .slice(0, n);
}

/** Five older messages so that a list has something to page through, newest first. */
function seedMessages(account: TwilioAccount): TwilioMessage[] {
  const rows: Array<[string, string, string, string, string | null, number | null, string | null]> = [
    ['2024-05-24T17:44:50Z', '+14155552671', 'outbound-api', 'Your order #1001 has shipped.', 'delivered', null, null],
    [
      '2024-05-23T09:12:03Z',
      '+14155552672',
      'outbound-api',
      'Your code is 481516',
      'undelivered',
      30003,
      'Unreachable destination handset',
    ],
    ['2024-05-22T08:00:00Z', TWILIO_FAKE_FROM, 'inbound', 'STOP', 'received', null, null],
    [
      '2024-05-21T14:30:12Z',
      '+14155552671',
      'outbound-api',
      'Reminder: your appointment is tomorrow at 10:00.',
      'delivered',
      null,
      null,
    ],
    ['2024-05-20T11:05:44Z', '+14155552673', 'outbound-api', 'Welcome to Acme!', 'sent', null, null],
  ];
  return rows.map(([when, to, direction, body, status, errorCode, errorMessage], i) => {
    const sid = `SM${account.sid.slice(-4)}${String(i).padStart(28, '0')}`;
    const date = rfc2822(new Date(when));
    const inbound = direction === 'inbound';
    return {
      account_sid: account.sid,
      api_version: '2010-04-01',
      body,
      date_created: date,
      date_sent: date,
      date_updated: date,
      direction: direction as TwilioMessage['direction'],
      error_code: errorCode,
      error_message: errorMessage,
      from: inbound ? '+14155552671' : TWILIO_FAKE_FROM,
      messaging_service_sid: account.defaultServiceSid,
      num_media: '0',
      num_segments: '1',
      price: '-0.00790',
      price_unit: 'USD',
      sid,
      status: status!,
      subresource_uris: { media: `${API}/Accounts/${account.sid}/Messages/${sid}/Media.json` },
      to: inbound ? TWILIO_FAKE_FROM : to,
      uri: `${API}/Accounts/${account.sid}/Messages/${sid}.json`,
    };
  });
}

/** The conformance suite's view of this fake (test/conformance/fake-contract.ts). */
export const startConformanceFake: StartConformanceFake = async () => {
  // The suite runs every example and error several times in a row; nothing runs concurrently.
  const fake = await startTwilioFake({ concurrencyLimit: 1000 });
  return {
    apiUrl: fake.url,
    credentials: { accountSid: TWILIO_FAKE_ACCOUNT_SID, authToken: TWILIO_FAKE_AUTH_TOKEN },
    rejectedCredentials: { accountSid: TWILIO_FAKE_ACCOUNT_SID, authToken: 'deadbeefdeadbeefdeadbeefdeadbeef' },
    failNext(kind) {
      const errors = {
        rate_limited: TWILIO_ERRORS.rateLimited,
        server_error: TWILIO_ERRORS.serverError,
        permission: TWILIO_ERRORS.testCredentials,
      };
      fake.failNext(1, errors[kind]);
    },
    close: () => fake.close(),
  };
};
