import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResendFake } from '../fakes/resend/resend-fake.ts';
import { setUpProject, type ApiClient } from './http.ts';

/** Polls `probe` until it returns something other than undefined. */
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A webhook receiver listening on every loopback form (`::`, so 127.0.0.1, [::1] and
 * [::ffff:7f00:1] all reach it). It answers 204, or, while `hang` is set, accepts the request and
 * never answers: a receiver that holds a delivery slot for a whole timeout.
 */
export async function startTestReceiver(options: { hang?: boolean } = {}) {
  const requests: IncomingMessage[] = [];
  const state = { hang: options.hang ?? false, open: 0 };
  const server: Server = createServer((req, res) => {
    requests.push(req);
    state.open++;
    res.on('close', () => state.open--);
    if (!state.hang) req.resume().on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((r) => server.listen(0, '::', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path = '/hooks') => `http://127.0.0.1:${port}${path}`,
    requests,
    /** Requests accepted and not answered yet. */
    open: () => state.open,
    answerFromNowOn: () => void (state.hang = false),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export type TestReceiver = Awaited<ReturnType<typeof startTestReceiver>>;

/** Makes one connection of the workspace turn broken (a revoked Resend key found by a test), which emits connection.broken. */
export async function breakAConnection(admin: ApiClient, fake: ResendFake): Promise<string> {
  const key = `re_break_${randomBytes(12).toString('hex')}`;
  fake.addKey(key, 'full');
  const { connectionId } = await setUpProject(admin, { connectorId: 'resend', credentials: { apiKey: key } });
  fake.revokeKey(key);
  const tested = await admin.post(`/v1/connections/${connectionId}/test`);
  if (tested.status !== 200 || tested.body.status !== 'broken') throw new Error(`connection did not break: ${JSON.stringify(tested.body)}`);
  return connectionId;
}

/** Reads one sample of a Prometheus text exposition (0 when absent). */
export async function metricValue(metricsUrl: string, sample: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}
