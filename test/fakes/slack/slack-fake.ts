// Local fake of the Slack Web API (https://slack.com/api/<method>) and of the OAuth v2
// authorize page. Wire behaviour follows docs/upstreams/slack.md §2 and §4
// ("the reference"), which cites slack-ruby/slack-api-ref (S-REF) and the official
// node SDK (S-SDK). Where the reference marks something UNCONFIRMED, or where this fake
// had to pick a behaviour the sources don't state, the comment says so: don't build hard
// assertions on those details.
//
// Methods: auth.test, chat.postMessage, conversations.list, users.list, reactions.add,
// conversations.replies, oauth.v2.access; plus GET /oauth/v2/authorize.
//
// Wire rules in short:
// - `GET|POST /api/<method>`. Args come from the query string and, for POST, from an
//   `application/x-www-form-urlencoded` (or multipart) body; structured args (`blocks`,
//   `attachments`, `metadata`) are JSON-encoded strings there.
// - `application/json` bodies are read ONLY by chat.postMessage, reactions.add and auth.test
//   (S-REF `json_input_supported`), and then the token must be in the Authorization header
//   (a `token` field in the JSON is not read). On the other methods a JSON body is not read
//   at all: the call runs with the query-string args only, so e.g. conversations.replies
//   answers `channel_not_found` (S-REF: "Value for channel was missing or invalid") and
//   conversations.list answers its default first page. This "args silently ignored"
//   behaviour is the fake's choice (the reference only says "no JSON"): UNCONFIRMED.
// - Token: `Authorization: Bearer …` or a `token` param of a form body. A `token` in the
//   query string is NOT accepted (discouraged by the reference; Slack stopped accepting it
//   for new apps): such a call answers `not_authed`.
// - Every application error is HTTP 200 `{"ok":false,"error":…}`; rate limits are HTTP 429
//   with `Retry-After` and `{"ok":false,"error":"ratelimited"}` (body UNCONFIRMED).
import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { StartConformanceFake } from '../../conformance/fake-contract.ts';
import {
  type DropOptions,
  type FakeResponse,
  type FakeServer,
  type HandlerContext,
  type RecordedRequest,
  startFakeServer,
} from '../support/fake-server.ts';

// ---- defaults ------------------------------------------------------------------------

export const SLACK_FAKE_TEAM_ID = 'T0FAKETEAM1';
export const SLACK_FAKE_TEAM_NAME = 'Fake Workspace';
export const SLACK_FAKE_TEAM_DOMAIN = 'fake-workspace';
export const SLACK_FAKE_APP_ID = 'A0FAKEAPP01';
export const SLACK_FAKE_BOT_ID = 'B0FAKEBOT01';
export const SLACK_FAKE_BOT_USER_ID = 'U0FAKEBOT01';
/** The human who "installs" the app in OAuth flows unless issueCode says otherwise. */
export const SLACK_FAKE_INSTALLER_USER_ID = 'U0FAKEADA01';

/** Bot token with every scope the implemented methods need (but NOT chat:write.public). */
export const SLACK_FAKE_BOT_TOKEN = 'xoxb-fake-1111-2222-abcdefghijklmnop';
/** Bot token with only `channels:read,users:read`, for missing_scope tests. */
export const SLACK_FAKE_READONLY_TOKEN = 'xoxb-fake-3333-4444-readonlyreadonly';
export const SLACK_FAKE_BOT_SCOPES: readonly string[] = [
  'chat:write',
  'channels:read',
  'groups:read',
  'im:read',
  'mpim:read',
  'users:read',
  'users:read.email',
  'reactions:read',
  'reactions:write',
  'channels:history',
  'groups:history',
  'im:history',
  'mpim:history',
];
export const SLACK_FAKE_READONLY_SCOPES: readonly string[] = ['channels:read', 'users:read'];

/** The default registered app has token rotation ON; re-register it to turn rotation off. */
export const SLACK_FAKE_CLIENT_ID = '1111111111.2222222222';
export const SLACK_FAKE_CLIENT_SECRET = 'fakeclientsecret0123456789abcdef';

const DEFAULT_TOKEN_LIFETIME_S = 43200; // 12 h (reference §2.7)
const CODE_LIFETIME_MS = 10 * 60 * 1000; // Slack's OAuth codes expire after 10 minutes (UNCONFIRMED for the fake's purpose)
const MAX_TEXT = 40000; // longer text is truncated (OBSERVED, reference §2.1)
const MAX_BLOCKS = 50;
const MAX_ATTACHMENTS = 100;
const MAX_PAGE_LIMIT = 1000;

// ---- public types -------------------------------------------------------------------------

export interface SlackTopic {
  value: string;
  creator: string;
  last_set: number;
}

/** A conversation as conversations.list returns it. Extra fields are returned as is. */
export interface SlackChannel {
  id: string;
  name?: string;
  is_channel?: boolean;
  is_group?: boolean;
  is_im?: boolean;
  is_mpim?: boolean;
  is_private?: boolean;
  created: number;
  creator?: string;
  is_archived?: boolean;
  is_general?: boolean;
  name_normalized?: string;
  is_shared?: boolean;
  /** Whether the app's bot is in the conversation: drives not_in_channel / visibility. */
  is_member?: boolean;
  num_members?: number;
  topic?: SlackTopic;
  purpose?: SlackTopic;
  previous_names?: string[];
  /** For IMs: the other user. */
  user?: string;
  [key: string]: unknown;
}

/** A user as users.list returns it. */
export interface SlackUser {
  id: string;
  team_id: string;
  name: string;
  deleted: boolean;
  real_name?: string;
  tz?: string;
  tz_offset?: number;
  profile: { real_name?: string; display_name?: string; email?: string; image_72?: string; [key: string]: unknown };
  is_admin?: boolean;
  is_owner?: boolean;
  is_bot: boolean;
  is_app_user: boolean;
  updated: number;
  [key: string]: unknown;
}

/**
 * A stored message. `channel` is the fake's bookkeeping (not part of the wire object).
 * Thread fields (`reply_count`, `parent_user_id`, …) and `reactions` are computed on output.
 */
export interface SlackMessage {
  channel: string;
  ts: string;
  type?: string;
  subtype?: string;
  user?: string;
  bot_id?: string;
  text?: string;
  /** Set on replies (the parent's ts). Parents get it on output once they have replies. */
  thread_ts?: string;
  blocks?: unknown[];
  attachments?: unknown[];
  [key: string]: unknown;
}

export interface PostedMessage {
  channel: string;
  ts: string;
  token: string;
  /** The args as read (blocks/attachments parsed from their JSON strings). */
  args: Record<string, unknown>;
  /** The `message` object that was returned. */
  message: Record<string, unknown>;
  postedAt: Date;
}

export interface SlackReaction {
  channel: string;
  timestamp: string;
  name: string;
  user: string;
  token: string;
  addedAt: Date;
}

export interface SlackTokenOptions {
  scopes: string[];
  teamId?: string;
  /** Date or epoch ms. After it the token answers `token_expired`. */
  expiresAt?: Date | number;
  /** Defaults: the team's bot user for bot tokens, the installer for user tokens. */
  userId?: string;
  botId?: string;
  appId?: string;
}

export interface SlackTokenInfo {
  token: string;
  kind: 'bot' | 'user';
  scopes: string[];
  teamId: string;
  userId: string;
  botId?: string;
  appId: string;
  expiresAt?: number;
  /** null = usable; otherwise the error code every call answers (token_revoked, …). */
  revokedWith: string | null;
}

export interface SlackAppOptions {
  clientId: string;
  clientSecret: string;
  rotation: boolean;
  appId?: string;
  /** Allowed redirect URLs (prefix match, as Slack allows sub-paths). Empty = any. */
  redirectUris?: string[];
}

export interface IssueCodeOptions {
  scopes: string[];
  /** User scopes: if given, `authed_user` carries a user token. */
  userScopes?: string[];
  redirectUri?: string;
  teamId?: string;
  clientId?: string;
  userId?: string;
}

export interface RateLimitOptions {
  /** Integer seconds for `Retry-After`; null omits the header. Default 1. */
  retryAfterSeconds?: number | null;
  /** Only requests to this method count (and get the 429). Default: any API method. */
  method?: string;
}

