import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { deriveKeyring, type Keyring } from './keyring.ts';

/**
 * Credentials at rest: AES-256-GCM, a fresh 96-bit IV per write, the auth tag stored, and the owning
 * row's id as additional authenticated data so a ciphertext copied onto another row fails to open.
 */
export interface SealedSecret {
  keyId: string;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

export class DecryptionError extends Error {
  constructor(
    readonly reason: 'unknown_key' | 'tampered_or_wrong_key',
    keyId: string,
  ) {
    super(
      reason === 'unknown_key' ? `encryption key "${keyId}" is not in the keyring` : 'ciphertext failed authentication',
    );
    this.name = 'DecryptionError';
  }
}

export class Vault {
  constructor(private readonly keyring: Keyring) {}

  get activeKeyId(): string {
    return this.keyring.activeKeyId;
  }

  hasKey(keyId: string): boolean {
    return this.keyring.keys.has(keyId);
  }

  /** Sub-keys for one other purpose (keyring.ts deriveKeyring): the encryption keys never leave the vault. */
  subKeyring(purpose: string): Keyring {
    return deriveKeyring(this.keyring, purpose);
  }

  seal(value: unknown, aad: string): SealedSecret {
    const keyId = this.keyring.activeKeyId;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keyring.keys.get(keyId)!, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return { keyId, iv, tag: cipher.getAuthTag(), ciphertext };
  }

  open<T = unknown>(sealed: SealedSecret, aad: string): T {
    const key = this.keyring.keys.get(sealed.keyId);
    if (!key) throw new DecryptionError('unknown_key', sealed.keyId);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv);
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(sealed.tag);
      const plain = Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as T;
    } catch {
      throw new DecryptionError('tampered_or_wrong_key', sealed.keyId);
    }
  }
}
