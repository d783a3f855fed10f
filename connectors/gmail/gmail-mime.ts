import { randomBytes } from 'node:crypto';

/**
 * The RFC 5322 / MIME message Gmail's `messages.send` takes as `raw` (docs/upstreams/google.md §3),
 * and the reverse for `messages.get`: header values with RFC 2047 encoded-words decoded, and the
 * text parts of a `MessagePart` tree. Gmail sends what it is given, so everything a mail client
 * would otherwise do (encoding non-ASCII headers, folding long lines, multipart/alternative) is
 * done here. Lines end in CRLF; bodies go as base64, which survives any content and any charset.
 */

const CRLF = '\r\n';
/** RFC 5322 §2.1.1: lines SHOULD stay within 78 characters. */
const LINE = 78;

// ---- addresses --------------------------------------------------------------------------------

const LOCAL_PART = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+$/;
const DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** One address with its optional display name, parsed once so it can be encoded for a header. */
export interface Mailbox {
  name: string | null;
  address: string;
}

/**
 * `"ada@example.com"`, `"Ada Lovelace <ada@example.com>"` or `"\"Lovelace, Ada\" <ada@example.com>"`.
 * The display name may be any Unicode text; the address itself must be ASCII (Gmail's `raw` path
 * has no SMTPUTF8). Undefined when the text is not one mailbox.
 */
export function parseMailbox(text: string): Mailbox | undefined {
  if (/[\r\n\0]/.test(text)) return undefined;
  const trimmed = text.trim();
  let name: string | null = null;
  let address = trimmed;
  const angle = /^(.*?)\s*<([^<>]*)>$/.exec(trimmed);
  if (angle) {
    address = angle[2]!.trim();
    let display = angle[1]!.trim();
    if (/^".*"$/.test(display)) display = display.slice(1, -1).replace(/\\(.)/g, '$1');
    if (/[<>]/.test(display)) return undefined;
    name = display || null;
  }
  const at = address.lastIndexOf('@');
  if (at <= 0) return undefined;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (
    local.length > 64 ||
    !LOCAL_PART.test(local) ||
    local.startsWith('.') ||
    local.endsWith('.') ||
    local.includes('..')
  )
    return undefined;
  if (domain.length > 253 || !DOMAIN.test(domain)) return undefined;
  return { name, address };
}

const ATEXT_PHRASE = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+$/;

/** One mailbox as a header value: a plain, quoted or encoded-word display name before `<address>`. */
function formatMailbox(m: Mailbox): string[] {
  if (!m.name) return [m.address];
  if (needsEncoding(m.name)) return [...encodedWords(m.name), `<${m.address}>`];
  const name = ATEXT_PHRASE.test(m.name) ? m.name : `"${m.name.replace(/(["\\])/g, '\\$1')}"`;
  return [name, `<${m.address}>`];
}

// ---- RFC 2047 ---------------------------------------------------------------------------------

/** Text that cannot go into a header as it is: non-ASCII, controls, an encoded-word look-alike, or an unbreakable run. */
function needsEncoding(value: string): boolean {
  return /[^\x20-\x7e]/.test(value) || value.includes('=?') || /\S{70,}/.test(value);
}

/**
 * `=?UTF-8?B?…?=` words (RFC 2047 §2: at most 75 characters), split on character boundaries: 42
 * UTF-8 bytes make 56 base64 characters, 68 with the delimiters, so that "Reply-To: " and one
 * word still fit a 78-character line.
 */
