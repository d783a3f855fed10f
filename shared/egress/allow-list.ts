import { inPrefix, parseIp } from './address-class.ts';

/**
 * The operator's exceptions to the egress guard (`EGRESS_ALLOW_HOSTS`): exact host names, IP
 * addresses, and CIDR ranges. A listed name lets through whatever it resolves to; a listed IP or
 * range lets through that address whichever name led to it.
 */
export interface AllowList {
  allowsHost(host: string): boolean;
  allowsAddress(address: string): boolean;
}

const HOST_NAME =
  /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** Lower case, no brackets around an IPv6 literal, no trailing dot: the one spelling compared. */
export function normalizeHost(host: string): string {
  return host
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
}

type Entry = { kind: 'host'; host: string } | { kind: 'range'; bytes: Uint8Array; bits: number };

function parseEntry(raw: string): Entry | null {
  const [addressPart, bitsPart, extra] = normalizeHost(raw.trim()).split('/');
  if (extra !== undefined || !addressPart) return null;
  const bytes = parseIp(addressPart);
  if (bytes) {
    const max = bytes.length * 8;
    const bits = bitsPart === undefined ? max : /^\d{1,3}$/.test(bitsPart) ? Number(bitsPart) : NaN;
    return bits >= 0 && bits <= max ? { kind: 'range', bytes, bits } : null;
  }
  return bitsPart === undefined && HOST_NAME.test(addressPart) ? { kind: 'host', host: addressPart } : null;
}

/** The entries of `EGRESS_ALLOW_HOSTS` that are neither a host name, an IP, nor a CIDR (config errors). */
export function invalidAllowEntries(entries: readonly string[]): string[] {
  return entries.filter((e) => parseEntry(e) === null);
}

export function parseAllowList(entries: readonly string[]): AllowList {
  const parsed = entries.map(parseEntry).filter((e): e is Entry => e !== null);
  const hosts = new Set(parsed.flatMap((e) => (e.kind === 'host' ? [e.host] : [])));
  const ranges = parsed.flatMap((e) => (e.kind === 'range' ? [e] : []));
  return {
    allowsHost: (host) => hosts.has(normalizeHost(host)),
    allowsAddress(address) {
      const bytes = parseIp(normalizeHost(address));
      return !!bytes && ranges.some((r) => r.bytes.length === bytes.length && inPrefix(bytes, r.bytes, r.bits));
    },
  };
}