export interface SlackInjectedFailure {
  /** HTTP status, default 500. 200 simulates an `ok:false` server error such as `fatal_error`. */
  status?: number;
  /** `error` of the `{"ok":false,"error":…}` body; default by status (internal_error / service_unavailable). */
  error?: string;
  /** Replaces the whole body (string = sent as text/plain). */
  body?: unknown;
  headers?: Record<string, string>;
}

/** One parsed API call, as the fake understood it (recorded for every /api/ request). */
export interface SlackApiCall {
  method: string;
  httpMethod: string;
  /** Args the fake read (query + readable body), without `token`. */
  args: Record<string, unknown>;
  token?: string;
  tokenSource?: 'header' | 'form';
  /** What the body was and whether it was read: `json-ignored` = JSON on a non-JSON method. */
  bodyKind: 'none' | 'form' | 'multipart' | 'json' | 'json-ignored' | 'text-ignored';
  /** HTTP status and `error` (if any) of the answer. */
  status?: number;
  error?: string;
}

export interface SlackFakeOptions {
  port?: number;
}

// ---- seeds ----------------------------------------------------------------------------------

const topic = (value = ''): SlackTopic => ({
  value,
  creator: value ? SLACK_FAKE_INSTALLER_USER_ID : '',
  last_set: value ? 1600000000 : 0,
});

function channel(id: string, name: string, extra: Partial<SlackChannel> = {}): SlackChannel {
  const isPrivate = extra.is_private ?? false;
  return {
    id,
    name,
    is_channel: !isPrivate,
    is_group: isPrivate,
    is_im: false,
    is_mpim: false,
    is_private: isPrivate,
    created: 1600000000,
    creator: SLACK_FAKE_INSTALLER_USER_ID,
    is_archived: false,
    is_general: false,
    unlinked: 0,
    name_normalized: name,
    is_shared: false,
    is_org_shared: false,
    is_ext_shared: false,
    is_pending_ext_shared: false,
    context_team_id: SLACK_FAKE_TEAM_ID,
    is_member: true,
    num_members: 4,
    topic: topic(),
    purpose: topic(),
    previous_names: [],
    ...extra,
  };
}

function seedChannels(): SlackChannel[] {
  return [
    channel('C0FAKEGEN01', 'general', {
      is_general: true,
      purpose: topic('Company-wide announcements and work-based matters'),
    }),
    channel('C0FAKERND01', 'random', { purpose: topic('Non-work banter and water cooler conversation') }),
    channel('C0FAKEENG01', 'engineering', { is_private: true, num_members: 3 }),
    channel('C0FAKEANN01', 'announcements', { is_member: false, num_members: 12 }), // public, bot not in it → not_in_channel
    channel('C0FAKEOLD01', 'old-project', { is_archived: true, created: 1500000000 }),
    channel('C0FAKESEC01', 'secret-plans', { is_private: true, is_member: false, num_members: 2 }), // invisible to the bot
    {
      id: 'D0FAKEADA01',
      created: 1600000000,
      is_im: true,
      is_org_shared: false,
      context_team_id: SLACK_FAKE_TEAM_ID,
      user: SLACK_FAKE_INSTALLER_USER_ID,
      is_user_deleted: false,
      priority: 0,
      is_member: true,
    },
  ];
}

function user(id: string, name: string, realName: string, extra: Partial<SlackUser> = {}): SlackUser {
  return {
    id,
    team_id: SLACK_FAKE_TEAM_ID,
    name,
    deleted: false,
    color: '9f69e7',
    real_name: realName,
    tz: 'Europe/London',
    tz_label: 'Greenwich Mean Time',
    tz_offset: 0,
    profile: {
      real_name: realName,
      real_name_normalized: realName,
      display_name: name,
      display_name_normalized: name,
      email: `${name}@example.com`,
      image_72: `https://avatars.example.com/${id}_72.png`,
      team: SLACK_FAKE_TEAM_ID,
    },
    is_admin: false,
    is_owner: false,
    is_primary_owner: false,
    is_restricted: false,
    is_ultra_restricted: false,
    is_bot: false,
    is_app_user: false,
    updated: 1700000000,
    ...extra,
  };
}

function seedUsers(): SlackUser[] {
  return [
    user('USLACKBOT', 'slackbot', 'Slackbot', {
      is_bot: false,
      profile: { real_name: 'Slackbot', display_name: 'Slackbot' },
    }),
    user(SLACK_FAKE_INSTALLER_USER_ID, 'ada', 'Ada Lovelace', {
      is_admin: true,
      is_owner: true,
      is_primary_owner: true,
    }),
    user('U0FAKEGRC01', 'grace', 'Grace Hopper', {
      is_admin: true,
      tz: 'America/New_York',
      tz_label: 'Eastern Standard Time',
      tz_offset: -18000,
    }),
    user('U0FAKELIN01', 'linus', 'Linus Torvalds', {
      tz: 'America/Los_Angeles',
      tz_label: 'Pacific Standard Time',
      tz_offset: -28800,
    }),
    user('U0FAKEKEN01', 'ken', 'Ken Thompson', { deleted: true }),
    user(SLACK_FAKE_BOT_USER_ID, 'connector_bot', 'Connector Bot', {
      is_bot: true,
      profile: {
        real_name: 'Connector Bot',
        display_name: '',
        bot_id: SLACK_FAKE_BOT_ID,
        api_app_id: SLACK_FAKE_APP_ID,
        always_active: true,
      },
    }),
  ];
}

/** A thread in #general (parent + 3 replies), a plain message in #random, one in #engineering. */
function seedMessages(): SlackMessage[] {
  const parent = '1700000000.000100';
  return [
    {
      channel: 'C0FAKEGEN01',
      type: 'message',
      user: SLACK_FAKE_INSTALLER_USER_ID,
      text: 'Is the deploy done?',
      ts: parent,
    },
    {
      channel: 'C0FAKEGEN01',
      type: 'message',
      user: 'U0FAKEGRC01',
      text: 'Almost, running migrations',
      ts: '1700000060.000200',
      thread_ts: parent,
    },
    {
      channel: 'C0FAKEGEN01',
      type: 'message',
      user: 'U0FAKELIN01',
      text: 'Looks good from here',
      ts: '1700000120.000300',
      thread_ts: parent,
    },
    {
      channel: 'C0FAKEGEN01',
      type: 'message',
      user: 'U0FAKEGRC01',
      text: 'Done :tada:',
      ts: '1700000180.000400',
      thread_ts: parent,
    },
    { channel: 'C0FAKERND01', type: 'message', user: 'U0FAKELIN01', text: 'Coffee anyone?', ts: '1700000200.000500' },
    { channel: 'C0FAKEENG01', type: 'message', user: 'U0FAKEGRC01', text: 'Standup in 5', ts: '1700000300.000600' },
  ];
}

/** Emoji names reactions.add accepts (a small subset of Slack's standard set); settable. */
const STANDARD_EMOJI = [
  '+1',
  '-1',
  'thumbsup',
  'thumbsdown',
  'heart',
  'eyes',
  'white_check_mark',
  'heavy_check_mark',
  'x',
  'tada',
  'rocket',
  'smile',
  'smiley',
  'grinning',
  'joy',
  'laughing',
  'wink',
  'blush',
  'slightly_smiling_face',
  'thinking_face',
  'fire',
  'warning',
  'ok_hand',
  'pray',
  'clap',
  'wave',
  'raised_hands',
  '100',
  'star',
  'sparkles',
  'memo',
  'bug',
  'robot_face',
  'zap',
  'boom',
  'bulb',
  'question',
  'exclamation',
  'hourglass',
  'hourglass_flowing_sand',
  'stopwatch',
  'calendar',
  'white_circle',
  'red_circle',
  'large_green_circle',
  'large_blue_circle',
  'no_entry',
  'sos',
  'rotating_light',
  'bell',
  'lock',
  'key',
  'inbox_tray',
  'outbox_tray',
  'email',
  'envelope',
  'speech_balloon',
  'muscle',
  'sunglasses',
  'cry',
  'sob',
  'rage',
  'party_popper',
  'confetti_ball',
  'trophy',
  'medal',
  'heart_eyes',
  'see_no_evil',
  'coffee',
  'beers',
];

