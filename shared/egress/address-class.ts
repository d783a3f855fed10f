import { isIP } from 'node:net';

/**
 * What kind of address an IP literal is, for the egress guard. Parsed to bytes by hand (after
 * `net.isIP` has validated the text), so every IPv6 spelling of an address (`::ffff:127.0.0.1`,
 * `::ffff:7f00:1`, `0:0:0:0:0:ffff:7f00:1`) lands on the same bytes, and the IPv4 address that NAT64,
 * 6to4 and IPv4-mapped forms carry is classified like the IPv4 address itself.
 */
export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'cgnat'
  | 'metadata'
  | 'unspecified'
  | 'multicast'
  | 'reserved'
  | 'documentation'
  | 'benchmarking';

type Range = readonly [bytes: readonly number[], prefixBits: number, cls: AddressClass];

/** Checked in order: the more specific entries (metadata) come before the ranges that hold them. */
const IPV4: readonly Range[] = [
  [[169, 254, 169, 254], 32, 'metadata'],
  [[0, 0, 0, 0], 8, 'unspecified'], // "this network"
  [[10, 0, 0, 0], 8, 'private'],
  [[100, 64, 0, 0], 10, 'cgnat'],
  [[127, 0, 0, 0], 8, 'loopback'],
  [[169, 254, 0, 0], 16, 'link_local'],
  [[172, 16, 0, 0], 12, 'private'],
  [[192, 0, 0, 0], 24, 'reserved'], // IETF protocol assignments
  [[192, 0, 2, 0], 24, 'documentation'], // TEST-NET-1
  [[192, 88, 99, 0], 24, 'reserved'], // former 6to4 relay anycast
  [[192, 168, 0, 0], 16, 'private'],
  [[198, 18, 0, 0], 15, 'benchmarking'],
  [[198, 51, 100, 0], 24, 'documentation'], // TEST-NET-2
  [[203, 0, 113, 0], 24, 'documentation'], // TEST-NET-3
  [[224, 0, 0, 0], 4, 'multicast'],
  [[240, 0, 0, 0], 4, 'reserved'], // includes 255.255.255.255 (broadcast)
];

const v6 = (...hextets: number[]): number[] => hextets.flatMap((h) => [h >> 8, h & 0xff]);

/** IPv6 ranges refused outright (the forms that embed an IPv4 address are handled before these). */
const IPV6: readonly Range[] = [
  [v6(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254), 128, 'metadata'], // AWS instance metadata over IPv6
  [v6(0, 0, 0, 0, 0, 0, 0, 0), 128, 'unspecified'],
  [v6(0, 0, 0, 0, 0, 0, 0, 1), 128, 'loopback'],
  [v6(0, 0, 0, 0, 0, 0xffff, 0, 0), 96, 'reserved'], // IPv4-translated (SIIT, ::ffff:0:a.b.c.d)
  [v6(0, 0, 0, 0, 0, 0, 0, 0), 96, 'reserved'], // IPv4-compatible (deprecated, never routed)
  [v6(0x0064, 0xff9b, 0x0001), 48, 'reserved'], // local-use NAT64: the IPv4 part's position is the operator's choice
  [v6(0x2001, 0x0db8), 32, 'documentation'],
  [v6(0x3fff), 20, 'documentation'],
  [v6(0x2001), 23, 'reserved'], // IETF protocol assignments (Teredo, ORCHID, benchmarking 2001:2::/48)
  [v6(0xfc00), 7, 'private'], // unique local
  [v6(0xfe80), 10, 'link_local'],
  [v6(0xfec0), 10, 'reserved'], // site-local (deprecated)
  [v6(0xff00), 8, 'multicast'],
];
/** Global unicast: any IPv6 address outside it (and not embedding an IPv4 one) is reserved. */
const GLOBAL_UNICAST: Range = [v6(0x2000), 3, 'public'];

export function inPrefix(bytes: ArrayLike<number>, prefix: ArrayLike<number>, bits: number): boolean {
  for (let i = 0; i < bits / 8; i++) {
    const mask = bits - i * 8 >= 8 ? 0xff : (0xff << (8 - (bits - i * 8))) & 0xff;
    if ((bytes[i]! & mask) !== (prefix[i]! & mask)) return false;
  }
  return true;
}

/** The bytes of an IP literal (4 or 16), or null when `text` is not one. A zone (`%eth0`) is ignored. */
export function parseIp(text: string): Uint8Array | null {
  const address = text.replace(/%.*$/, '');
  const family = isIP(address);
  if (family === 4) return Uint8Array.from(address.split('.').map(Number));
  if (family !== 6) return null;
  // A dotted IPv4 tail ("::ffff:1.2.3.4") is rewritten as its two hex groups first.
  const hex = address.replace(
    /(\d+)\.(\d+)\.(\d+)\.(\d+)$/,
    (_m, a, b, c, d) => `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`,
  );
  const [head = '', rest] = hex.split('::');
  const words = (s: string | undefined) => (s ? s.split(':').map((w) => parseInt(w, 16)) : []);
  const left = words(head);
  const right = words(rest);
  const gap = rest === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0);
  const bytes = [...left, ...gap, ...right].flatMap((h) => [h >> 8, h & 0xff]);
  return bytes.length === 16 ? Uint8Array.from(bytes) : null;
}

/** The IPv4 address an IPv6 one carries in a translation form that routes to that IPv4 address. */
function embeddedIpv4(b: Uint8Array): Uint8Array | null {
  if (inPrefix(b, v6(0, 0, 0, 0, 0, 0xffff), 96)) return b.subarray(12); // IPv4-mapped ::ffff:0:0/96
  if (inPrefix(b, v6(0x0064, 0xff9b), 96)) return b.subarray(12); // NAT64 well-known prefix 64:ff9b::/96
  if (inPrefix(b, v6(0x2002), 16)) return b.subarray(2, 6); // 6to4 2002:AABB:CCDD::/48
  return null;
}

function classifyBytes(b: Uint8Array): AddressClass {
  if (b.length === 4) return IPV4.find(([p, bits]) => inPrefix(b, p, bits))?.[2] ?? 'public';
  const v4 = embeddedIpv4(b);
  if (v4) return classifyBytes(v4);
  const hit = IPV6.find(([p, bits]) => inPrefix(b, p, bits));
  if (hit) return hit[2];
  return inPrefix(b, GLOBAL_UNICAST[0], GLOBAL_UNICAST[1]) ? 'public' : 'reserved';
}

/** The class of an IP literal (brackets allowed), or null when `text` is not an IP literal. */
export function classifyAddress(text: string): AddressClass | null {
  const bytes = parseIp(text.replace(/^\[|\]$/g, ''));
  return bytes ? classifyBytes(bytes) : null;
}
