import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyringError, parseKeyring } from '../../shared/crypto/keyring.ts';
import { DecryptionError, Vault } from '../../shared/crypto/vault.ts';

const key = () => randomBytes(32).toString('base64');

describe('keyring', () => {
  it('encrypts with the first key and knows every listed key', () => {
    const ring = parseKeyring(`new:${key()}, old:${key()}`);
    expect(ring.activeKeyId).toBe('new');
    expect([...ring.keys.keys()]).toEqual(['new', 'old']);
  });

  it.each([
    ['', /no key/],
    ['k1', /not kid:base64key/],
    [`k1:${randomBytes(16).toString('base64')}`, /must be 32 bytes/],
    [`k1:${key()},k1:${key()}`, /listed twice/],
    [`bad id:${key()}`, /key id/],
  ])('rejects %j with a clear message', (spec, message) => {
    expect(() => parseKeyring(spec)).toThrow(KeyringError);
    expect(() => parseKeyring(spec)).toThrow(message);
  });

  it('never puts key material in its error messages', () => {
    const material = randomBytes(16).toString('base64');
    try {
      parseKeyring(`k1:${material}`);
    } catch (err) {
      expect((err as Error).message).not.toContain(material);
    }
  });
});

describe('vault (AES-256-GCM)', () => {
  const vault = new Vault(parseKeyring(`k1:${key()}`));
  const secret = { apiKey: 're_live_1234567890' };

  it('round-trips and never stores the plaintext', () => {
    const sealed = vault.seal(secret, 'conn_a');
    expect(sealed.keyId).toBe('k1');
    expect(sealed.iv).toHaveLength(12);
    expect(sealed.tag).toHaveLength(16);
    expect(sealed.ciphertext.toString('utf8')).not.toContain('re_live');
    expect(vault.open(sealed, 'conn_a')).toEqual(secret);
  });

  it('uses a fresh IV for every write', () => {
    const a = vault.seal(secret, 'conn_a');
    const b = vault.seal(secret, 'conn_a');
    expect(a.iv.equals(b.iv)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
  });

  it('fails on a tampered ciphertext, IV or tag', () => {
    const sealed = vault.seal(secret, 'conn_a');
    const flip = (b: Buffer) => {
      const c = Buffer.from(b);
      c[0] = c[0]! ^ 1;
      return c;
    };
    expect(() => vault.open({ ...sealed, ciphertext: flip(sealed.ciphertext) }, 'conn_a')).toThrow(DecryptionError);
    expect(() => vault.open({ ...sealed, iv: flip(sealed.iv) }, 'conn_a')).toThrow(DecryptionError);
    expect(() => vault.open({ ...sealed, tag: flip(sealed.tag) }, 'conn_a')).toThrow(DecryptionError);
  });

  it('fails when the ciphertext is moved to another row (the row id is authenticated data)', () => {
    const sealed = vault.seal(secret, 'conn_a');
    expect(() => vault.open(sealed, 'conn_b')).toThrow(/failed authentication/);
  });

  it('fails with the wrong key under the same key id', () => {
    const sealed = vault.seal(secret, 'conn_a');
    const other = new Vault(parseKeyring(`k1:${key()}`));
    expect(() => other.open(sealed, 'conn_a')).toThrow(/failed authentication/);
  });

  it('names a key id missing from the ring', () => {
    const sealed = vault.seal(secret, 'conn_a');
    const other = new Vault(parseKeyring(`k2:${key()}`));
    expect(() => other.open(sealed, 'conn_a')).toThrow(/"k1" is not in the keyring/);
  });

  it('decrypts with an older key after rotation while sealing with the new one', () => {
    const k1 = key();
    const before = new Vault(parseKeyring(`k1:${k1}`)).seal(secret, 'conn_a');
    const rotated = new Vault(parseKeyring(`k2:${key()},k1:${k1}`));
    expect(rotated.open(before, 'conn_a')).toEqual(secret);
    expect(rotated.seal(secret, 'conn_a').keyId).toBe('k2');
  });
});