// ---- internals ------------------------------------------------------------------------------

interface AppInfo {
  clientId: string;
  clientSecret: string;
  rotation: boolean;
  appId: string;
  redirectUris: string[];
}

interface CodeInfo {
  clientId: string;
  scopes: string[];
  userScopes: string[];
  redirectUri?: string;
  teamId: string;
  userId: string;
  expiresAt: number;
  used: boolean;
}

interface RefreshInfo {
  clientId: string;
  kind: 'bot' | 'user';
  scopes: string[];
  teamId: string;
  userId: string;
  botId?: string;
  appId: string;
  revoked: boolean;
}

interface TeamInfo {
  id: string;
  name: string;
  domain: string;
  botUserId: string;
  botId: string;
}

type Args = Record<string, unknown>;

interface ApiRequest {
  method: string;
  args: Args;
  token?: string;
  tokenSource?: 'header' | 'form';
  warnings: string[];
  call: SlackApiCall;
}

interface MethodDef {
  /** S-REF json_input_supported. */
  json: boolean;
  /** The scope shown in `x-accepted-oauth-scopes` (informational). */
  accepted: string;
  run(this: SlackFake, req: ApiRequest, tok: SlackTokenInfo): FakeResponse;
}

class SlackError {
  constructor(
    readonly code: string,
    readonly extra: Record<string, unknown> = {},
  ) {}
}

