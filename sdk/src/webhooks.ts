import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConnectorEngineError } from './errors.ts';

/**
 * Verifying the engine's webhooks out on the receiving side. They are signed by the Standard
 * Webhooks specification (standardwebhooks.com, v1.0.0): `webhook-id`, `webhook-timestamp` and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<raw body>">`, one entry per active
 * secret, space-separated. Written here on node:crypto, not shared with the engine, so the package
 * stays free of dependencies and of server code.
 */

/** A delivery's body: `data` is `{connection}` for connection events and `{event}` for inbound events. */
export interface WebhookEvent<T = Record<string, unknown>> {
  /** The event id, also sent as `webhook-id` and the same on every retry: drop duplicates with it. */
  id: string;
  /** e.g. `connection.broken`, `connection.restored`, `slack.message`. */
  type: string;
  createdAt: string;
  data: T;
}

/** The request's headers as a framework hands them over: a fetch `Headers`, or Node's `req.headers`. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface WebhookVerifyOptions {
  /**
   * `standard` (default): the secret is `whsec_<base64>` and the key its decoded bytes. `raw`: a
   * secret of a webhook created before Standard Webhooks (docs/decisions/0011), whose key is the
   * UTF-8 bytes of the whole string; rotating it gives a standard one.
   */
  secretFormat?: 'standard' | 'raw';
  /** How far `webhook-timestamp` may be from now, either way, against replays. Default 300 (5 minutes, as the specification's libraries). */
  toleranceSeconds?: number;
  /** The clock to check the timestamp against (tests). Default: now. */
  now?: Date | number;
}

/** A delivery that is not proven to come from the engine: answer it 400 and do not act on it. */
export class WebhookVerificationError extends ConnectorEngineError {
  constructor(message: string) {
    super({ code: 'webhook_verification_failed', status: 0, message });
  }
}

const SECRET_PREFIX = 'whsec_';
const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value.join(' ') : value;
}

function signingKey(secret: string, format: 'standard' | 'raw'): Buffer {
  if (typeof secret !== 'string' || secret === '')
    throw new TypeError('connector-engine: webhooks.verify needs the webhook secret.');
  if (format === 'raw') return Buffer.from(secret, 'utf8');
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    // Never echo the secret: only say what shape was expected.
    throw new TypeError(
      "connector-engine: the webhook secret is not whsec_<base64>; a secret made before Standard Webhooks needs { secretFormat: 'raw' }.",
    );
  }
  return Buffer.from(encoded, 'base64');
}

/**
 * Checks a delivery and returns its parsed body. Throws WebhookVerificationError when a header is
 * missing, the timestamp is outside the tolerance, or no `v1` signature matches. Pass the body
 * exactly as received (a string or bytes, before any JSON parsing: re-serialized JSON does not verify).
 *
 * ```ts
 * app.post('/hooks', express.raw({ type: 'application/json' }), (req, res) => {
 *   const event = webhooks.verify(req.body, req.headers, process.env.CONNECTOR_WEBHOOK_SECRET!);
 * });
 * ```
 */
function verify<T = Record<string, unknown>>(
  payload: string | Uint8Array,
  headers: WebhookHeaders,
  secret: string,
  options: WebhookVerifyOptions = {},
): WebhookEvent<T> {
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
    throw new TypeError('connector-engine: webhooks.verify needs the raw body (string or bytes), not parsed JSON.');
  }
  const key = signingKey(secret, options.secretFormat ?? 'standard');
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures)
    throw new WebhookVerificationError('Missing webhook-id, webhook-timestamp or webhook-signature header.');
  if (!/^\d{1,12}$/.test(timestamp)) throw new WebhookVerificationError('Invalid webhook-timestamp header.');
  const nowSeconds = Number(options.now ?? Date.now()) / 1000;
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (nowSeconds - Number(timestamp) > tolerance) throw new WebhookVerificationError('Message timestamp too old.');
  if (Number(timestamp) - nowSeconds > tolerance) throw new WebhookVerificationError('Message timestamp too new.');

  const body =
    typeof payload === 'string'
      ? Buffer.from(payload, 'utf8')
      : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const expected = Buffer.from(createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64'));
  // Every v1 entry is compared in constant time, so the time taken says neither which matched nor where they differ.
  let matched = false;
  for (const entry of signatures.split(' ')) {
    const [version, signature] = entry.split(',', 2);
    if (version !== 'v1' || signature === undefined) continue;
    const given = Buffer.from(signature);
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  if (!matched) throw new WebhookVerificationError('No matching signature found.');
  try {
    return JSON.parse(body.toString('utf8')) as WebhookEvent<T>;
  } catch {
    throw new WebhookVerificationError('The signed body is not JSON.');
  }
}

/** Receiving the engine's webhooks out. No API key or network needed. */
export const webhooks = { verify };
