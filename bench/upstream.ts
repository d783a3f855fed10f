/**
 * The bench's upstream: the Resend fake (test/fakes) with a fixed latency, in its own process so
 * its CPU is not the load generator's. Prints `READY <fakeUrl> <controlUrl>`.
 *
 * Control API (127.0.0.1 only):
 *   GET  /arrivals?key=re_…&path=/emails  → arrival times (epoch ms) of the matching requests
 *   POST /clear                          → forget recorded requests and sent emails (memory)
 *   POST /latency?key=re_…&ms=2000|hang  → that key's requests take ms, or are never answered
 *
 * env: BENCH_UPSTREAM_LATENCY_MS (default 20), BENCH_RESEND_KEYS (comma-separated extra full keys).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startResendFake } from '../test/fakes/resend/resend-fake.ts';

const latency = Number(process.env.BENCH_UPSTREAM_LATENCY_MS ?? 20);
// The fake's own per-team rate limit (Resend's 5/s) must not interfere: ours is what is measured.
const fake = await startResendFake({ rateLimitPerSecond: 1_000_000_000 });
fake.setLatency(latency);
for (const key of (process.env.BENCH_RESEND_KEYS ?? '').split(',').filter(Boolean))
  fake.addKey(key, 'full', `team_${key}`);

const control = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method === 'GET' && url.pathname === '/arrivals') {
    const key = url.searchParams.get('key');
    const path = url.searchParams.get('path');
    const times = fake.requests
      .filter((r) => (!key || r.headers.authorization === `Bearer ${key}`) && (!path || r.path === path))
      .map((r) => r.receivedAt.getTime());
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(times));
    return;
  }
  if (req.method === 'POST' && url.pathname === '/latency') {
    const ms = url.searchParams.get('ms');
    fake.setKeyLatency(url.searchParams.get('key') ?? '', ms === 'hang' ? Infinity : Number(ms));
    res.writeHead(204).end();
    return;
  }
  if (req.method === 'POST' && url.pathname === '/clear') {
    fake.requests.length = 0;
    fake.sentEmails.length = 0;
    res.writeHead(204).end();
    return;
  }
  res.writeHead(404).end();
});
control.listen(0, '127.0.0.1', () => {
  process.stdout.write(`READY ${fake.url} http://127.0.0.1:${(control.address() as AddressInfo).port}\n`);
});

const stop = () => {
  control.close();
  void fake.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
