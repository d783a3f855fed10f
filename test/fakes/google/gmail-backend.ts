// The Gmail API v1 part of the Google fake: users.getProfile, users.messages.send, .list, .get on
// the signed-in user's mailbox (docs/upstreams/google.md §3). Where the reference marks something
// UNCONFIRMED, or where the fake picks a behaviour the sources don't state, the comment says so.
import { randomBytes } from 'node:crypto';
import type { FakeResponse, RecordedRequest } from '../support/fake-server.ts';
import { insufficientScope, invalidArgument, notFound, permissionDenied, unknownPath } from './google-errors-wire.ts';
import { bodyText, decodeWords, header, leaves, type MimeHeader, type MimePart, parseMime } from './mime.ts';

export const GMAIL_SCOPES = {
  mail: 'https://mail.google.com/',
  send: 'https://www.googleapis.com/auth/gmail.send',
  compose: 'https://www.googleapis.com/auth/gmail.compose',
  modify: 'https://www.googleapis.com/auth/gmail.modify',
  readonly: 'https://www.googleapis.com/auth/gmail.readonly',
  metadata: 'https://www.googleapis.com/auth/gmail.metadata',
} as const;

// Accepted scopes per method, from the discovery document (G-DISC; profile from the full document).
const G = GMAIL_SCOPES;
const METHOD_SCOPES = {
  profile: [G.mail, G.readonly, G.modify, G.compose, G.metadata],
  send: [G.mail, 'https://www.googleapis.com/auth/gmail.addons.current.action.compose', G.compose, G.modify, G.send],
  list: [G.mail, G.metadata, G.modify, G.readonly],
  get: [
    G.mail,
    'https://www.googleapis.com/auth/gmail.addons.current.message.action',
    'https://www.googleapis.com/auth/gmail.addons.current.message.metadata',
    'https://www.googleapis.com/auth/gmail.addons.current.message.readonly',
    G.metadata,
    G.modify,
    G.readonly,
  ],
} as const;

export interface GmailMessage {
  id: string;
  threadId: string;
  labelIds: string[];
  /** The RFC 5322 message as stored. */
  raw: Buffer;
  /** Epoch ms. */
  internalDate: number;
  historyId: number;
}

/** One successful users.messages.send, as the fake understood it. */
export interface SentGmailMessage {
  id: string;
  threadId: string;
  /** The `threadId` of the request body, if any. */
  requestedThreadId?: string;
  /** The decoded `raw` bytes as text. */
  rawText: string;
  /** The parsed message: headers as written (encoded-words left encoded), parts. */
  mime: MimePart;
  /** Header values with encoded-words decoded, by lowercased name (repeated headers joined by ", "). */
  headers: Record<string, string>;
  /** Decoded text/plain and text/html leaves (null when absent). */
  text: string | null;
  html: string | null;
  userEmail: string;
  accessToken: string;
}

export interface GmailAuth {
  email: string;
  scopes: readonly string[];
  token: string;
}

/** Fixed ids of the seeded messages (16 hex digits, the shape of Gmail ids, OBSERVED). */
export const GMAIL_FAKE_MESSAGES = {
  welcome: '18c0f00dfeed0001',
  invoice: '18c0f00dfeed0002',
  unicode: '18c0f00dfeed0003',
  thread: '18c0f00dfeed0004',
  spam: '18c0f00dfeed0005',
  sent: '18c0f00dfeed0006',
} as const;

const CRLF = '\r\n';
const b64 = (s: string) =>
  (
    Buffer.from(s, 'utf8')
      .toString('base64')
      .match(/.{1,76}/g) ?? []
  ).join('\n');

