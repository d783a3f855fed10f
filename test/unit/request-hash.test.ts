import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RequestHasher } from '../../api/execution/request-hash.ts';
import { parseKeyring } from '../../shared/crypto/keyring.ts';
import { Vault } from '../../shared/crypto/vault.ts';

const key = () => randomBytes(32).toString('base64');
const hasher = (spec: string) => new RequestHasher(new Vault(parseKeyring(spec)));
const request = (text: string) => ({
  connectorId: 'resend',
  actionId: 'sendEmail',
  input: { to: 'b@example.com', text },
});

describe('request hashes across key rotation', () => {
  const k1 = key();
  const k2 = key();

  it('compares a row under the key it was written with, after a new key became active', () => {
    const stored = hasher(`k1:${k1}`).fingerprint(request('code 123456')).stored;
    const rotated = hasher(`k2:${k2},k1:${k1}`);
    expect(rotated.fingerprint(request('code 123456')).stored).toMatch(/^h1:k2:/);
    expect(rotated.fingerprint(request('code 123456')).matches(stored)).toBe(true);
    expect(rotated.fingerprint(request('code 123457')).matches(stored)).toBe(false);
  });

  it('never uses the encryption key itself, and a removed key vouches for nothing', () => {
    const fp = hasher(`k1:${k1}`).fingerprint(request('x'));
    const text = '{"actionId":"sendEmail","connectorId":"resend","input":{"text":"x","to":"b@example.com"}}';
    expect(fp.stored).not.toContain(createHash('sha256').update(text).digest('hex'));
    expect(hasher(`k2:${k2}`).fingerprint(request('x')).matches(fp.stored)).toBe(false);
  });

  it('accepts the unkeyed hash of rows written before keyed hashing, and nothing malformed', () => {
    const text = '{"actionId":"sendEmail","connectorId":"resend","input":{"text":"x","to":"b@example.com"}}';
    const fp = hasher(`k1:${k1}`).fingerprint(request('x'));
    expect(fp.matches(createHash('sha256').update(text).digest('hex'))).toBe(true);
    for (const bad of [null, '', 'h1:k1:', 'h1:k1:zz', 'h9:k1:00', 'e'.repeat(64)]) expect(fp.matches(bad)).toBe(false);
  });
});
