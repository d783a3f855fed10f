import { standardSecretKey, standardSignature } from '../crypto/standard-webhooks.ts';

/**
 * The secrets an outgoing webhook signs its deliveries with, sealed together in the webhook row
 * (docs/decisions/0011-standard-webhooks.md). The first is the current one; after a rotation the
 * previous ones stay, each until its `expiresAt`, so a receiver that has not switched yet still
 * finds a signature it can check.
 */
export interface SigningSecret {
  secret: string;
  /**
   * `standard`: `whsec_<base64>`, the key is the decoded bytes. `raw`: a secret made before
   * Standard Webhooks, whose key has always been the UTF-8 bytes of the whole string; it is kept as
   * it is, and a Standard Webhooks library verifies it given the raw key.
   */
  format: 'standard' | 'raw';
  /** ISO time after which a retired secret no longer signs. */
  expiresAt?: string;
}

/** How long a replaced secret keeps signing after a rotation. */
export const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;
/** Secrets signing at once at most (a burst of rotations keeps the newest ones). */
const MAX_SECRETS = 4;

/**
 * The secrets of a sealed value: a list (`{secrets}`), or a bare string, which is how webhooks
 * created before Standard Webhooks stored their one secret.
 */
export function secretsOf(sealed: unknown): SigningSecret[] {
  if (typeof sealed === 'string') return [{ secret: sealed, format: 'raw' }];
  return (sealed as { secrets: SigningSecret[] }).secrets;
}

/** The value to seal for a new webhook. */
export function freshSecrets(secret: string): { secrets: SigningSecret[] } {
  return { secrets: [{ secret, format: 'standard' }] };
}

/** The secrets still signing at `now`. */
export function activeSecrets(secrets: SigningSecret[], now = Date.now()): SigningSecret[] {
  return secrets.filter((s) => s.expiresAt === undefined || Date.parse(s.expiresAt) > now);
}

/** After a rotation: the new secret first, the ones it replaces until 24 hours from now (or their own, earlier, end). */
export function rotatedSecrets(
  current: SigningSecret[],
  secret: string,
  now = Date.now(),
): { secrets: SigningSecret[] } {
  const until = new Date(now + ROTATION_OVERLAP_MS).toISOString();
  const retired = activeSecrets(current, now).map((s) => ({ ...s, expiresAt: s.expiresAt ?? until }));
  return { secrets: [{ secret, format: 'standard' as const }, ...retired].slice(0, MAX_SECRETS) };
}

const keyOf = (s: SigningSecret): Buffer =>
  s.format === 'raw' ? Buffer.from(s.secret, 'utf8') : standardSecretKey(s.secret);

/** `webhook-signature`: one `v1,<base64>` per active secret, space-separated (the Standard Webhooks rotation form). */
export function signatureHeader(
  secrets: SigningSecret[],
  id: string,
  timestampSeconds: number,
  rawBody: string,
  now = Date.now(),
): string {
  return activeSecrets(secrets, now)
    .map((s) => standardSignature(keyOf(s), id, timestampSeconds, rawBody))
    .join(' ');
}