function seedMessages(owner: string): GmailMessage[] {
  const day = (d: number) => Date.UTC(2024, 4, d, 9, 30);
  const msg = (id: string, threadId: string, labels: string[], date: number, raw: string): GmailMessage => ({
    id,
    threadId,
    labelIds: labels,
    raw: Buffer.from(raw.replace(/\n/g, CRLF), 'utf8'),
    internalDate: date,
    historyId: 1000 + Number.parseInt(id.slice(-2), 16),
  });
  return [
    msg(
      GMAIL_FAKE_MESSAGES.welcome,
      GMAIL_FAKE_MESSAGES.welcome,
      ['INBOX', 'UNREAD', 'CATEGORY_PERSONAL'],
      day(1),
      `From: Grace Hopper <grace@example.com>\nTo: Ada Lovelace <${owner}>\nSubject: Welcome aboard\nDate: Wed, 1 May 2024 09:30:00 +0000\nMessage-ID: <welcome-0001@mail.example.com>\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b1"\n\n--b1\nContent-Type: text/plain; charset="UTF-8"\n\nHi Ada, it's great to have you on the team!\n--b1\nContent-Type: text/html; charset="UTF-8"\n\n<p>Hi Ada, it's great to have you on the <b>team</b>!</p>\n--b1--\n`,
    ),
    msg(
      GMAIL_FAKE_MESSAGES.invoice,
      GMAIL_FAKE_MESSAGES.invoice,
      ['INBOX', 'CATEGORY_UPDATES'],
      day(2),
      `From: billing@vendor.example\nTo: ${owner}\nCc: accounts@example.com\nSubject: Invoice #2024-05 for May\nDate: Thu, 2 May 2024 09:30:00 +0000\nMessage-ID: <invoice-0002@vendor.example>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="m2"\n\n--m2\nContent-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: quoted-printable\n\nYour invoice for May is attached. Total: =2442.00 EUR.=\n\n--m2\nContent-Type: application/pdf; name="invoice-2024-05.pdf"\nContent-Disposition: attachment; filename="invoice-2024-05.pdf"\nContent-Transfer-Encoding: base64\n\n${b64('%PDF-1.4 fake invoice')}\n--m2--\n`,
    ),
    msg(
      GMAIL_FAKE_MESSAGES.unicode,
      GMAIL_FAKE_MESSAGES.unicode,
      ['INBOX', 'UNREAD'],
      day(3),
      `From: =?UTF-8?B?${Buffer.from('Zoë Ångström').toString('base64')}?= <zoe@example.se>\nTo: ${owner}\nSubject: =?UTF-8?Q?R=C3=A9union_de_l=E2=80=99=C3=A9quipe?= =?UTF-8?B?${Buffer.from(' — jeudi').toString('base64')}?=\nDate: Fri, 3 May 2024 09:30:00 +0000\nMessage-ID: <unicode-0003@example.se>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nR=E9union jeudi =E0 10h, caf=E9 offert.\n`,
    ),
    msg(
      GMAIL_FAKE_MESSAGES.thread,
      GMAIL_FAKE_MESSAGES.welcome,
      ['INBOX'],
      day(4),
      `From: Grace Hopper <grace@example.com>\nTo: ${owner}\nSubject: Re: Welcome aboard\nDate: Sat, 4 May 2024 09:30:00 +0000\nMessage-ID: <welcome-0004@mail.example.com>\nIn-Reply-To: <welcome-0001@mail.example.com>\nReferences: <welcome-0001@mail.example.com>\nContent-Type: text/html; charset=UTF-8\n\n<div>Lunch on Monday?</div>\n`,
    ),
    msg(
      GMAIL_FAKE_MESSAGES.spam,
      GMAIL_FAKE_MESSAGES.spam,
      ['SPAM', 'UNREAD'],
      day(5),
      `From: winner@lottery.example\nTo: ${owner}\nSubject: You won!\nDate: Sun, 5 May 2024 09:30:00 +0000\n\nClaim your prize.\n`,
    ),
    msg(
      GMAIL_FAKE_MESSAGES.sent,
      GMAIL_FAKE_MESSAGES.welcome,
      ['SENT'],
      day(6),
      `From: ${owner}\nTo: Grace Hopper <grace@example.com>\nSubject: Re: Welcome aboard\nDate: Mon, 6 May 2024 09:30:00 +0000\nMessage-ID: <sent-0006@mail.gmail.com>\n\nMonday works.\n`,
    ),
  ];
}

