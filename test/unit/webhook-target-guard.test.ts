import { describe, expect, it } from 'vitest';
import { isForbiddenWebhookHost, isPrivateAddress, publicOnlyLookup } from '../../shared/webhooks/target-guard.ts';

describe('webhook target guard (SSRF)', () => {
  it.each([
    ['127.0.0.1', true], ['10.1.2.3', true], ['172.16.0.1', true], ['172.31.255.255', true], ['192.168.1.1', true],
    ['169.254.169.254', true], ['100.64.0.1', true], ['0.0.0.0', true], ['::1', true], ['fd00::1', true], ['fe80::1', true],
    ['::ffff:127.0.0.1', true], ['::ffff:10.0.0.1', true],
    ['8.8.8.8', false], ['172.32.0.1', false], ['93.184.216.34', false], ['2606:4700::1111', false], ['example.com', false],
  ])('%s private: %s', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected);
  });

  it('refuses localhost names and private literals at creation', () => {
    for (const host of ['localhost', 'api.localhost', '127.0.0.1', '[::1]', '169.254.169.254']) expect(isForbiddenWebhookHost(host), host).toBe(true);
    for (const host of ['hooks.example.com', '8.8.8.8']) expect(isForbiddenWebhookHost(host), host).toBe(false);
  });

  it('fails the connection-time lookup of a name that resolves to a private address', async () => {
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => publicOnlyLookup('localhost', {}, (e) => resolve(e)));
    expect(err?.code).toBe('ETARGETFORBIDDEN');
  });
});
