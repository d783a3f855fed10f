import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.ts';
import { classifyAddress } from '../../shared/egress/address-class.ts';
import {
  createEgressGuard,
  EGRESS_REFUSED_MESSAGE,
  type EgressGuard,
  EgressRefusedError,
  type Resolver,
} from '../../shared/egress/egress-guard.ts';

/** A resolver that knows only these names (everything else is NXDOMAIN). */
const fakeDns =
  (names: Record<string, string[]>): Resolver =>
  async (hostname) => {
    const addresses = names[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

const lookupAll = (guard: EgressGuard, host: string) =>
  new Promise<{ err: (NodeJS.ErrnoException & { refusal?: unknown }) | null; addresses: unknown }>((resolve) =>
    guard.lookup(host, { all: true }, (err, addresses) => resolve({ err: err as never, addresses })),
  );

describe('egress guard: address classes', () => {
  it.each([
    // IPv4
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.1.1', 'link_local'],
    ['169.254.169.254', 'metadata'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.10', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.99', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public'],
    ['100.128.0.1', 'public'],
    ['93.184.216.34', 'public'],
    ['198.20.0.1', 'public'],
    // IPv6
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fd00::1', 'private'],
    ['fc00::1', 'private'],
    ['fe80::1', 'link_local'],
    ['fd00:ec2::254', 'metadata'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['2001::1', 'reserved'],
    ['fec0::1', 'reserved'],
    ['100::1', 'reserved'],
    ['2606:4700::1111', 'public'],
    ['2001:4860:4860::8888', 'public'],
    // IPv4 inside IPv6: mapped, NAT64, 6to4 carry the class of their IPv4 address
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0:0:0:0:0:ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:8.8.8.8', 'public'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['64:ff9b::c000:20a', 'documentation'],
    ['64:ff9b::808:808', 'public'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:a00:1::1', 'private'],
    ['2002:c0a8:101::', 'private'],
    ['2002:808:808::1', 'public'],
    // forms refused whatever they carry: IPv4-compatible, IPv4-translated, local-use NAT64
    ['::127.0.0.1', 'reserved'],
    ['::7f00:1', 'reserved'],
    ['::8.8.8.8', 'reserved'],
    ['::ffff:0:7f00:1', 'reserved'],
    ['64:ff9b:1::808:808', 'reserved'],
    // not IP literals
    ['example.com', null],
    ['127.0.0.1.nip.io', null],
  ])('%s is %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });
});

describe('egress guard: URLs', () => {
  const guard = createEgressGuard({ resolve: fakeDns({}) });
  const refused = (url: string) => guard.checkUrl(url) !== null;

  it('refuses IP literals of every refused class, in every spelling the URL parser accepts', () => {
    for (const url of [
      'http://127.0.0.1/x',
      'http://10.0.0.8/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://100.64.0.1/',
      'http://0.0.0.0:8080/',
      'http://192.0.2.1/',
      'http://198.51.100.1/',
      'http://203.0.113.1/',
      'http://198.18.0.1/',
      'http://224.0.0.1/',
      'http://255.255.255.255/',
      'http://[::1]/x',
      'http://[::]/',
      'http://[::ffff:7f00:1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::127.0.0.1]/',
      'http://[64:ff9b::7f00:1]/',
      'http://[64:ff9b::127.0.0.1]/',
      'http://[2002:7f00:1::]/',
      'http://[fd00:ec2::254]/',
      'http://[fe80::1]/',
      'http://[2001:db8::1]/',
      'http://[::ffff:0:7f00:1]/',
      // WHATWG URL parsing turns these into 127.0.0.1 (decimal, hex, octal, short forms): checked after parsing.
      'http://2130706433/',
      'http://0x7f000001/',
      'http://0x7f.1/',
      'http://0177.0.0.1/',
      'http://127.1/',
      'http://017700000001/',
    ]) {
      expect(refused(url), url).toBe(true);
    }
  });

  it('refuses names local by their form, and other schemes; lets public names and addresses through', () => {
    for (const url of [
      'http://localhost:9/x',
      'http://LOCALHOST./',
      'http://api.localhost/',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://metadata.goog/',
      'http://redis:6379/',
      'http://printer.local/',
      'ftp://example.com/',
      'file:///etc/passwd',
      'not a url',
    ]) {
      expect(refused(url), url).toBe(true);
    }
    for (const url of [
      'https://hooks.example.com/ce',
      'http://8.8.8.8/',
      'https://[2606:4700::1111]/',
      'https://[64:ff9b::808:808]/',
      'https://[::ffff:8.8.8.8]/',
    ]) {
      expect(guard.checkUrl(url), url).toBeNull();
    }
  });

  it('lets the operator except hosts, IPs and CIDRs (EGRESS_ALLOW_HOSTS), and nothing else', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://u@h/db',
      REDIS_URL: 'redis://h:6379',
      CONNECTORS_ENCRYPTION_KEYS: 'k1:AAAA',
      EGRESS_ALLOW_HOSTS: ' hooks.corp.internal , 127.0.0.1, 10.20.0.0/16,[fd12::1],fd99::/16 ',
    });
    expect(config.EGRESS_ALLOW_HOSTS).toEqual([
      'hooks.corp.internal',
      '127.0.0.1',
      '10.20.0.0/16',
      '[fd12::1]',
      'fd99::/16',
    ]);
    const allowing = createEgressGuard({ allow: config.EGRESS_ALLOW_HOSTS });
    for (const url of [
      'http://hooks.corp.internal/x',
      'http://HOOKS.corp.internal./x',
      'http://127.0.0.1:4000/',
      'http://10.20.3.4/',
      'http://[fd12::1]/',
      'http://[fd99:1::5]/',
    ]) {
      expect(allowing.checkUrl(url), url).toBeNull();
    }
    for (const url of [
      'http://other.corp.internal/',
      'http://127.0.0.2/',
      'http://10.21.0.1/',
      'http://[fd12::2]/',
      'http://169.254.169.254/',
      'http://localhost/',
    ]) {
      expect(allowing.checkUrl(url), url).not.toBeNull();
    }
    expect(() =>
      loadConfig({
        DATABASE_URL: 'postgres://u@h/db',
        REDIS_URL: 'redis://h:6379',
        CONNECTORS_ENCRYPTION_KEYS: 'k1:AAAA',
        EGRESS_ALLOW_HOSTS: '10.0.0.0/33,http://x',
      }),
    ).toThrow(/EGRESS_ALLOW_HOSTS/);
  });

  it('keeps WEBHOOK_ALLOW_PRIVATE_TARGETS as a deprecated alias for loopback and private ranges only', () => {
    const alias = createEgressGuard({ allowPrivate: true });
    for (const url of [
      'http://127.0.0.1:4000/',
      'http://localhost:4000/',
      'http://[::1]/',
      'http://10.0.0.8/',
      'http://[fd00::1]/',
      'http://[::ffff:7f00:1]/',
    ]) {
      expect(alias.checkUrl(url), url).toBeNull();
    }
    for (const url of [
      'http://169.254.169.254/',
      'http://[fd00:ec2::254]/',
      'http://100.64.0.1/',
      'http://[fe80::1]/',
      'http://metadata.google.internal/',
      'http://192.0.2.1/',
    ]) {
      expect(alias.checkUrl(url), url).not.toBeNull();
    }
  });
});

describe('egress guard: connect-time lookup', () => {
  const dns = fakeDns({
    'hooks.example.com': ['93.184.216.34', '2606:2800:220:1::1'],
    'rebind.example.com': ['93.184.216.34', '127.0.0.1'],
    'mapped.example.com': ['::ffff:10.0.0.1'],
    'nat64.example.com': ['64:ff9b::a9fe:a9fe'],
    'internal.example.com': ['10.0.0.5'],
  });
  const guard = createEgressGuard({ resolve: dns });

  it('answers with the checked addresses, in both callback forms', async () => {
    expect(await lookupAll(guard, 'hooks.example.com')).toEqual({
      err: null,
      addresses: [
        { address: '93.184.216.34', family: 4 },
        { address: '2606:2800:220:1::1', family: 6 },
      ],
    });
    const one = await new Promise((resolve) =>
      guard.lookup('hooks.example.com', {}, (err, address, family) => resolve({ err, address, family })),
    );
    expect(one).toEqual({ err: null, address: '93.184.216.34', family: 4 });
  });

  it('refuses a name when any of its addresses is refused, with the same error as a name that does not exist', async () => {
    const outcomes = await Promise.all(
      [
        'rebind.example.com',
        'mapped.example.com',
        'nat64.example.com',
        'internal.example.com',
        'no-such-name.example.com',
      ].map((h) => lookupAll(guard, h)),
    );
    for (const { err } of outcomes) {
      expect(err).toBeInstanceOf(EgressRefusedError);
      expect({ code: err!.code, message: err!.message }).toEqual({
        code: 'EGRESS_REFUSED',
        message: EGRESS_REFUSED_MESSAGE,
      });
    }
  });

  it('lets a listed name resolve to anything, and a listed range be reached through any name', async () => {
    const allowing = createEgressGuard({ resolve: dns, allow: ['internal.example.com', '127.0.0.0/8'] });
    expect((await lookupAll(allowing, 'internal.example.com')).err).toBeNull();
    expect((await lookupAll(allowing, 'rebind.example.com')).err).toBeNull();
    expect((await lookupAll(allowing, 'mapped.example.com')).err).toBeInstanceOf(EgressRefusedError);
  });
});