const TS = /^\d{1,10}\.\d{1,6}$/;
const ARG_NAME = /^[A-Za-z0-9_]+$/;
const EMOJI_NAME = /^[a-z0-9_+'-]+(::skin-tone-[2-6])?$/;
const KNOWN_BLOCK_TYPES = new Set([
  'actions',
  'context',
  'divider',
  'file',
  'header',
  'image',
  'input',
  'markdown',
  'rich_text',
  'section',
  'video',
  'table',
  'context_actions',
]);
const TYPE_SCOPES: Record<string, { read: string; history: string }> = {
  public_channel: { read: 'channels:read', history: 'channels:history' },
  private_channel: { read: 'groups:read', history: 'groups:history' },
  mpim: { read: 'mpim:read', history: 'mpim:history' },
  im: { read: 'im:read', history: 'im:history' },
};

export class SlackFake {
  /** Conversations, in list order. Assign or mutate freely in tests. */
  channels: SlackChannel[] = seedChannels();
  /** Users, in list order. */
  users: SlackUser[] = seedUsers();
  /** Every message the fake knows (seeded + posted), any order. */
  messages: SlackMessage[] = seedMessages();
  /** Emoji names reactions.add accepts; `null` accepts any well-formed name. */
  emoji: Set<string> | null = new Set(STANDARD_EMOJI);
  /** Successful chat.postMessage calls, in order. */
  readonly postedMessages: PostedMessage[] = [];
  /** Successful reactions.add calls, in order (conversations.replies shows them too). */
  readonly reactions: SlackReaction[] = [];
  /** Every /api/ request as parsed, with its outcome. */
  readonly calls: SlackApiCall[] = [];
  /** Successful `grant_type=refresh_token` exchanges. */
  refreshCount = 0;
  /** All `grant_type=refresh_token` requests that passed client authentication. */
  refreshAttempts = 0;

  private tokens = new Map<string, SlackTokenInfo>();
  private apps = new Map<string, AppInfo>();
  private codes = new Map<string, CodeInfo>();
  private refreshTokens = new Map<string, RefreshInfo>();
  private teams = new Map<string, TeamInfo>();
  private forcedRateLimits: { retryAfter: number | null; method?: string }[] = [];
  private methodLimits = new Map<string, { perMinute: number }>();
  private windows = new Map<string, number[]>();
  private tokenLifetimeS = DEFAULT_TOKEN_LIFETIME_S;
  private denyAuthorize = 0;
  private refreshFailure: { error: string; remaining: number } | null = null;
  private clockOffsetMs = 0;
  private lastTs = 0; // microseconds

  private constructor(private readonly server: FakeServer) {
    this.addDefaults();
  }

  /** @internal use startSlackFake */
  static async start(options: SlackFakeOptions = {}): Promise<SlackFake> {
    let fake: SlackFake | undefined;
    const server = await startFakeServer((req, ctx) => fake!.handle(req, ctx), { port: options.port });
    fake = new SlackFake(server);
    return fake;
  }

  get url(): string {
    return this.server.url;
  }
  /** What to pass as the SDK's `slackApiUrl`. */
  get apiUrl(): string {
    return `${this.server.url}/api/`;
  }
  get requests(): RecordedRequest[] {
    return this.server.requests;
  }

  // ---- tokens --------------------------------------------------------------------------

  /** Registers (or replaces) a token. `xoxp`/`xoxe.xoxp` tokens are user tokens, others bot tokens. */
  addToken(token: string, options: SlackTokenOptions): SlackTokenInfo {
    const kind = /^(xoxe\.)?xoxp-/.test(token) ? 'user' : 'bot';
    const team = this.team(options.teamId ?? SLACK_FAKE_TEAM_ID);
    const expiresAt = options.expiresAt instanceof Date ? options.expiresAt.getTime() : options.expiresAt;
    const info: SlackTokenInfo = {
      token,
      kind,
      scopes: [...options.scopes],
      teamId: team.id,
      userId: options.userId ?? (kind === 'bot' ? team.botUserId : SLACK_FAKE_INSTALLER_USER_ID),
      botId: kind === 'bot' ? (options.botId ?? team.botId) : undefined,
      appId: options.appId ?? SLACK_FAKE_APP_ID,
      expiresAt,
      revokedWith: null,
    };
    this.tokens.set(token, info);
    return info;
  }
  /** From now on every call with this token answers `error` (token_revoked, account_inactive, invalid_auth, …). */
  revokeToken(token: string, error = 'token_revoked'): void {
    const info = this.tokens.get(token);
    if (info) info.revokedWith = error;
  }
  /** Makes a token expired right now (`token_expired`). */
  expireToken(token: string): void {
    const info = this.tokens.get(token);
    if (info) info.expiresAt = this.now() - 1;
  }
  tokenInfo(token: string): SlackTokenInfo | undefined {
    return this.tokens.get(token);
  }
  /** Moves the fake's clock (token/code expiry only; message ts stay real time). */
  advanceTime(seconds: number): void {
    this.clockOffsetMs += seconds * 1000;
  }

  // ---- OAuth ---------------------------------------------------------------------------

  registerApp(options: SlackAppOptions): void {
    this.apps.set(options.clientId, {
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      rotation: options.rotation,
      appId:
        options.appId ??
        (options.clientId === SLACK_FAKE_CLIENT_ID ? SLACK_FAKE_APP_ID : `A${hashId(options.clientId)}`),
      redirectUris: options.redirectUris ?? [],
    });
  }
  /** A one-time code, as the authorize page would redirect with. Expires after 10 minutes. */
  issueCode(options: IssueCodeOptions): string {
    const clientId = options.clientId ?? SLACK_FAKE_CLIENT_ID;
    const code = `${randomDigits(10)}.${randomDigits(13)}.${randomHex(32)}`;
    this.codes.set(code, {
      clientId,
      scopes: [...options.scopes],
      userScopes: [...(options.userScopes ?? [])],
      redirectUri: options.redirectUri,
      teamId: options.teamId ?? SLACK_FAKE_TEAM_ID,
      userId: options.userId ?? SLACK_FAKE_INSTALLER_USER_ID,
      expiresAt: this.now() + CODE_LIFETIME_MS,
      used: false,
    });
    return code;
  }
  /** The next GET /oauth/v2/authorize redirects with `error=access_denied` (user clicked Cancel). */
  denyNextAuthorize(n = 1): void {
    this.denyAuthorize += n;
  }
  /** `expires_in` of access tokens issued from now on (rotation apps only). */
  setTokenLifetime(seconds: number): void {
    this.tokenLifetimeS = seconds;
  }
  /**
   * Refresh grants fail with `error` (HTTP 200 ok:false) — for `times` requests, or until
   * `failRefreshes(null)`. The refresh token is NOT consumed by a forced failure.
   */
  failRefreshes(error: string | null = 'invalid_refresh_token', options: { times?: number } = {}): void {
    this.refreshFailure = error === null ? null : { error, remaining: options.times ?? Infinity };
  }

  // ---- failure switches ------------------------------------------------------------------

  /**
   * The next n API requests (optionally of one method) get HTTP 429 + `Retry-After`, before
   * auth and argument checks (nothing is processed). Queued failNext failures go first.
   */
  rateLimitNext(n: number, options: RateLimitOptions = {}): void {
    const retryAfter = options.retryAfterSeconds === undefined ? 1 : options.retryAfterSeconds;
    for (let i = 0; i < n; i++) this.forcedRateLimits.push({ retryAfter, method: options.method });
  }
  /** A real per-method limit (per team, sliding 60 s window); null removes it. */
  setMethodRateLimit(method: string, perMinute: number | null): void {
    if (perMinute === null) this.methodLimits.delete(method);
    else this.methodLimits.set(method, { perMinute });
    for (const key of this.windows.keys()) if (key.startsWith(`${method}\n`)) this.windows.delete(key);
  }
  /** The next n API requests get this failure (default: HTTP 500 `internal_error`) instead of being processed. */
  failNext(n: number, failure: SlackInjectedFailure = {}): void {
    const status = failure.status ?? 500;
    const error = failure.error ?? (status === 503 ? 'service_unavailable' : 'internal_error');
    this.server.failNext(n, { status, headers: failure.headers, body: failure.body ?? { ok: false, error } });
  }
  /** Destroy the socket of the next n requests without answering (network failure). */
  dropNextConnections(n: number, options?: DropOptions): void {
    this.server.dropNextConnections(n, options);
  }
  setLatency(ms: number): void {
    this.server.setLatency(ms);
  }

  /** Back to the initial state: seeds, default tokens/app, no switches, nothing recorded. */
  reset(): void {
    this.server.reset();
    this.channels = seedChannels();
    this.users = seedUsers();
    this.messages = seedMessages();
    this.emoji = new Set(STANDARD_EMOJI);
    this.postedMessages.length = 0;
    this.reactions.length = 0;
    this.calls.length = 0;
    this.refreshCount = 0;
    this.refreshAttempts = 0;
    this.tokens.clear();
    this.apps.clear();
    this.codes.clear();
    this.refreshTokens.clear();
    this.teams.clear();
    this.forcedRateLimits = [];
    this.methodLimits.clear();
    this.windows.clear();
    this.tokenLifetimeS = DEFAULT_TOKEN_LIFETIME_S;
    this.denyAuthorize = 0;
    this.refreshFailure = null;
    this.clockOffsetMs = 0;
    this.addDefaults();
  }
  close(): Promise<void> {
    return this.server.close();
  }

  private addDefaults(): void {
    this.addToken(SLACK_FAKE_BOT_TOKEN, { scopes: [...SLACK_FAKE_BOT_SCOPES] });
    this.addToken(SLACK_FAKE_READONLY_TOKEN, { scopes: [...SLACK_FAKE_READONLY_SCOPES] });
    this.registerApp({ clientId: SLACK_FAKE_CLIENT_ID, clientSecret: SLACK_FAKE_CLIENT_SECRET, rotation: true });
  }

  private now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  private team(teamId: string): TeamInfo {
    let t = this.teams.get(teamId);
    if (!t) {
      t =
        teamId === SLACK_FAKE_TEAM_ID
          ? {
              id: teamId,
              name: SLACK_FAKE_TEAM_NAME,
              domain: SLACK_FAKE_TEAM_DOMAIN,
              botUserId: SLACK_FAKE_BOT_USER_ID,
              botId: SLACK_FAKE_BOT_ID,
            }
          : {
              id: teamId,
              name: `Workspace ${teamId}`,
              domain: teamId.toLowerCase(),
              botUserId: `U${hashId(`bot:${teamId}`)}`,
              botId: `B${hashId(`bot:${teamId}`)}`,
            };
      this.teams.set(teamId, t);
    }
    return t;
  }

  // ---- request pipeline ------------------------------------------------------------------

  private async handle(req: RecordedRequest, ctx: HandlerContext): Promise<FakeResponse> {
    if (req.path === '/oauth/v2/authorize') return this.authorize(req);
    const match = /^\/api\/([^/]+)\/?$/.exec(req.path);
    if (!match) return { status: 404, body: 'Not Found' };
    if (req.method !== 'GET' && req.method !== 'POST')
      return { status: 405, headers: { allow: 'GET, POST' }, body: 'Method Not Allowed' };
    const method = decodeURIComponent(match[1]!);

    const call: SlackApiCall = { method, httpMethod: req.method, args: {}, bodyKind: 'none' };
    this.calls.push(call);
    const finish = (res: FakeResponse): FakeResponse => {
      call.status = res.status;
      const body = res.body as { ok?: boolean; error?: string } | undefined;
      if (body && typeof body === 'object' && body.ok === false) call.error = body.error;
      return { ...res, headers: { 'x-slack-req-id': randomHex(16), ...res.headers } };
    };

    const injected = ctx.takeInjectedResponse();
    if (injected) return finish(injected);

    const forced = this.forcedRateLimits.findIndex((f) => f.method === undefined || f.method === method);
    if (forced >= 0) {
      const [f] = this.forcedRateLimits.splice(forced, 1);
      return finish(rateLimited(f!.retryAfter));
    }

    const def = Object.hasOwn(METHODS, method) ? METHODS[method] : undefined;
    const parsed = await parseRequest(req, def?.json ?? false);
    if ('error' in parsed) return finish(fail(parsed.error));
    Object.assign(call, {
      args: parsed.args,
      bodyKind: parsed.bodyKind,
      token: parsed.token,
      tokenSource: parsed.tokenSource,
    });

    // unknown_method is one of the common errors, HTTP 200 per the reference (real Slack may use 404 now: UNCONFIRMED).
    if (!def && method !== 'oauth.v2.access') return finish(fail('unknown_method', { req_method: method }));
    const badName = Object.keys(parsed.args).find((k) => !ARG_NAME.test(k));
    if (badName !== undefined) return finish(fail('invalid_arg_name'));

    const apiReq: ApiRequest = {
      method,
      args: parsed.args,
      token: parsed.token,
      tokenSource: parsed.tokenSource,
      warnings: parsed.warnings,
      call,
    };
    try {
      if (method === 'oauth.v2.access') {
        const limited = this.countMethod(method, String(parsed.args.client_id ?? 'anon'));
        if (limited) return finish(limited);
        return finish(withWarnings(this.oauthV2Access(req, apiReq), apiReq.warnings));
      }

      const token = parsed.token;
      if (!token) return finish(fail('not_authed'));
      const tok = this.tokens.get(token);
      if (!tok) return finish(fail('invalid_auth'));
      if (tok.revokedWith) return finish(fail(tok.revokedWith));
      if (tok.expiresAt !== undefined && tok.expiresAt <= this.now()) return finish(fail('token_expired'));

      const limited = this.countMethod(method, tok.teamId);
      if (limited) return finish(limited);

      const res = def!.run.call(this, apiReq, tok);
      return finish(
        withWarnings(
          {
            ...res,
            headers: {
              'x-oauth-scopes': tok.scopes.join(','),
              ...(def!.accepted ? { 'x-accepted-oauth-scopes': def!.accepted } : {}),
              ...res.headers,
            },
          },
          apiReq.warnings,
        ),
      );
    } catch (err) {
      if (err instanceof SlackError) return finish(fail(err.code, err.extra));
      throw err;
    }
  }

  /** Per-method sliding-window limit; returns the 429 when exceeded. */
  private countMethod(method: string, bucket: string): FakeResponse | undefined {
    const limit = this.methodLimits.get(method);
    if (!limit) return undefined;
    const key = `${method}\n${bucket}`;
    const now = Date.now();
    const hits = (this.windows.get(key) ?? []).filter((t) => now - t < 60_000);
    this.windows.set(key, hits);
    if (hits.length >= limit.perMinute) {
      const retryAfter = Math.max(1, Math.ceil((hits[0]! + 60_000 - now) / 1000));
      return rateLimited(retryAfter);
    }
    hits.push(now);
    return undefined;
  }

  // ---- scopes & lookups -----------------------------------------------------------------------

  private requireScope(tok: SlackTokenInfo, needed: string[]): void {
    const missing = needed.filter((s) => !tok.scopes.includes(s));
    if (missing.length > 0)
      throw new SlackError('missing_scope', { needed: missing.join(','), provided: tok.scopes.join(',') });
  }

  private channelType(ch: SlackChannel): keyof typeof TYPE_SCOPES {
    if (ch.is_im) return 'im';
    if (ch.is_mpim) return 'mpim';
    return ch.is_private ? 'private_channel' : 'public_channel';
  }

  /** Private channels, IMs and MPIMs the bot isn't in don't exist for it. */
  private visible(ch: SlackChannel): boolean {
    return this.channelType(ch) === 'public_channel' || ch.is_member === true;
  }

  /** By ID, or (allowName) by name with or without '#', or a user ID → the IM with that user. */
  private findChannel(ref: string | undefined, { allowName }: { allowName: boolean }): SlackChannel {
    if (ref === undefined) throw new SlackError('channel_not_found');
    let ch = this.channels.find((c) => c.id === ref);
    if (!ch && allowName) {
      const name = ref.replace(/^#/, '');
      ch = this.channels.find((c) => c.name === name && !c.is_im);
      if (!ch && /^[UW][A-Z0-9]+$/.test(ref)) ch = this.channels.find((c) => c.is_im && c.user === ref);
    }
    if (!ch || !this.visible(ch)) throw new SlackError('channel_not_found');
    return ch;
  }

  private nextTs(): string {
    let micros = Date.now() * 1000 + randomInt(0, 1000); // ms clock + random µs, strictly increasing
    if (micros <= this.lastTs) micros = this.lastTs + 1;
    this.lastTs = micros;
    const s = String(micros);
    return `${s.slice(0, -6)}.${s.slice(-6)}`;
  }

  // ---- methods ------------------------------------------------------------------------------

  /** @internal */
  authTest(_req: ApiRequest, tok: SlackTokenInfo): FakeResponse {
    const team = this.team(tok.teamId);
    const u = this.users.find((x) => x.id === tok.userId);
    const body: Record<string, unknown> = {
      ok: true,
      url: `https://${team.domain}.slack.com/`,
      team: team.name,
      user: u?.name ?? (tok.kind === 'bot' ? 'bot' : 'user'),
      team_id: team.id,
      user_id: tok.userId,
    };
    if (tok.botId) body.bot_id = tok.botId;
    body.is_enterprise_install = false;
    if (tok.expiresAt !== undefined) body.expires_in = Math.max(0, Math.floor((tok.expiresAt - this.now()) / 1000));
    return { status: 200, body };
  }

  /** @internal */
  chatPostMessage(req: ApiRequest, tok: SlackTokenInfo): FakeResponse {
    this.requireScope(tok, ['chat:write']);
    const a = req.args;
    const ch = this.findChannel(str(a, 'channel'), { allowName: true });
    if (ch.is_archived) throw new SlackError('is_archived');
    if (!ch.is_member && !(this.channelType(ch) === 'public_channel' && tok.scopes.includes('chat:write.public'))) {
      throw new SlackError('not_in_channel');
    }

    let text = str(a, 'text');
    const markdown = str(a, 'markdown_text');
    const blocks = parseBlocks(a.blocks);
    const attachments = parseAttachments(a.attachments);
    if (text === undefined && markdown === undefined && !blocks && !attachments) throw new SlackError('no_text');
    if (markdown !== undefined && (text !== undefined || blocks)) throw new SlackError('markdown_text_conflict');
    if (text !== undefined && text.length > MAX_TEXT) text = text.slice(0, MAX_TEXT); // truncated, not rejected (OBSERVED)
    let metadata: unknown;
    if (a.metadata !== undefined) {
      metadata = typeof a.metadata === 'string' ? tryJson(a.metadata) : a.metadata;
      if (!isObject(metadata) || typeof metadata.event_type !== 'string')
        throw new SlackError('invalid_metadata_format');
    }

    // thread_ts: a reply to a reply joins the parent's thread. An unknown thread_ts is stored
    // as given (Slack documents no error for it): UNCONFIRMED.
    let threadTs = str(a, 'thread_ts');
    let parentUser: string | undefined;
    if (threadTs !== undefined) {
      const target = this.messages.find((m) => m.channel === ch.id && m.ts === threadTs);
      if (target?.thread_ts && target.thread_ts !== target.ts) threadTs = target.thread_ts;
      parentUser = this.messages.find((m) => m.channel === ch.id && m.ts === threadTs)?.user;
    }

    const ts = this.nextTs();
    const team = this.team(tok.teamId);
    const message: Record<string, unknown> = { type: 'message' };
    if (tok.kind === 'bot')
      Object.assign(message, { subtype: 'bot_message', user: tok.userId, bot_id: tok.botId, app_id: tok.appId });
    else message.user = tok.userId;
    message.text = text ?? markdown ?? '';
    message.team = team.id;
    if (blocks) message.blocks = blocks;
    if (attachments) message.attachments = attachments.map((att, i) => ({ id: i + 1, ...(att as object) }));
    if (metadata !== undefined) message.metadata = metadata;
    for (const k of ['username', 'icon_emoji', 'icon_url'] as const)
      if (str(a, k) !== undefined) message[k] = str(a, k);
    if (threadTs !== undefined) {
      message.thread_ts = threadTs;
      if (parentUser) message.parent_user_id = parentUser;
    }
    message.ts = ts;

    this.messages.push({ channel: ch.id, ...(message as { ts: string }) });
    const args = { ...a, ...(blocks ? { blocks } : {}), ...(attachments ? { attachments } : {}) };
    this.postedMessages.push({ channel: ch.id, ts, token: req.token!, args, message, postedAt: new Date() });
    return { status: 200, body: { ok: true, channel: ch.id, ts, message } };
  }

  /** @internal */
  conversationsList(req: ApiRequest, tok: SlackTokenInfo): FakeResponse {
    const a = req.args;
    const types = (str(a, 'types') ?? 'public_channel')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    if (types.length === 0 || types.some((t) => !(t in TYPE_SCOPES))) throw new SlackError('invalid_types');
    // Needs the read scope of every requested type (the fake's reading of "any that match the requested types").
    this.requireScope(tok, [...new Set(types.map((t) => TYPE_SCOPES[t]!.read))]);
    const limit = parseLimit(a.limit, 100, { rejectAbove: MAX_PAGE_LIMIT });
    const excludeArchived = bool(a, 'exclude_archived');
    const items = this.channels.filter(
      (c) => types.includes(this.channelType(c)) && this.visible(c) && !(excludeArchived && c.is_archived),
    );
    const { page, nextCursor } = paginate(items, (c) => c.id, 'team', str(a, 'cursor'), limit);
    return {
      status: 200,
      body: { ok: true, channels: page.map((c) => ({ ...c })), response_metadata: { next_cursor: nextCursor } },
    };
  }

  /** @internal */
  usersList(req: ApiRequest, tok: SlackTokenInfo): FakeResponse {
    this.requireScope(tok, ['users:read']);
    const a = req.args;
    // No limit: Slack tries to return everyone (may fail with limit_required on big teams); the fake returns all.
    const limit = parseLimit(a.limit, Math.max(1, this.users.length), { clampAt: MAX_PAGE_LIMIT });
    const { page, nextCursor } = paginate(this.users, (u) => u.id, 'user', str(a, 'cursor'), limit);
    const withEmail = tok.scopes.includes('users:read.email'); // email needs users:read.email (UNCONFIRMED, well known)
    const locale = bool(a, 'include_locale');
    const members = page.map((u) => {
      const m: Record<string, unknown> = { ...u, profile: { ...u.profile } };
      if (!withEmail) delete (m.profile as Record<string, unknown>).email;
      if (locale) m.locale = 'en-US';
      return m;
    });
    return {
      status: 200,
      body: {
        ok: true,
        members,
        cache_ts: Math.floor(Date.now() / 1000),
        response_metadata: { next_cursor: nextCursor },
      },
    };
  }

  /** @internal */
  reactionsAdd(req: ApiRequest, tok: SlackTokenInfo): FakeResponse {
    this.requireScope(tok, ['reactions:write']);
    const a = req.args;
    const channelId = str(a, 'channel');
    const timestamp = str(a, 'timestamp');
    let name = str(a, 'name');
    // S-REF: no_item_specified = "combination of channel and timestamp was not specified".
    if (channelId === undefined || timestamp === undefined) throw new SlackError('no_item_specified');
    if (name === undefined || !EMOJI_NAME.test(name)) throw new SlackError('invalid_name'); // ':thumbsup:' with colons → invalid_name (UNCONFIRMED)
    const base = name.replace(/::skin-tone-[2-6]$/, '');
    if (this.emoji && !this.emoji.has(base)) throw new SlackError('invalid_name');
    const ch = this.findChannel(channelId, { allowName: false });
    if (ch.is_archived) throw new SlackError('is_archived');
    if (!TS.test(timestamp)) throw new SlackError('bad_timestamp');
    if (!this.messages.some((m) => m.channel === ch.id && m.ts === timestamp))
      throw new SlackError('message_not_found');
    // Slack stores the canonical alias (reactions.get shows "+1" for "thumbsup"), so fake.reactions does too.
    name = name === 'thumbsup' ? '+1' : name === 'thumbsdown' ? '-1' : name;
    if (
      this.reactions.some(
        (r) => r.channel === ch.id && r.timestamp === timestamp && r.name === name && r.user === tok.userId,
      )
    ) {
      throw new SlackError('already_reacted');
    }
    this.reactions.push({ channel: ch.id, timestamp, name, user: tok.userId, token: req.token!, addedAt: new Date() });
    return { status: 200, body: { ok: true } };
  }

  /** @internal */
  conversationsReplies(req: ApiRequest, tok: SlackTokenInfo): FakeResponse {
    const a = req.args;
    const allHistory = Object.values(TYPE_SCOPES).map((s) => s.history);
    if (!allHistory.some((s) => tok.scopes.includes(s))) {
      throw new SlackError('missing_scope', { needed: allHistory.join(','), provided: tok.scopes.join(',') });
    }
    // S-REF: channel_not_found = "Value for channel was missing or invalid"; thread_not_found = same for ts.
    const ch = this.findChannel(str(a, 'channel'), { allowName: false });
    this.requireScope(tok, [TYPE_SCOPES[this.channelType(ch)]!.history]);
    // A public channel the bot isn't in: not_in_channel is common in practice (UNCONFIRMED for this method).
    if (!ch.is_member) throw new SlackError('not_in_channel');
    const ts = str(a, 'ts');
    if (ts === undefined || !TS.test(ts)) throw new SlackError('thread_not_found');
    const target = this.messages.find((m) => m.channel === ch.id && m.ts === ts);
    if (!target) throw new SlackError('thread_not_found');
    const parentTs = target.thread_ts ?? target.ts;
    const parent = this.messages.find((m) => m.channel === ch.id && m.ts === parentTs);
    if (!parent) throw new SlackError('thread_not_found');

    const oldest = str(a, 'oldest');
    const latest = str(a, 'latest');
    if (oldest !== undefined && !TS.test(oldest) && !/^\d+$/.test(oldest)) throw new SlackError('invalid_ts_oldest');
    if (latest !== undefined && !TS.test(latest) && !/^\d+$/.test(latest)) throw new SlackError('invalid_ts_latest');
    const inclusive = bool(a, 'inclusive');
    const lo = oldest === undefined ? -Infinity : Number(oldest);
    const hi = latest === undefined ? Infinity : Number(latest);
    const inRange = (t: number) => (inclusive ? t >= lo && t <= hi : t > lo && t < hi);

    const allReplies = this.threadReplies(ch.id, parent.ts);
    const replies = allReplies.filter((m) => inRange(Number(m.ts)));
    // The parent comes first on the first page only; continuation pages hold replies only
    // (OBSERVED 3rd-party; UNCONFIRMED). `limit` counts the parent on the first page.
    const thread = [parent, ...replies];
    const limit = parseLimit(a.limit, 1000, { clampAt: MAX_PAGE_LIMIT });
    const { page, nextCursor } = paginate(thread, (m) => m.ts.replace('.', ''), 'next_ts', str(a, 'cursor'), limit);
    const messages = page.map((m) => this.renderMessage(m, m === parent ? allReplies : undefined, parent));
    return {
      status: 200,
      body: { ok: true, messages, has_more: nextCursor !== '', response_metadata: { next_cursor: nextCursor } },
    };
  }

  private threadReplies(channelId: string, parentTs: string): SlackMessage[] {
    return this.messages
      .filter((m) => m.channel === channelId && m.thread_ts === parentTs && m.ts !== parentTs)
      .sort((x, y) => compareTs(x.ts, y.ts));
  }

  /** Wire form of a stored message: no `channel`; thread fields and reactions computed. */
  private renderMessage(
    m: SlackMessage,
    replies: SlackMessage[] | undefined,
    parent: SlackMessage,
  ): Record<string, unknown> {
    const { channel: _channel, ...out } = m;
    const o: Record<string, unknown> = out;
    if (replies && replies.length > 0) {
      const users = [...new Set(replies.map((r) => r.user).filter((u): u is string => typeof u === 'string'))];
      Object.assign(o, {
        thread_ts: m.ts,
        reply_count: replies.length,
        reply_users_count: users.length,
        latest_reply: replies[replies.length - 1]!.ts,
        reply_users: users,
        is_locked: false,
        subscribed: false,
      });
    } else if (m !== parent && parent.user && o.parent_user_id === undefined) {
      o.parent_user_id = parent.user;
    }
    const rs = this.reactions.filter((r) => r.channel === m.channel && r.timestamp === m.ts);
    if (rs.length > 0) {
      const byName = new Map<string, string[]>();
      for (const r of rs) byName.set(r.name, [...(byName.get(r.name) ?? []), r.user]);
      o.reactions = [...byName].map(([name, users]) => ({ name, users, count: users.length }));
    }
    return o;
  }

  // ---- OAuth v2 ---------------------------------------------------------------------------

  /** GET /oauth/v2/authorize: simulates the user clicking Allow (or Cancel after denyNextAuthorize). */
  private authorize(req: RecordedRequest): FakeResponse {
    if (req.method !== 'GET') return { status: 405, headers: { allow: 'GET' }, body: 'Method Not Allowed' };
    const q = req.query;
    const page = (msg: string): FakeResponse => ({
      status: 400,
      headers: { 'content-type': 'text/html; charset=utf-8' },
      body: `<!DOCTYPE html><html><body><h1>Something went wrong</h1><p>${msg}</p></body></html>`,
    });
    const app = q.client_id ? this.apps.get(q.client_id) : undefined;
    if (!app) return page('invalid_client_id'); // Slack shows an error page; nothing is redirected
    let redirect = q.redirect_uri || undefined;
    if (
      redirect !== undefined &&
      app.redirectUris.length > 0 &&
      !app.redirectUris.some((u) => redirect!.startsWith(u))
    ) {
      return page('bad_redirect_uri');
    }
    redirect ??= app.redirectUris[0];
    if (redirect === undefined) return page('bad_redirect_uri: no redirect_uri and none configured');
    let target: URL;
    try {
      target = new URL(redirect);
    } catch {
      return page('bad_redirect_uri');
    }
    const scopes = splitScopes(q.scope);
    const userScopes = splitScopes(q.user_scope);
    if (scopes.length === 0 && userScopes.length === 0) return page('invalid_scope: no scopes requested');

    if (this.denyAuthorize > 0) {
      this.denyAuthorize--;
      target.searchParams.set('error', 'access_denied'); // value typical, UNCONFIRMED (reference §2.7)
    } else {
      const code = this.issueCode({
        clientId: app.clientId,
        scopes,
        userScopes,
        redirectUri: q.redirect_uri || undefined,
        teamId: q.team || undefined,
      });
      target.searchParams.set('code', code);
    }
    if (q.state !== undefined) target.searchParams.set('state', q.state);
    return { status: 302, headers: { location: target.toString(), 'cache-control': 'no-store' }, body: '' };
  }

  /** POST /api/oauth.v2.access: code exchange and token refresh (form only). */
  private oauthV2Access(httpReq: RecordedRequest, req: ApiRequest): FakeResponse {
    const a = req.args;
    // Client credentials: HTTP Basic (preferred by Slack) or client_id + client_secret args.
    let clientId = str(a, 'client_id');
    let clientSecret = str(a, 'client_secret');
    const basic = /^Basic\s+(.+)$/i.exec(httpReq.headers.authorization ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon >= 0) {
        clientId = decodeURIComponent(decoded.slice(0, colon));
        clientSecret = decodeURIComponent(decoded.slice(colon + 1));
      }
    }
    const app = clientId ? this.apps.get(clientId) : undefined;
    if (!app) return fail('invalid_client_id');
    if (clientSecret !== app.clientSecret) return fail('bad_client_secret');

    const grant = str(a, 'grant_type') ?? 'authorization_code';
    if (grant === 'refresh_token') return this.refresh(app, str(a, 'refresh_token'));
    if (grant !== 'authorization_code') return fail('invalid_grant_type');

    const codeArg = str(a, 'code');
    const code = codeArg ? this.codes.get(codeArg) : undefined;
    if (!code || code.used || code.clientId !== app.clientId || code.expiresAt <= this.now())
      return fail('invalid_code');
    const redirect = str(a, 'redirect_uri');
    if (code.redirectUri !== undefined && redirect !== code.redirectUri) return fail('bad_redirect_uri');
    if (
      code.redirectUri === undefined &&
      redirect !== undefined &&
      app.redirectUris.length > 0 &&
      !app.redirectUris.some((u) => redirect.startsWith(u))
    ) {
      return fail('bad_redirect_uri');
    }
    if (code.scopes.length === 0 && code.userScopes.length === 0) return fail('no_scopes');
    code.used = true;

    const team = this.team(code.teamId);
    const body: Record<string, unknown> = { ok: true, app_id: app.appId };
    const authedUser: Record<string, unknown> = { id: code.userId };
    if (code.userScopes.length > 0) {
      const t = this.mint(app, 'user', code.userScopes, team, code.userId);
      Object.assign(authedUser, { scope: code.userScopes.join(','), access_token: t.accessToken, token_type: 'user' });
      if (t.refreshToken) Object.assign(authedUser, { expires_in: t.expiresIn, refresh_token: t.refreshToken });
    }
    body.authed_user = authedUser;
    if (code.scopes.length > 0) {
      const t = this.mint(app, 'bot', code.scopes, team, team.botUserId, team.botId);
      Object.assign(body, {
        scope: code.scopes.join(','),
        token_type: 'bot',
        access_token: t.accessToken,
        bot_user_id: team.botUserId,
      });
      if (t.refreshToken) Object.assign(body, { expires_in: t.expiresIn, refresh_token: t.refreshToken });
    }
    Object.assign(body, { team: { id: team.id, name: team.name }, enterprise: null, is_enterprise_install: false });
    return { status: 200, body };
  }

  private refresh(app: AppInfo, refreshToken: string | undefined): FakeResponse {
    this.refreshAttempts++;
    if (this.refreshFailure && this.refreshFailure.remaining > 0) {
      this.refreshFailure.remaining--;
      return fail(this.refreshFailure.error);
    }
    const info = refreshToken ? this.refreshTokens.get(refreshToken) : undefined;
    if (!info || info.revoked || info.clientId !== app.clientId) return fail('invalid_refresh_token');
    // "The refresh token is then revoked, and a new refresh token is used…" (reference §2.7).
    // The previous access token stays valid until it expires.
    info.revoked = true;
    const team = this.team(info.teamId);
    const t = this.mint(app, info.kind, info.scopes, team, info.userId, info.botId);
    this.refreshCount++;
    const body: Record<string, unknown> = {
      ok: true,
      app_id: app.appId,
      scope: info.scopes.join(','),
      token_type: info.kind,
      access_token: t.accessToken,
      refresh_token: t.refreshToken,
      expires_in: t.expiresIn,
    };
    if (info.kind === 'bot') body.bot_user_id = info.userId;
    else body.user_id = info.userId;
    Object.assign(body, { team: { id: team.id, name: team.name }, enterprise: null, is_enterprise_install: false });
    return { status: 200, body };
  }

  /** Creates and registers an access token (+ refresh token when the app rotates). */
  private mint(app: AppInfo, kind: 'bot' | 'user', scopes: string[], team: TeamInfo, userId: string, botId?: string) {
    const prefix = kind === 'bot' ? 'xoxb' : 'xoxp';
    let accessToken: string;
    let refreshToken: string | undefined;
    let expiresIn: number | undefined;
    if (app.rotation) {
      accessToken = `xoxe.${prefix}-1-${randomAlnum(120)}`;
      refreshToken = `xoxe-1-${randomAlnum(140)}`;
      expiresIn = this.tokenLifetimeS;
      this.refreshTokens.set(refreshToken, {
        clientId: app.clientId,
        kind,
        scopes: [...scopes],
        teamId: team.id,
        userId,
        botId,
        appId: app.appId,
        revoked: false,
      });
    } else {
      accessToken = `${prefix}-${randomDigits(11)}-${randomDigits(13)}-${randomAlnum(24)}`;
    }
    this.addToken(accessToken, {
      scopes,
      teamId: team.id,
      userId,
      botId,
      appId: app.appId,
      expiresAt: expiresIn === undefined ? undefined : this.now() + expiresIn * 1000,
    });
    return { accessToken, refreshToken, expiresIn };
  }
}

const METHODS: Record<string, MethodDef> = {
  'auth.test': { json: true, accepted: '', run: SlackFake.prototype.authTest },
  'chat.postMessage': { json: true, accepted: 'chat:write', run: SlackFake.prototype.chatPostMessage },
  'conversations.list': {
    json: false,
    accepted: 'channels:read,groups:read,mpim:read,im:read',
    run: SlackFake.prototype.conversationsList,
  },
  'users.list': { json: false, accepted: 'users:read', run: SlackFake.prototype.usersList },
  'reactions.add': { json: true, accepted: 'reactions:write', run: SlackFake.prototype.reactionsAdd },
  'conversations.replies': {
    json: false,
    accepted: 'channels:history,groups:history,mpim:history,im:history',
    run: SlackFake.prototype.conversationsReplies,
  },
};

export async function startSlackFake(options?: SlackFakeOptions): Promise<SlackFake> {
  return SlackFake.start(options);
}

// ---- helpers ---------------------------------------------------------------------------------

function fail(error: string, extra: Record<string, unknown> = {}): FakeResponse {
  return { status: 200, body: { ok: false, error, ...extra } };
}

function rateLimited(retryAfter: number | null): FakeResponse {
  const headers: Record<string, string> = {};
  if (retryAfter !== null) headers['retry-after'] = String(Math.floor(retryAfter));
  return { status: 429, headers, body: { ok: false, error: 'ratelimited' } };
}

/** Adds `warning` + `response_metadata.warnings` to successful answers. */
function withWarnings(res: FakeResponse, warnings: string[]): FakeResponse {
  const body = res.body as Record<string, unknown> | undefined;
  if (warnings.length === 0 || !body || body.ok !== true) return res;
  const meta = isObject(body.response_metadata) ? body.response_metadata : {};
  return { ...res, body: { ...body, warning: warnings.join(','), response_metadata: { ...meta, warnings } } };
}

type Parsed =
  | { error: string }
  | {
      args: Args;
      bodyKind: SlackApiCall['bodyKind'];
      token?: string;
      tokenSource?: 'header' | 'form';
      warnings: string[];
    };

/**
 * Reads args the way Slack does: query string always; form/multipart bodies always; JSON
 * bodies only on JSON-capable methods. Body-level errors follow the common error list.
 */
async function parseRequest(req: RecordedRequest, jsonCapable: boolean): Promise<Parsed> {
  const args: Args = { ...req.query };
  delete args.token; // query-string tokens are not accepted (see the header comment)
  const warnings: string[] = [];
  let bodyKind: SlackApiCall['bodyKind'] = 'none';
  let formToken: string | undefined;

  const contentType = req.headers['content-type'];
  if (req.method === 'POST' && !contentType && req.rawBody.length > 0) return { error: 'missing_post_type' };
  if (req.method === 'POST' && contentType) {
    const [mimeRaw, ...params] = contentType.split(';');
    const mime = mimeRaw!.trim().toLowerCase();
    const charset = params
      .map((p) => p.trim().split('='))
      .find(([k]) => k?.toLowerCase() === 'charset')?.[1]
      ?.replace(/"/g, '')
      .toLowerCase();
    if (charset !== undefined && !['utf-8', 'utf8', 'iso-8859-1'].includes(charset))
      return { error: 'invalid_charset' };

    if (mime === 'application/x-www-form-urlencoded') {
      bodyKind = 'form';
      const form = Object.fromEntries(new URLSearchParams(req.rawBody.toString('utf8')));
      formToken = form.token || undefined;
      delete form.token;
      Object.assign(args, form);
      if (charset !== undefined) warnings.push('superfluous_charset'); // OBSERVED (reference §2.0)
    } else if (mime === 'multipart/form-data') {
      bodyKind = 'multipart';
      let form: FormData;
      try {
        form = await new Request('http://fake.local/', {
          method: 'POST',
          headers: { 'content-type': contentType },
          body: req.rawBody,
        }).formData();
      } catch {
        return { error: 'invalid_form_data' };
      }
      for (const [k, v] of form) {
        if (typeof v !== 'string') continue;
        if (k === 'token') formToken = v || undefined;
        else args[k] = v;
      }
    } else if (mime === 'application/json') {
      if (!jsonCapable) {
        bodyKind = 'json-ignored';
      } else {
        bodyKind = 'json';
        let value: unknown = req.json;
        if (req.rawBody.length === 0) value = {};
        else if (value === undefined) {
          try {
            value = JSON.parse(req.rawBody.toString('utf8'));
          } catch {
            return { error: 'invalid_json' }; // error code UNCONFIRMED
          }
        }
        if (!isObject(value)) return { error: 'invalid_json' }; // UNCONFIRMED
        const { token: _ignored, ...rest } = value; // a token in a JSON body is not read
        Object.assign(args, rest);
      }
    } else if (mime === 'text/plain') {
      bodyKind = 'text-ignored'; // an accepted content type, but nothing in it is read (UNCONFIRMED)
    } else {
      return { error: 'invalid_post_type' };
    }
  }

  const header = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  if (header) return { args, bodyKind, token: header, tokenSource: 'header', warnings };
  if (formToken) return { args, bodyKind, token: formToken, tokenSource: 'form', warnings };
  return { args, bodyKind, warnings };
}

/** A string arg; numbers/booleans are stringified; '' counts as missing. */
function str(args: Args, name: string): string | undefined {
  const v = args[name];
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function bool(args: Args, name: string): boolean {
  const v = args[name];
  return v === true || v === 1 || v === 'true' || v === '1';
}

function parseLimit(raw: unknown, fallback: number, opts: { rejectAbove?: number; clampAt?: number }): number {
  if (raw === undefined || raw === null || raw === '') return fallback;
  const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isInteger(n) || n < 0) throw new SlackError('invalid_limit');
  if (n === 0) return fallback; // limit=0 → default page size (UNCONFIRMED)
  if (opts.rejectAbove !== undefined && n > opts.rejectAbove) throw new SlackError('invalid_limit');
  return opts.clampAt !== undefined ? Math.min(n, opts.clampAt) : n;
}

/**
 * Cursor pagination with opaque base64 cursors `base64("<prefix>:<key of the next item>")`,
 * like Slack's (`dGVhbTpDMDYxRkE1UEI=` = `team:C061FA5PB`). `""` on the last page.
 */
function paginate<T>(
  items: T[],
  keyOf: (item: T) => string,
  prefix: string,
  cursor: string | undefined,
  limit: number,
) {
  let start = 0;
  if (cursor !== undefined) {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(cursor)) throw new SlackError('invalid_cursor');
    const decoded = Buffer.from(cursor, 'base64').toString('utf8');
    if (!decoded.startsWith(`${prefix}:`)) throw new SlackError('invalid_cursor');
    const key = decoded.slice(prefix.length + 1);
    start = items.findIndex((item) => keyOf(item) === key);
    if (start < 0) throw new SlackError('invalid_cursor');
  }
  const page = items.slice(start, start + limit);
  const next = items[start + limit];
  const nextCursor = next === undefined ? '' : Buffer.from(`${prefix}:${keyOf(next)}`).toString('base64');
  return { page, nextCursor };
}

function parseStructured(raw: unknown, formatError: string): unknown[] | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  let value: unknown = raw;
  if (typeof raw === 'string') {
    value = tryJson(raw);
    if (value === undefined) throw new SlackError(formatError);
  }
  if (!Array.isArray(value)) throw new SlackError(formatError);
  return value.length === 0 ? undefined : value;
}

