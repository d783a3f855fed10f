// A small RFC 5322 / MIME reader for the Google fake: what Gmail does with the `raw` message it is
// sent (headers, multipart bodies, transfer encodings), and what tests use to check the message the
// connector built. Independent of the connector's own MIME code on purpose: a test that decoded
// with the code under test would prove nothing.

export interface MimeHeader {
  name: string;
  /** Unfolded, as written (encoded-words left encoded). */
  value: string;
}

export interface MimePart {
  headers: MimeHeader[];
  /** Lowercased, without parameters; `text/plain` when the part has no Content-Type. */
  mimeType: string;
  /** Content-Type parameters, names lowercased (`charset`, `boundary`, `name`). */
  params: Record<string, string>;
  /** The body after its Content-Transfer-Encoding was undone (empty for multiparts). */
  body: Buffer;
  parts: MimePart[];
  filename: string;
  /** Whether the header section had bytes outside ASCII (RFC 5322 allows none). */
  nonAsciiHeaders: boolean;
}

export function header(part: Pick<MimePart, 'headers'>, name: string): string | undefined {
  const lower = name.toLowerCase();
  return part.headers.find((h) => h.name.toLowerCase() === lower)?.value;
}

function splitHeaderSection(raw: Buffer): { head: Buffer; body: Buffer } {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf < 0 && lf < 0) return { head: raw, body: Buffer.alloc(0) };
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { head: raw.subarray(0, crlf), body: raw.subarray(crlf + 4) };
  return { head: raw.subarray(0, lf), body: raw.subarray(lf + 2) };
}

function parseHeaders(head: Buffer): MimeHeader[] {
  const lines = head.toString('latin1').split(/\r?\n/);
  const headers: MimeHeader[] = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line) && headers.length) {
      headers[headers.length - 1]!.value += ` ${line.trim()}`; // unfold (RFC 5322 §2.2.3)
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  // Header bytes are ASCII; re-read as UTF-8 so a (non-conforming) UTF-8 header is at least legible.
  return headers.map((h) => ({ name: h.name, value: Buffer.from(h.value, 'latin1').toString('utf8') }));
}

/** `text/plain; charset="UTF-8"` → type and parameters. */
export function parseContentType(value: string | undefined): { type: string; params: Record<string, string> } {
  if (!value) return { type: 'text/plain', params: {} };
  const [type, ...rest] = value.split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    params[p.slice(0, eq).trim().toLowerCase()] = p
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
  }
  return { type: type!.trim().toLowerCase() || 'text/plain', params };
}

function decodeTransfer(body: Buffer, encoding: string | undefined): Buffer {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'base64':
      return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    case 'quoted-printable': {
      const text = body.toString('latin1').replace(/=\r?\n/g, '');
      const out: number[] = [];
      for (let i = 0; i < text.length; i++) {
        if (text[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
          out.push(parseInt(text.slice(i + 1, i + 3), 16));
          i += 2;
        } else out.push(text.charCodeAt(i) & 0xff);
      }
      return Buffer.from(out);
    }
    default:
      return body;
  }
}

/** Parses a whole message (or a body part) into its tree. */
export function parseMime(raw: Buffer): MimePart {
  const { head, body } = splitHeaderSection(raw);
  const headers = parseHeaders(head);
  const nonAsciiHeaders = head.some((b) => b > 0x7f);
  const { type, params } = parseContentType(header({ headers }, 'Content-Type'));
  const disposition = parseContentType(header({ headers }, 'Content-Disposition'));
  const filename = disposition.params.filename ?? params.name ?? '';
  const part: MimePart = {
    headers,
    mimeType: type,
    params,
    body: Buffer.alloc(0),
    parts: [],
    filename,
    nonAsciiHeaders,
  };
  if (type.startsWith('multipart/') && params.boundary) {
    const text = body.toString('latin1');
    const delimiter = `--${params.boundary}`;
    const chunks = text.split(new RegExp(`(?:^|\\r?\\n)${delimiter.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    // chunks[0] is the preamble; a chunk starting with "--" is the close delimiter and epilogue.
    for (const chunk of chunks.slice(1)) {
      if (chunk.startsWith('--')) break;
      part.parts.push(parseMime(Buffer.from(chunk.replace(/^[ \t]*\r?\n/, ''), 'latin1')));
    }
    return part;
  }
  part.body = decodeTransfer(body, header({ headers }, 'Content-Transfer-Encoding'));
  return part;
}

/** Decodes RFC 2047 encoded-words for assertions (UTF-8 and ISO-8859-1, B and Q). */
export function decodeWords(value: string): string {
  return value
    .replace(/(\?=)\s+(=\?)/g, '$1$2')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, charset: string, enc: string, text: string) => {
      const bytes =
        enc.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64')
          : Buffer.from(
              text
                .replace(/_/g, ' ')
                .replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
              'latin1',
            );
      return new TextDecoder(charset.toLowerCase()).decode(bytes);
    });
}

/** A part's body as text, by its charset (UTF-8 when it names none). */
export function bodyText(part: MimePart): string {
  try {
    return new TextDecoder((part.params.charset ?? 'utf-8').toLowerCase()).decode(part.body);
  } catch {
    return part.body.toString('utf8');
  }
}

/** The leaves of a part tree, depth first. */
export function leaves(part: MimePart): MimePart[] {
  return part.parts.length ? part.parts.flatMap(leaves) : [part];
}
