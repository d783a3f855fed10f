import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResendFake } from '../fakes/resend/resend-fake.ts';
import { type ApiClient, setUpProject } from './http.ts';

/** Polls `probe` until it returns something other than undefined. */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
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
    answerFromNowOn: () => {
      state.hang = false;
    },
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
  if (tested.status !== 200 || tested.body.status !== 'broken')
    throw new Error(`connection did not break: ${JSON.stringify(tested.body)}`);
  return connectionId;
}

/** Reads one sample of a Prometheus text exposition (0 when absent). */
export async function metricValue(metricsUrl: string, sample: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

/** One delivery a recording receiver got: headers, the raw body, and the body parsed. */
export interface RecordedDelivery {
  headers: Record<string, string>;
  raw: string;
  body: any;
}

/** A webhook receiver on loopback that answers 204 and keeps every delivery, raw body included (for signature checks). */
export async function startRecordingReceiver() {
  const received: RecordedDelivery[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      received.push({ headers, raw, body: JSON.parse(raw) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** The Standard Webhooks headers of a delivery, as a receiver hands them to a verifying library. */
export const standardHeaders = (d: RecordedDelivery) => ({
  'webhook-id': d.headers['webhook-id']!,
  'webhook-timestamp': d.headers['webhook-timestamp']!,
  'webhook-signature': d.headers['webhook-signature']!,
});
