import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The Standard Webhooks scheme (standardwebhooks.com, v1.0.0), which Svix, and so Resend, also use:
 * `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<raw body>">`, keyed with the decoded bytes of a
 * `whsec_<base64>` secret. One module for both directions: webhooks out sign with it, and the Resend
 * connector's inbound hook verifies with it.
 */

export const SECRET_PREFIX = 'whsec_';

/** A new secret: 32 random bytes as `whsec_<base64>`, the form every Standard Webhooks library takes. */
export function newStandardSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/** The HMAC key of a `whsec_<base64>` secret (the prefix is optional, as in the reference library); empty when it is not base64. */
export function standardSecretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return Buffer.alloc(0);
  return Buffer.from(encoded, 'base64');
}

/** One `v1,<base64>` signature of a message. */
export function standardSignature(key: Buffer, id: string, timestampSeconds: number, rawBody: Buffer | string): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.`).update(rawBody).digest('base64');
  return `v1,${mac}`;
}

/** Equal strings, compared in constant time (unequal lengths fail at once: the length is not the secret). */
export function constantTimeEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether `timestampSeconds` is within `toleranceSeconds` of now, either way (a header that is not a whole number is not). */
export function withinTolerance(
  timestamp: string | undefined,
  toleranceSeconds: number,
  nowMs: number,
): timestamp is string {
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) return false;
  return Math.abs(nowMs / 1000 - Number(timestamp)) <= toleranceSeconds;
}

/**
 * Verifies a Standard Webhooks / Svix signed message: the timestamp within the tolerance (±5 minutes,
 * as the reference libraries), and any `v1,` entry of the space-separated signature list equal to
 * ours. Entries of other versions are skipped.
 */
export function verifyStandardSignature(input: {
  key: Buffer;
  id: string | undefined;
  timestamp: string | undefined;
  signatures: string | undefined;
  rawBody: Buffer;
  nowMs: number;
  toleranceSeconds?: number;
}): boolean {
  const { key, id, timestamp, signatures, rawBody, nowMs } = input;
  if (key.length === 0 || !id || !signatures || !withinTolerance(timestamp, input.toleranceSeconds ?? 300, nowMs))
    return false;
  const expected = standardSignature(key, id, Number(timestamp), rawBody);
  // Every entry is compared, so the time taken does not say which one matched.
  let match = false;
  for (const entry of signatures.split(' '))
    if (entry.startsWith('v1,') && constantTimeEqual(entry, expected)) match = true;
  return match;
}