const newId = () => `18${randomBytes(7).toString('hex')}`;

/** HTML-escapes a snippet the way Gmail does (`'` → `&#39;`, OBSERVED). */
const escapeSnippet = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

function snippetOf(mime: MimePart): string {
  const texts = leaves(mime).filter((p) => !p.filename && (p.mimeType === 'text/plain' || p.mimeType === 'text/html'));
  const plain = texts.find((p) => p.mimeType === 'text/plain');
  const source = plain ? bodyText(plain) : texts[0] ? bodyText(texts[0]).replace(/<[^>]*>/g, ' ') : '';
  // Gmail's snippet length is UNCONFIRMED; 200 characters is what it usually shows.
  return escapeSnippet(source.replace(/\s+/g, ' ').trim().slice(0, 200));
}

/** A MIME tree as Gmail's `MessagePart` (format=full): bodies as base64url, attachments by id only. */
function toWirePart(part: MimePart, partId: string, messageId: string): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    partId,
    mimeType: part.mimeType,
    filename: part.filename,
    headers: part.headers.map((h) => ({ name: h.name, value: h.value })),
  };
  if (part.parts.length) {
    wire.body = { size: 0 };
    wire.parts = part.parts.map((p, i) => toWirePart(p, partId === '' ? String(i) : `${partId}.${i}`, messageId));
  } else if (part.filename) {
    wire.body = {
      attachmentId: `ANGjdJ${Buffer.from(`${messageId}:${partId}`).toString('base64url')}`,
      size: part.body.length,
    };
  } else {
    wire.body = { size: part.body.length, ...(part.body.length ? { data: part.body.toString('base64url') } : {}) };
  }
  return wire;
}

function decodedHeaders(headers: MimeHeader[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of headers) {
    const key = h.name.toLowerCase();
    const value = decodeWords(h.value);
    out[key] = out[key] === undefined ? value : `${out[key]}, ${value}`;
  }
  return out;
}

const ADDRESS = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;