function encodedWords(value: string): string[] {
  const words: string[] = [];
  let chunk = '';
  let bytes = 0;
  for (const ch of value) {
    const size = Buffer.byteLength(ch);
    if (bytes + size > 42 && chunk) {
      words.push(chunk);
      chunk = '';
      bytes = 0;
    }
    chunk += ch;
    bytes += size;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`);
}

/** Decodes RFC 2047 encoded-words (B and Q, any charset the runtime knows) in a header value. */
export function decodeHeaderValue(value: string): string {
  // Whitespace between two adjacent encoded-words is not part of the text (RFC 2047 §6.2).
  const joined = value.replace(/(=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)\s+(?==\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)/g, '$1');
  return joined.replace(
    /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g,
    (whole, charset: string, encoding: string, text: string) => {
      let bytes: Buffer;
      if (encoding.toUpperCase() === 'B') {
        bytes = Buffer.from(text, 'base64');
      } else {
        const parts: number[] = [];
        for (let i = 0; i < text.length; i++) {
          const ch = text[i]!;
          if (ch === '_') parts.push(0x20);
          else if (ch === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
            parts.push(parseInt(text.slice(i + 1, i + 3), 16));
            i += 2;
          } else parts.push(ch.charCodeAt(0) & 0xff);
        }
        bytes = Buffer.from(parts);
      }
      const decoded = decodeCharset(bytes, charset.split('*')[0]!);
      return decoded ?? whole;
    },
  );
}

/** Bytes in a named charset as text; undefined for a charset the runtime does not know. */
export function decodeCharset(bytes: Uint8Array, charset: string): string | undefined {
  try {
    return new TextDecoder(charset.trim().toLowerCase() || 'utf-8').decode(bytes);
  } catch {
    return undefined;
  }
}

// ---- building a message ------------------------------------------------------------------------

/** Folds a header of the given tokens at whitespace so lines stay within 78 characters where possible. */
function header(name: string, tokens: string[]): string {
  let line = `${name}:`;
  const lines: string[] = [];
  for (const token of tokens) {
    if (line.length + 1 + token.length > LINE && line.length > name.length + 1) {
      lines.push(line);
      line = ` ${token}`;
    } else {
      line += ` ${token}`;
    }
  }
  lines.push(line);
  return lines.join(CRLF);
}

/** An unstructured header value (Subject) as tokens: encoded-words when needed, else words. */
function textTokens(value: string): string[] {
  if (needsEncoding(value)) return encodedWords(value);
  const words = value.split(' ');
  // Keep runs of spaces inside the value: fold only at single spaces between words.
  return words.reduce<string[]>((acc, w) => {
    if (acc.length && w === '') acc[acc.length - 1] += ' ';
    else acc.push(w);
    return acc;
  }, []);
}

function addressTokens(mailboxes: readonly Mailbox[]): string[] {
  const tokens: string[] = [];
  mailboxes.forEach((m, i) => {
    const parts = formatMailbox(m);
    if (i < mailboxes.length - 1) parts[parts.length - 1] += ',';
    tokens.push(...parts);
  });
  return tokens;
}

/** A text body in canonical form (CRLF line ends, RFC 2046 §4.1.1), base64 in lines of 76. */
function base64Lines(text: string): string {
  const canonical = text.replace(/\r?\n/g, CRLF);
  return (
    Buffer.from(canonical, 'utf8')
      .toString('base64')
      .match(/.{1,76}/g) ?? ['']
  ).join(CRLF);
}

function textPart(mime: 'text/plain' | 'text/html', body: string): string {
  return [`Content-Type: ${mime}; charset="UTF-8"`, 'Content-Transfer-Encoding: base64', '', base64Lines(body)].join(
    CRLF,
  );
}

/** What sendEmail puts into the message, already validated and parsed. */
export interface OutgoingMessage {
  from?: Mailbox;
  to: readonly Mailbox[];
  cc: readonly Mailbox[];
  bcc: readonly Mailbox[];
  replyTo: readonly Mailbox[];
  subject: string;
  text?: string;
  html?: string;
  /** Message-IDs (with angle brackets) of the message answered and of its thread. */
  inReplyTo?: string;
  references: readonly string[];
}

/**
 * The complete RFC 5322 message. Gmail fills in Date and Message-ID, and uses Bcc for delivery
 * without showing it to the other recipients. With both text and html, the parts go as
 * multipart/alternative (plain first, the richer html last, RFC 2046 §5.1.4).
 */
export function buildMessage(m: OutgoingMessage, boundary = `=_ce_${randomBytes(12).toString('hex')}`): string {
  const headers: string[] = [];
  if (m.from) headers.push(header('From', addressTokens([m.from])));
  if (m.to.length) headers.push(header('To', addressTokens(m.to)));
  if (m.cc.length) headers.push(header('Cc', addressTokens(m.cc)));
  if (m.bcc.length) headers.push(header('Bcc', addressTokens(m.bcc)));
  if (m.replyTo.length) headers.push(header('Reply-To', addressTokens(m.replyTo)));
  headers.push(header('Subject', textTokens(m.subject)));
  if (m.inReplyTo) headers.push(header('In-Reply-To', [m.inReplyTo]));
  if (m.references.length) headers.push(header('References', [...m.references]));
  headers.push('MIME-Version: 1.0');

  if (m.text !== undefined && m.html !== undefined) {
    headers.push(`Content-Type: multipart/alternative; boundary="${boundary}"`);
    return [
      ...headers,
      '',
      `--${boundary}`,
      textPart('text/plain', m.text),
      `--${boundary}`,
      textPart('text/html', m.html),
      `--${boundary}--`,
      '',
    ].join(CRLF);
  }
  const single = m.html !== undefined ? textPart('text/html', m.html) : textPart('text/plain', m.text ?? '');
  return [...headers, single, ''].join(CRLF);
}

// ---- reading a message ---------------------------------------------------------------------------

/** Gmail's `MessagePart` (format=full). */
export interface WirePart {
  partId?: string;
  mimeType?: string;
  filename?: string;
  headers?: { name: string; value: string }[];
  body?: { attachmentId?: string; size?: number; data?: string };
  parts?: WirePart[];
}

/** The first value of a header (case-insensitive), or undefined. */
export function headerOf(part: WirePart | undefined, name: string): string | undefined {
  const lower = name.toLowerCase();
  return part?.headers?.find((h) => h.name.toLowerCase() === lower)?.value;
}

/** Every value of a header joined by ", " (a message may repeat To or Cc), or null. */
export function joinedHeader(part: WirePart | undefined, name: string): string | null {
  const lower = name.toLowerCase();
  const values = (part?.headers ?? [])
    .filter((h) => h.name.toLowerCase() === lower)
    .map((h) => decodeHeaderValue(h.value).trim());
  return values.length ? values.join(', ') : null;
}

function isAttachment(part: WirePart): boolean {
  return Boolean(part.filename) || /^\s*attachment/i.test(headerOf(part, 'Content-Disposition') ?? '');
}

function charsetOf(part: WirePart): string {
  const match = /charset\s*=\s*"?([^";\s]+)"?/i.exec(headerOf(part, 'Content-Type') ?? '');
  return match?.[1] ?? 'utf-8';
}

/**
 * The first text/plain and text/html bodies of a message that are not attachments, decoded from
 * base64url and their charset. A part Gmail left out of the answer (`attachmentId`, large bodies) is null.
 */
export function textBodies(payload: WirePart | undefined): { text: string | null; html: string | null } {
  const found: { text: string | null; html: string | null } = { text: null, html: null };
  const walk = (part: WirePart | undefined): void => {
    if (!part) return;
    const mime = (part.mimeType ?? '').toLowerCase();
    if (mime.startsWith('multipart/')) {
      for (const child of part.parts ?? []) walk(child);
      return;
    }
    if (isAttachment(part) || typeof part.body?.data !== 'string') return;
    const key = mime === 'text/plain' ? 'text' : mime === 'text/html' ? 'html' : undefined;
    if (!key || found[key] !== null) return;
    const bytes = Buffer.from(part.body.data, 'base64url');
    found[key] = decodeCharset(bytes, charsetOf(part)) ?? bytes.toString('utf8');
  };
  walk(payload);
  return found;
}
