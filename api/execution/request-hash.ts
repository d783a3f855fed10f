import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Keyring } from '../../shared/crypto/keyring.ts';
import type { Vault } from '../../shared/crypto/vault.ts';

/** Canonical JSON (sorted keys) so that the same request hashes the same however it was written. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** What makes two executions "the same request" for Idempotency-Key purposes. */
export interface ExecutionRequest {
  connectorId: string;
  actionId: string;
  connectionId?: string;
  input: unknown;
}

/** One request's hash as stored, and the test of whether a stored hash is of the same request. */
export interface RequestFingerprint {
  /** `h1:<key id>:<hex HMAC-SHA256>`: for `invocations.request_hash`. */
  readonly stored: string;
  matches(stored: string | null): boolean;
}

const VERSION = 'h1';
/** The HKDF purpose of the hash keys (shared/crypto/keyring.ts deriveKeyring). */
export const REQUEST_HASH_PURPOSE = 'request-hash';
/** Hashes written before keyed hashing: a bare SHA-256 hex of the canonical request. */
const legacyHash = /^[0-9a-f]{64}$/;

const sameHex = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Request hashes for Idempotency-Key replays. An unkeyed hash of a request is a guessing oracle:
 * an input with little entropy (a 6-digit code in an email) is found from one row by trying every
 * value. A keyed hash (HMAC-SHA256 under a sub-key of CONNECTORS_ENCRYPTION_KEYS, never the
 * encryption key itself) proves equality and reveals nothing without the key. Each hash names its
 * key id, so a replay is compared under the key its row was written with, across key rotation.
 */
export class RequestHasher {
  private readonly keys: Keyring;

  constructor(vault: Pick<Vault, 'subKeyring'>) {
    this.keys = vault.subKeyring(REQUEST_HASH_PURPOSE);
  }

  fingerprint(request: ExecutionRequest): RequestFingerprint {
    const text = canonical(request);
    const mac = (kid: string) => {
      const key = this.keys.keys.get(kid);
      return key && createHmac('sha256', key).update(text).digest('hex');
    };
    const active = this.keys.activeKeyId;
    return {
      stored: `${VERSION}:${active}:${mac(active)!}`,
      matches(stored) {
        if (!stored) return false;
        const [version, kid, hex] = stored.split(':');
        if (version === VERSION && kid !== undefined && hex !== undefined) {
          // A key since removed from the keyring cannot vouch for its rows: a different request, to be safe.
          const expected = mac(kid);
          return expected !== undefined && sameHex(expected, hex);
        }
        // Rows written before keyed hashing; they leave the 24-hour idempotency window soon after an upgrade.
        return legacyHash.test(stored) && sameHex(createHash('sha256').update(text).digest('hex'), stored);
      },
    };
  }
}
