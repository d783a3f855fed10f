/**
 * Is this error Postgres or Redis being unreachable (worth waiting out), rather than a bug or a
 * bad request? Used by the api (→ 503) and the worker (→ try the job again later). A Redis at its
 * `maxmemory` (noeviction) refuses writes with OOM until jobs drain: the same, for a caller. So is a
 * Redis Cluster in the seconds of a failover.
 */
const codes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '08006',
  '08001',
  '08003',
  '08004',
]);
const messages =
  /Connection is closed|connection terminated|timeout exceeded when trying to connect|Stream isn't writeable|MaxRetriesPerRequest|Reached the max retries|the database system is (starting|shutting) up|Connection terminated|Client has encountered a connection error|^OOM command not allowed/i;
/** A Redis Cluster moving slots from a failed master to its replica (ioredis's and Redis's words for it). */
const clusterMessages =
  /Too many Cluster redirections|^CLUSTERDOWN|^TRYAGAIN|Failed to refresh slots cache|Cluster isn't ready|None of startup nodes is available/;

export function isInfrastructureError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return (
    codes.has((err as { code?: string }).code ?? '') || messages.test(err.message) || clusterMessages.test(err.message)
  );
}