/** The addresses of an address header (display names ignored). Invalid when a list item has none. */
function addressesOf(value: string | undefined): { addresses: string[]; invalid: boolean } {
  if (value === undefined) return { addresses: [], invalid: false };
  // Split on commas outside quotes.
  const items = value.match(/(?:"[^"]*"|[^,])+/g) ?? [];
  const addresses: string[] = [];
  let invalid = false;
  for (const item of items) {
    if (!item.trim()) continue;
    const found = item.replace(/"[^"]*"/g, '').match(ADDRESS);
    if (!found) invalid = true;
    else addresses.push(found[found.length - 1]!);
  }
  return { addresses, invalid };
}

export class GmailBackend {
  /** Mailboxes by lowercased owner address. */
  readonly mailboxes = new Map<string, GmailMessage[]>();
  readonly sent: SentGmailMessage[] = [];
  private historyId = 5000;

  constructor(private readonly seedOwner: string) {
    this.reset();
  }

  reset(): void {
    this.mailboxes.clear();
    this.mailboxes.set(this.seedOwner.toLowerCase(), seedMessages(this.seedOwner));
    this.sent.length = 0;
    this.historyId = 5000;
  }

  mailbox(email: string): GmailMessage[] {
    const key = email.toLowerCase();
    let box = this.mailboxes.get(key);
    if (!box) {
      box = [];
      this.mailboxes.set(key, box);
    }
    return box;
  }

  /** Handles `/gmail/v1/users/{userId}/…`; undefined for a path that is not Gmail's. */
  handle(req: RecordedRequest, auth: GmailAuth): FakeResponse | undefined {
    const m = /^\/gmail\/v1\/users\/([^/]+)\/(profile|messages|messages\/send|messages\/([^/]+))$/.exec(req.path);
    if (!m)
      return req.path.startsWith('/gmail/') || req.path.startsWith('/upload/gmail/')
        ? unknownPath(req.path)
        : undefined;
    const userId = decodeURIComponent(m[1]!);
    const what = m[2]!;
    const method =
      what === 'profile' && req.method === 'GET'
        ? 'profile'
        : what === 'messages/send' && req.method === 'POST'
          ? 'send'
          : what === 'messages' && req.method === 'GET'
            ? 'list'
            : m[3] !== undefined && what !== 'messages/send' && req.method === 'GET'
              ? 'get'
              : undefined;
    // A known path with another HTTP method: Google's front end answers 404 (UNCONFIRMED).
    if (!method) return unknownPath(req.path);

    const accepted = METHOD_SCOPES[method];
    if (!auth.scopes.some((s) => (accepted as readonly string[]).includes(s)))
      return insufficientScope('gmail', accepted);
    // `me` or the account's own address; anyone else's mailbox needs domain-wide delegation (OBSERVED message).
    if (userId !== 'me' && userId.toLowerCase() !== auth.email.toLowerCase())
      return permissionDenied('gmail', `Delegation denied for ${auth.email}`);
    const metadataOnly = auth.scopes.every((s) => s === G.metadata || !(accepted as readonly string[]).includes(s));

    switch (method) {
      case 'profile':
        return this.profile(auth);
      case 'send':
        return this.send(req, auth);
      case 'list':
        return this.list(req, auth, metadataOnly);
      case 'get':
        return this.get(req, auth, decodeURIComponent(m[3]!), metadataOnly);
    }
  }

  private profile(auth: GmailAuth): FakeResponse {
    const box = this.mailbox(auth.email);
    return {
      status: 200,
      body: {
        emailAddress: auth.email,
        messagesTotal: box.length,
        threadsTotal: new Set(box.map((m) => m.threadId)).size,
        historyId: String(this.historyId),
      },
    };
  }

  private send(req: RecordedRequest, auth: GmailAuth): FakeResponse {
    if (!(req.headers['content-type'] ?? '').includes('json') || req.json === undefined) {
      // The metadata endpoint takes a JSON Message; anything else is rejected (message UNCONFIRMED).
      return invalidArgument(
        'gmail',
        "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
        'invalidArgument',
      );
    }
    const body = req.json as { raw?: unknown; threadId?: unknown };
    if (typeof body.raw !== 'string' || body.raw === '') {
      // OBSERVED message for a send without `raw`.
      return invalidArgument(
        'gmail',
        "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
        'invalidArgument',
      );
    }
    // `format: byte` is base64url; the standard alphabet's + and / are rejected (UNCONFIRMED: Gmail may be lenient).
    if (!/^[A-Za-z0-9_-]*={0,2}$/.test(body.raw))
      return invalidArgument('gmail', 'Invalid value for ByteString: raw', 'invalid');
    const raw = Buffer.from(body.raw, 'base64url');
    const mime = parseMime(raw);
    const to = addressesOf(header(mime, 'To'));
    const cc = addressesOf(header(mime, 'Cc'));
    const bcc = addressesOf(header(mime, 'Bcc'));
    if (to.invalid) return invalidArgument('gmail', 'Invalid To header', 'invalidArgument'); // OBSERVED
    if (cc.invalid) return invalidArgument('gmail', 'Invalid Cc header', 'invalidArgument');
    if (bcc.invalid) return invalidArgument('gmail', 'Invalid Bcc header', 'invalidArgument');
    if (to.addresses.length + cc.addresses.length + bcc.addresses.length === 0) {
      return invalidArgument('gmail', 'Recipient address required', 'invalidArgument'); // OBSERVED
    }
    const box = this.mailbox(auth.email);
    let threadId: string | undefined;
    if (body.threadId !== undefined) {
      if (typeof body.threadId !== 'string' || !box.some((m) => m.threadId === body.threadId)) return notFound('gmail'); // UNCONFIRMED answer
      // Gmail also wants matching References/In-Reply-To and Subject to keep the thread; the fake trusts threadId (UNCONFIRMED).
      threadId = body.threadId;
    }
    const id = newId();
    // Without a From header Gmail writes the account's address (OBSERVED); the fake stores it that way too.
    const stored =
      header(mime, 'From') === undefined ? Buffer.concat([Buffer.from(`From: ${auth.email}\r\n`), raw]) : raw;
    this.historyId += 1;
    box.push({
      id,
      threadId: threadId ?? id,
      labelIds: ['SENT'],
      raw: stored,
      internalDate: Date.now(),
      historyId: this.historyId,
    });
    const textLeaves = leaves(mime).filter((p) => !p.filename);
    const textOf = (type: string) => {
      const part = textLeaves.find((p) => p.mimeType === type);
      return part ? bodyText(part) : null;
    };
    this.sent.push({
      id,
      threadId: threadId ?? id,
      requestedThreadId: threadId,
      rawText: raw.toString('utf8'),
      mime,
      headers: decodedHeaders(mime.headers),
      text: textOf('text/plain'),
      html: textOf('text/html'),
      userEmail: auth.email,
      accessToken: auth.token,
    });
    // The exact fields of the answer are UNCONFIRMED; in practice id, threadId and labelIds.
    return { status: 200, body: { id, threadId: threadId ?? id, labelIds: ['SENT'] } };
  }

  private list(req: RecordedRequest, auth: GmailAuth, metadataOnly: boolean): FakeResponse {
    const params = new URLSearchParams(req.rawQuery);
    const q = params.get('q') ?? undefined;
    if (q !== undefined && metadataOnly)
      return permissionDenied('gmail', "Metadata scope does not support 'q' parameter"); // OBSERVED
    const labelIds = params.getAll('labelIds');
    const includeSpamTrash = params.get('includeSpamTrash') === 'true';
    const maxRaw = params.get('maxResults');
    let max = 100;
    if (maxRaw !== null) {
      max = Number(maxRaw);
      if (!Number.isInteger(max) || max < 0)
        return invalidArgument(
          'gmail',
          `Invalid value '${maxRaw}'. Values must match the following regular expression: '[0-9]+'`,
          'invalidParameter',
        );
      // Above the documented maximum Gmail answers at most 500 (UNCONFIRMED: it may reject instead).
      max = Math.min(max === 0 ? 100 : max, 500);
    }
    const offset = params.get('pageToken')
      ? Number.parseInt(Buffer.from(params.get('pageToken')!, 'base64url').toString('utf8'), 10)
      : 0;
    if (!Number.isInteger(offset) || offset < 0) return invalidArgument('gmail', 'Invalid pageToken', 'invalid');

    const matches = this.mailbox(auth.email)
      .filter((m) => includeSpamTrash || !m.labelIds.some((l) => l === 'SPAM' || l === 'TRASH'))
      .filter((m) => labelIds.every((l) => m.labelIds.includes(l)))
      .filter((m) => q === undefined || matchesQuery(m, q))
      .sort((a, b) => b.internalDate - a.internalDate || (a.id < b.id ? 1 : -1));
    const page = matches.slice(offset, offset + max);
    const body: Record<string, unknown> = {};
    // An empty result has no `messages` (UNCONFIRMED: the fake leaves it out, as proto3 JSON would).
    if (page.length) body.messages = page.map((m) => ({ id: m.id, threadId: m.threadId }));
    // Page tokens are opaque (a real one looks like "09876543210123456789"); the fake's encode an offset.
    if (offset + max < matches.length) body.nextPageToken = Buffer.from(String(offset + max)).toString('base64url');
    body.resultSizeEstimate = matches.length;
    return { status: 200, body };
  }

  private get(req: RecordedRequest, auth: GmailAuth, id: string, metadataOnly: boolean): FakeResponse {
    const format = (req.query.format ?? 'full').toLowerCase();
    if (!['full', 'minimal', 'raw', 'metadata'].includes(format)) {
      return invalidArgument(
        'gmail',
        `Invalid value at 'format' (type.googleapis.com/caribou.api.proto.MessageFormat), "${req.query.format}"`,
        'invalid',
      );
    }
    if (metadataOnly && (format === 'full' || format === 'raw'))
      return permissionDenied('gmail', `Metadata scope doesn't allow format ${format.toUpperCase()}`); // OBSERVED
    if (!/^[0-9a-fA-F]{1,32}$/.test(id)) return invalidArgument('gmail', 'Invalid id value', 'invalidArgument'); // OBSERVED message
    const message = this.mailbox(auth.email).find((m) => m.id === id);
    if (!message) return notFound('gmail');
    const mime = parseMime(message.raw);
    const base: Record<string, unknown> = {
      id: message.id,
      threadId: message.threadId,
      labelIds: message.labelIds,
      snippet: snippetOf(mime),
      sizeEstimate: message.raw.length,
      historyId: String(message.historyId),
      internalDate: String(message.internalDate),
    };
    if (format === 'minimal')
      return {
        status: 200,
        body: {
          id: message.id,
          threadId: message.threadId,
          labelIds: message.labelIds,
          snippet: base.snippet,
          sizeEstimate: base.sizeEstimate,
          historyId: base.historyId,
          internalDate: base.internalDate,
        },
      };
    if (format === 'raw') return { status: 200, body: { ...base, raw: message.raw.toString('base64url') } };
    if (format === 'metadata') {
      const wanted = new URLSearchParams(req.rawQuery).getAll('metadataHeaders').map((h) => h.toLowerCase());
      const headers = mime.headers.filter((h) => wanted.length === 0 || wanted.includes(h.name.toLowerCase()));
      return { status: 200, body: { ...base, payload: { mimeType: mime.mimeType, headers } } };
    }
    return { status: 200, body: { ...base, payload: toWirePart(mime, '', message.id) } };
  }
}

/**
 * A subset of Gmail's search syntax: from:, to:, cc:, subject:, label:/in:, is:unread/read/starred,
 * has:attachment, and bare words matched in the headers and text (case-insensitive). Anything else is
 * treated as a word, as Gmail treats an unknown operator (UNCONFIRMED details).
 */
function matchesQuery(m: GmailMessage, q: string): boolean {
  const mime = parseMime(m.raw);
  const h = (name: string) => decodeWords(header(mime, name) ?? '').toLowerCase();
  const text = leaves(mime)
    .filter((p) => !p.filename && p.mimeType.startsWith('text/'))
    .map((p) => bodyText(p))
    .join(' ')
    .toLowerCase();
  const terms = q.match(/(?:[a-z]+:)?(?:"[^"]*"|\S+)/gi) ?? [];
  return terms.every((term) => {
    const negate = term.startsWith('-');
    const t = (negate ? term.slice(1) : term).replace(/"/g, '').toLowerCase();
    const [op, ...rest] = t.includes(':') ? t.split(':') : ['', t];
    const v = rest.join(':');
    let ok: boolean;
    switch (op) {
      case 'from':
        ok = h('from').includes(v);
        break;
      case 'to':
        ok = h('to').includes(v);
        break;
      case 'cc':
        ok = h('cc').includes(v);
        break;
      case 'subject':
        ok = h('subject').includes(v);
        break;
      case 'label':
      case 'in':
        ok = v === 'anywhere' || m.labelIds.some((l) => l.toLowerCase() === v);
        break;
      case 'is':
        ok =
          v === 'unread'
            ? m.labelIds.includes('UNREAD')
            : v === 'read'
              ? !m.labelIds.includes('UNREAD')
              : m.labelIds.includes(v.toUpperCase());
        break;
      case 'has':
        ok = v === 'attachment' ? leaves(mime).some((p) => Boolean(p.filename)) : false;
        break;
      default: {
        const word = op ? t : v;
        ok = `${h('from')} ${h('to')} ${h('subject')} ${text}`.includes(word);
      }
    }
    return negate ? !ok : ok;
  });
}
