import { hkdfSync } from 'node:crypto';

/**
 * The encryption keyring from CONNECTORS_ENCRYPTION_KEYS: `kid:base64key,kid2:base64key`.
 * The first key encrypts; every listed key decrypts, so a key can be rotated in before the old one leaves.
 */
export interface Keyring {
  activeKeyId: string;
  keys: ReadonlyMap<string, Buffer>;
}

export class KeyringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyringError';
  }
}

const KEY_BYTES = 32;
const kidPattern = /^[A-Za-z0-9_-]{1,32}$/;

export function parseKeyring(spec: string): Keyring {
  const keys = new Map<string, Buffer>();
  const entries = spec
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0)
    throw new KeyringError('CONNECTORS_ENCRYPTION_KEYS: no key given (format kid:base64key,...)');
  for (const [index, entry] of entries.entries()) {
    const sep = entry.indexOf(':');
    if (sep <= 0) throw new KeyringError(`CONNECTORS_ENCRYPTION_KEYS: entry ${index + 1} is not kid:base64key`);
    const kid = entry.slice(0, sep);
    // Never include key material in a message.
    if (!kidPattern.test(kid))
      throw new KeyringError(`CONNECTORS_ENCRYPTION_KEYS: key id of entry ${index + 1} must match ${kidPattern}`);
    if (keys.has(kid)) throw new KeyringError(`CONNECTORS_ENCRYPTION_KEYS: key id "${kid}" is listed twice`);
    const material = Buffer.from(entry.slice(sep + 1), 'base64');
    if (material.length !== KEY_BYTES) {
      throw new KeyringError(
        `CONNECTORS_ENCRYPTION_KEYS: key "${kid}" must be ${KEY_BYTES} bytes of base64 (got ${material.length})`,
      );
    }
    keys.set(kid, material);
  }
  return { activeKeyId: entries[0]!.slice(0, entries[0]!.indexOf(':')), keys };
}

/**
 * The same key ids, each key replaced by an HKDF-SHA256 sub-key for one `purpose` (e.g.
 * `request-hash`), so an encryption key is never used directly for anything but encryption, and a
 * value computed for one purpose says nothing about another. Rotation follows the keyring: the
 * first key is still the active one.
 */
export function deriveKeyring(keyring: Keyring, purpose: string): Keyring {
  const keys = new Map<string, Buffer>();
  for (const [kid, key] of keyring.keys) {
    keys.set(kid, Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `connector-engine/${purpose}`, KEY_BYTES)));
  }
  return { activeKeyId: keyring.activeKeyId, keys };
}
