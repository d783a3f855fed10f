import { createHash, createHmac } from 'node:crypto';
import { constantTimeEqual } from '../../shared/crypto/standard-webhooks.ts';
import type { InboundHook, InboundVerdict } from '../toolkit/inbound.ts';
import { parseForm } from '../toolkit/inbound-body.ts';

/**
 * The string Twilio signs (docs/upstreams/twilio.md, "Callbacks"): the full URL it requested, then
 * each POST parameter as name + value with no separators, names sorted in code-unit order, a repeated
 * name once per distinct value, values sorted.
 */
export function twilioSignedString(url: string, params: Map<string, string[]>): string {
  let data = url;
  for (const name of [...params.keys()].sort())
    for (const value of [...new Set(params.get(name))].sort()) data += name + value;
  return data;
}

/** The URL as given, and with the scheme's default port added or removed: Twilio's own validator accepts either form. */
function urlForms(url: string): string[] {
  const m = /^(https?):\/\/([^/?#:]+|\[[^\]]+\])(?::(\d+))?(.*)$/.exec(url);
  if (!m) return [url];
  const [, scheme, host, port, rest] = m;
  const defaultPort = scheme === 'https' ? '443' : '80';
  if (port === undefined) return [url, `${scheme}://${host}:${defaultPort}${rest}`];
  return port === defaultPort ? [url, `${scheme}://${host}${rest}`] : [url];
}

const TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';

/**
 * Twilio status callbacks and incoming-message webhooks: `X-Twilio-Signature`, base64 HMAC-SHA1 of
 * twilioSignedString with the account's Auth Token. The URL is the connection's inboundUrl (so
 * PUBLIC_URL must be what Twilio calls). A JSON body is signed through its `bodySHA256` query
 * parameter instead of its fields. Twilio signs no timestamp, so there is no replay window: a replay
 * is stopped by the dedupe on `I-Twilio-Idempotency-Token` (else MessageSid + MessageStatus).
 */
export const twilioInbound: InboundHook = {
  eventTypes: ['twilio.message.status', 'twilio.message.received'],
  // Twilio reads the answer to an incoming message as TwiML: an empty <Response> sends no reply.
  ack: { status: 200, contentType: 'text/xml', body: TWIML_EMPTY },
  receive(request, { credentials }): InboundVerdict {
    const token = credentials.authToken;
    const signature = request.headers['x-twilio-signature'];
    if (!token || !signature) return { kind: 'rejected', reason: 'no X-Twilio-Signature, or no auth token' };
    const bodyHash = new URL(request.url).searchParams.get('bodySHA256');
    const params = bodyHash === null ? parseForm(request.rawBody) : new Map<string, string[]>();
    if (
      bodyHash !== null &&
      !constantTimeEqual(bodyHash.toLowerCase(), createHash('sha256').update(request.rawBody).digest('hex'))
    ) {
      return { kind: 'rejected', reason: 'bodySHA256 does not match the body' };
    }
    let verified = false;
    for (const url of urlForms(request.url)) {
      const expected = createHmac('sha1', token).update(twilioSignedString(url, params), 'utf8').digest('base64');
      if (constantTimeEqual(signature, expected)) verified = true;
    }
    if (!verified) return { kind: 'rejected', reason: 'signature does not match' };

    const payload =
      bodyHash === null
        ? Object.fromEntries([...params].map(([k, v]) => [k, v.length === 1 ? v[0] : v]))
        : safeJson(request.rawBody);
    if (payload === undefined) return { kind: 'malformed', reason: 'the JSON body does not parse' };
    const field = (name: string) =>
      typeof (payload as Record<string, unknown>)[name] === 'string'
        ? ((payload as Record<string, string>)[name] as string)
        : undefined;
    const status = field('MessageStatus');
    const sid = field('MessageSid') ?? field('SmsSid');
    const eventId =
      request.headers['i-twilio-idempotency-token'] ??
      (sid
        ? `${sid}:${status ?? field('SmsStatus') ?? ''}`
        : `sha256:${createHash('sha256').update(request.rawBody).digest('hex')}`);
    const type = status && status !== 'received' ? 'twilio.message.status' : 'twilio.message.received';
    return { kind: 'event', eventId, type, payload };
  },
};

function safeJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}
