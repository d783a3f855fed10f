import type { Request } from 'express';

/**
 * One spelling per client: on the api's dual-stack socket an IPv4 peer shows as `::ffff:a.b.c.d`,
 * and the per-address limits (connections, failed authentications) must not count it twice.
 */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
}

/**
 * The address a request comes from, for per-client limits: the connection's peer, unless the
 * operator listed trusted proxies in TRUST_PROXY; then Express's `req.ip`, the nearest address in
 * X-Forwarded-For that is not a trusted proxy. Without that setting X-Forwarded-For is ignored, so a
 * client cannot pick its own address.
 */
export function clientAddress(req: Request): string {
  return normalizeAddress(req.ip ?? req.socket.remoteAddress);
}