function parseBlocks(raw: unknown): unknown[] | undefined {
  const blocks = parseStructured(raw, 'invalid_blocks_format');
  if (!blocks) return undefined;
  if (blocks.length > MAX_BLOCKS) throw new SlackError('invalid_blocks');
  for (const b of blocks) {
    if (!isObject(b) || typeof b.type !== 'string' || !KNOWN_BLOCK_TYPES.has(b.type))
      throw new SlackError('invalid_blocks');
    if (b.type === 'section' && b.text === undefined && b.fields === undefined) throw new SlackError('invalid_blocks');
    if (b.type === 'header' && !(isObject(b.text) && b.text.type === 'plain_text'))
      throw new SlackError('invalid_blocks');
  }
  return blocks;
}

function parseAttachments(raw: unknown): unknown[] | undefined {
  const atts = parseStructured(raw, 'invalid_attachments'); // error code UNCONFIRMED
  if (!atts) return undefined;
  if (atts.length > MAX_ATTACHMENTS) throw new SlackError('too_many_attachments');
  if (atts.some((x) => !isObject(x))) throw new SlackError('invalid_attachments');
  return atts;
}

function splitScopes(raw: string | undefined): string[] {
  return (raw ?? '').split(/[,\s]+/).filter(Boolean);
}

function compareTs(x: string, y: string): number {
  const [xs = '0', xf = '0'] = x.split('.');
  const [ys = '0', yf = '0'] = y.split('.');
  return Number(xs) - Number(ys) || Number(xf.padEnd(6, '0')) - Number(yf.padEnd(6, '0'));
}

function tryJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function randomDigits(n: number): string {
  let s = String(randomInt(1, 10));
  while (s.length < n) s += String(randomInt(0, 10));
  return s;
}

function randomHex(n: number): string {
  return randomBytes(Math.ceil(n / 2))
    .toString('hex')
    .slice(0, n);
}

function randomAlnum(n: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let s = '';
  for (const b of randomBytes(n)) s += alphabet[b % alphabet.length];
  return s;
}

/** Stable Slack-looking ID body (uppercase alnum) derived from a string. */
function hashId(seed: string): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, 10).toUpperCase();
}

/** The conformance suite's view of this fake (test/conformance/fake-contract.ts). */
export const startConformanceFake: StartConformanceFake = async () => {
  const fake = await startSlackFake();
  return {
    apiUrl: `${fake.url}/api`,
    credentials: { botToken: SLACK_FAKE_BOT_TOKEN },
    rejectedCredentials: { botToken: 'xoxb-0000-0000-revokedrevokedrevoked' },
    failNext(kind) {
      if (kind === 'rate_limited') fake.rateLimitNext(1, { retryAfterSeconds: 1 });
      else if (kind === 'server_error') fake.failNext(1, { status: 500 });
      else
        fake.failNext(1, {
          status: 200,
          body: { ok: false, error: 'missing_scope', needed: 'chat:write', provided: 'users:read' },
        });
    },
    close: () => fake.close(),
  };
};
