import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { type AddressClass, classifyAddress } from './address-class.ts';
import { normalizeHost, parseAllowList } from './allow-list.ts';

/**
 * The one egress guard: every request the engine sends to an address a tenant chose (outgoing
 * webhook deliveries today, custom connectors next) passes it, so a tenant cannot make the engine
 * reach its own network (loopback, private ranges, cloud metadata, ...). See
 * docs/decisions/0008-egress-guard.md.
 *
 * How to use it for a request:
 * - got: spread `guard.gotOptions()` into the request options. It checks the URL (scheme, host name,
 *   IP literal) before the first request and before every redirect, and hands got a `dnsLookup` that
 *   checks every resolved address, so the address checked is the address connected to.
 * - node:http / node:net: call `guard.checkUrl(url)` first (Node skips `lookup` for IP literals),
 *   then pass `lookup: guard.lookup` to `http.request`, an `http.Agent`, or `net.connect`.
 *
 * A refusal and a name that does not resolve fail alike (`EgressRefusedError`, one message), so the
 * answer never tells a tenant which internal names exist.
 */
export interface EgressGuard {
  /** Static check of a URL: http(s), a host name that is not local by its form, an allowed IP literal. Null when it may go ahead. */
  checkUrl(url: string | URL): EgressRefusal | null;
  /** A `dns.lookup` replacement that fails with EgressRefusedError when any resolved address is not allowed. */
  lookup: LookupFunction;
  /** Options to spread into a got request (`dnsLookup` and a `beforeRequest` hook that also runs on redirects). */
  gotOptions(): {
    dnsLookup: LookupFunction;
    hooks: { beforeRequest: Array<(options: { url?: URL | string }) => void> };
  };
}

/** Why a target was refused: for the operator's logs only, never for the tenant. */
export interface EgressRefusal {
  reason: AddressClass | 'scheme' | 'invalid_url' | 'local_name' | 'unresolvable';
}

/** The message every refusal and every failed resolution carries. */
export const EGRESS_REFUSED_MESSAGE = 'target is not allowed or could not be reached';

export class EgressRefusedError extends Error {
  readonly code = 'EGRESS_REFUSED';
  constructor(readonly refusal: EgressRefusal) {
    super(EGRESS_REFUSED_MESSAGE);
    this.name = 'EgressRefusedError';
  }
}

export type Resolver = (hostname: string, family: 0 | 4 | 6) => Promise<LookupAddress[]>;

export interface EgressGuardOptions {
  /** `EGRESS_ALLOW_HOSTS`: host names, IPs and CIDRs let through. */
  allow?: readonly string[];
  /** The deprecated `WEBHOOK_ALLOW_PRIVATE_TARGETS=true`: loopback and private ranges (and `localhost`) are let through. */
  allowPrivate?: boolean;
  /** How names are resolved; tests inject one. Defaults to the system resolver (`dns.lookup`). */
  resolve?: Resolver;
}

const systemResolve: Resolver = (hostname, family) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, family, verbatim: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses),
    ),
  );

/** Host names local by their form: no DNS answer about them can be trusted to be public. */
function isLocalName(host: string): 'loopback' | 'other' | null {
  if (host === 'localhost' || host.endsWith('.localhost')) return 'loopback';
  // Dotless names are completed by the resolver's search domains (docker service names, intranets);
  // .internal, .local and metadata.goog are private-use or cloud metadata names.
  if (!host.includes('.') || /\.(internal|local|home\.arpa)$/.test(host) || host === 'metadata.goog') return 'other';
  return null;
}

export function createEgressGuard(options: EgressGuardOptions = {}): EgressGuard {
  const allowList = parseAllowList(options.allow ?? []);
  const resolve = options.resolve ?? systemResolve;
  const aliasClasses: ReadonlySet<AddressClass> = new Set(options.allowPrivate ? ['loopback', 'private'] : []);

  const checkAddress = (address: string): EgressRefusal | null => {
    const cls = classifyAddress(address);
    if (cls === null) return { reason: 'invalid_url' };
    if (cls === 'public' || aliasClasses.has(cls) || allowList.allowsAddress(address)) return null;
    return { reason: cls };
  };

  const checkUrl = (input: string | URL): EgressRefusal | null => {
    let url: URL;
    try {
      url = typeof input === 'string' ? new URL(input) : input;
    } catch {
      return { reason: 'invalid_url' };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return { reason: 'scheme' };
    const host = normalizeHost(url.hostname);
    if (allowList.allowsHost(host)) return null;
    if (classifyAddress(host) !== null) return checkAddress(host);
    const local = isLocalName(host);
    if (local === null || (local === 'loopback' && aliasClasses.has('loopback'))) return null;
    return { reason: 'local_name' };
  };

  const resolveChecked = async (hostname: string, family: 0 | 4 | 6): Promise<LookupAddress[]> => {
    let addresses: LookupAddress[];
    try {
      addresses = await resolve(hostname, family);
    } catch {
      throw new EgressRefusedError({ reason: 'unresolvable' });
    }
    if (addresses.length === 0) throw new EgressRefusedError({ reason: 'unresolvable' });
    if (allowList.allowsHost(hostname)) return addresses;
    // One refused address refuses the name: a mix of public and private answers is a rebinding trick.
    for (const a of addresses) {
      const refusal = checkAddress(a.address);
      if (refusal) throw new EgressRefusedError(refusal);
    }
    return addresses;
  };

  const lookup = ((hostname: string, opts: unknown, callback?: unknown) => {
    const cb = (typeof opts === 'function' ? opts : callback) as (
      err: Error | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void;
    const o = (typeof opts === 'object' && opts !== null ? opts : typeof opts === 'number' ? { family: opts } : {}) as {
      family?: number | string;
      all?: boolean;
    };
    const family = o.family === 4 || o.family === 'IPv4' ? 4 : o.family === 6 || o.family === 'IPv6' ? 6 : 0;
    resolveChecked(normalizeHost(hostname), family).then(
      (addresses) => (o.all ? cb(null, addresses) : cb(null, addresses[0]!.address, addresses[0]!.family)),
      (err: Error) => cb(err, o.all ? [] : ''),
    );
  }) as LookupFunction;

  return {
    checkUrl,
    lookup,
    gotOptions: () => ({
      dnsLookup: lookup,
      hooks: {
        // got runs beforeRequest hooks before the first request and before each redirected one.
        beforeRequest: [
          (req) => {
            const refusal = checkUrl(req.url ?? '');
            if (refusal) throw new EgressRefusedError(refusal);
          },
        ],
      },
    }),
  };
}

/** The guard the settings describe (`EGRESS_ALLOW_HOSTS`, and the deprecated `WEBHOOK_ALLOW_PRIVATE_TARGETS`). */
export function egressGuardFromConfig(
  config: { EGRESS_ALLOW_HOSTS: readonly string[]; WEBHOOK_ALLOW_PRIVATE_TARGETS: boolean },
  resolve?: Resolver,
): EgressGuard {
  return createEgressGuard({
    allow: config.EGRESS_ALLOW_HOSTS,
    allowPrivate: config.WEBHOOK_ALLOW_PRIVATE_TARGETS,
    ...(resolve ? { resolve } : {}),
  });
}
