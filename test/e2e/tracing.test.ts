import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine, waitForLog } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';

/**
 * OpenTelemetry traces (docs/decisions/0014-tracing.md), as production runs them: the api and a worker
 * as OS processes configured by the standard OTEL_* variables, exporting OTLP/HTTP JSON to a collector
 * in this test. One call is one trace: the api's SERVER span, its PRODUCER span as the job is queued,
 * the worker's CONSUMER span, and the CLIENT span of the upstream request, whose `traceparent` the
 * upstream (the Resend fake) receives.
 */

/** A span as the collector received it, with the service that sent it. */
interface ReceivedSpan {
  service: string;
  resource: Record<string, unknown>;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
}

const KIND = { server: 2, client: 3, producer: 4, consumer: 5 } as const;

/** An in-process OTLP/HTTP collector: keeps every span POSTed to /v1/traces (JSON). */
async function startCollector() {
  const spans: ReceivedSpan[] = [];
  let posts = 0;
  const attributeValue = (v: Record<string, unknown>) =>
    v.stringValue ?? (v.intValue === undefined ? (v.boolValue ?? v.doubleValue) : Number(v.intValue));
  const attributesOf = (list: Array<{ key: string; value: Record<string, unknown> }> = []) =>
    Object.fromEntries(list.map((a) => [a.key, attributeValue(a.value)]));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts++;
      if (req.url === '/v1/traces' && String(req.headers['content-type']).includes('json')) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const rs of body.resourceSpans ?? []) {
          const resource = attributesOf(rs.resource?.attributes);
          const service = String(resource['service.name']);
          for (const ss of rs.scopeSpans ?? [])
            for (const s of ss.spans ?? [])
              spans.push({
                service,
                resource,
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId ?? '',
                name: s.name,
                kind: s.kind,
                attributes: attributesOf(s.attributes),
              });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    posts: () => posts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type Collector = Awaited<ReturnType<typeof startCollector>>;

/** Waits (generously: batches are exported every 100 ms) until the trace holds the four spans of a call. */
async function spansOfCall(collector: Collector, traceId: string): Promise<ReceivedSpan[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const spans = collector.spans.filter((s) => s.traceId === traceId);
    const kinds = new Set(spans.map((s) => s.kind));
    if (Object.values(KIND).every((k) => kinds.has(k))) return spans;
    if (Date.now() > deadline) throw new Error(`trace ${traceId} incomplete: ${JSON.stringify(spans)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The one span of a kind in the trace. */
function only(spans: ReceivedSpan[], kind: number): ReceivedSpan {
  const found = spans.filter((s) => s.kind === kind);
  expect(found, `spans of kind ${kind}: ${JSON.stringify(spans)}`).toHaveLength(1);
  return found[0]!;
}

const email = { from: 'Shop <orders@example.com>', to: ['ada@example.com'], subject: 'Traced', text: 'Hello' };
const callerTraceparent = () => `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;

/** A collector, the Resend fake, and the api and a worker as processes exporting to the collector (unless `otel` says otherwise). */
async function startTracedEngine(otel: Record<string, string>) {
  const collector = await startCollector();
  const fake = await startResendFake({ rateLimitPerSecond: 1000 });
  const engine = await startEngine({
    mode: 'processes',
    env: {
      RESEND_API_URL: fake.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      ...otel,
    },
  });
  await waitForLog(engine, /worker ready/);
  const setup = await setUpProject(apiClient(engine.baseUrl, engine.workspaceKey), {
    connectorId: 'resend',
    credentials: { apiKey: RESEND_FAKE_FULL_KEY },
  });
  return {
    collector,
    fake,
    engine,
    projectKey: setup.projectKey,
    client: apiClient(engine.baseUrl, setup.projectKey),
    async stop() {
      await engine.stop();
      await fake.close();
      await collector.close();
    },
  };
}

describe('tracing on: one trace per call across api, queue, worker and upstream', () => {
  let running: Awaited<ReturnType<typeof startTracedEngine>>;
  let collector: Collector;
  let fake: ResendFake;
  let engine: Engine;
  let client: ApiClient;
  let projectKey: string;

  beforeAll(async () => {
    running = await startTracedEngine({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
    });
    ({ collector, fake, engine, client, projectKey } = running);
  }, 120_000);

  afterAll(() => running?.stop());

  it('exports the api, queue, worker and upstream spans of one call as one trace, and sends its traceparent upstream', async () => {
    fake.reset();
    const res = await client.post('/v1/executions', { connectorId: 'resend', actionId: 'sendEmail', input: email });
    expect(res.status).toBe(200);
    const invocation = await client.get(`/v1/invocations/${res.body.invocationId}`);
    const traceId: string = invocation.body.traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    const spans = await spansOfCall(collector, traceId);
    const server = only(spans, KIND.server);
    const producer = only(spans, KIND.producer);
    const consumer = only(spans, KIND.consumer);
    const upstream = only(spans, KIND.client);
    // api → queue → worker → upstream, each the parent of the next, across the two processes.
    expect(server).toMatchObject({ service: 'connector-engine-api', name: 'POST /v1/executions', parentSpanId: '' });
    expect(server.attributes).toMatchObject({
      'http.route': '/v1/executions',
      'http.response.status_code': 200,
      'engine.invocation_id': res.body.invocationId,
    });
    expect(producer).toMatchObject({ service: 'connector-engine-api', parentSpanId: server.spanId });
    expect(producer.attributes).toMatchObject({ 'messaging.message.id': res.body.invocationId });
    expect(consumer).toMatchObject({ service: 'connector-engine-worker', parentSpanId: producer.spanId });
    expect(consumer.attributes).toMatchObject({ 'engine.connector_id': 'resend', 'engine.outcome': 'succeeded' });
    expect(upstream).toMatchObject({ service: 'connector-engine-worker', name: 'POST', parentSpanId: consumer.spanId });
    expect(upstream.attributes).toMatchObject({ 'server.address': '127.0.0.1', 'http.response.status_code': 200 });
    // The resource is the standard variables' (OTEL_RESOURCE_ATTRIBUTES).
    expect(spans.every((s) => s.resource['deployment.environment'] === 'test')).toBe(true);

    // The upstream got the CLIENT span's context.
    const sent = fake.requests.filter((r) => r.path === '/emails');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers.traceparent).toBe(`00-${traceId}-${upstream.spanId}-01`);
    // The worker's log lines of the call name the trace; no span carries the key.
    await waitForLog(engine, new RegExp(`"trace_id":"${traceId}"[^\\n]*invocation succeeded`));
    await waitForLog(engine, new RegExp(`"trace_id":"${traceId}"[^\\n]*request completed`));
    expect(JSON.stringify(spans)).not.toContain(RESEND_FAKE_FULL_KEY);
  });

  it("continues the caller's trace from an incoming traceparent header, through the queue, to the upstream", async () => {
    fake.reset();
    const parent = callerTraceparent();
    const [, traceId, parentSpanId] = parent.split('-');
    const res = await client.post(
      '/v1/executions',
      { connectorId: 'resend', actionId: 'sendEmail', input: email },
      { prefer: 'respond-async', traceparent: parent },
    );
    expect(res.status).toBe(202);
    const spans = await spansOfCall(collector, traceId!);
    expect(only(spans, KIND.server).parentSpanId).toBe(parentSpanId);
    expect((await client.get(`/v1/invocations/${res.body.invocationId}`)).body.traceId).toBe(traceId);
    expect(fake.requests.find((r) => r.path === '/emails')!.headers.traceparent).toContain(`00-${traceId}-`);
  });

  it('starts a new trace when the incoming traceparent is malformed', async () => {
    const res = await client.post(
      '/v1/executions',
      { connectorId: 'resend', actionId: 'sendEmail', input: email },
      { traceparent: '00-not-a-trace-01' },
    );
    expect(res.status).toBe(200);
    const traceId = (await client.get(`/v1/invocations/${res.body.invocationId}`)).body.traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(only(await spansOfCall(collector, traceId), KIND.server).parentSpanId).toBe('');
  });

  it("continues the trace of an MCP tools/call's _meta.traceparent", async () => {
    fake.reset();
    const parent = callerTraceparent();
    const [, traceId, parentSpanId] = parent.split('-');
    const res = await fetch(`${engine.baseUrl}/v1/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${projectKey}`,
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': 'resend_sendEmail',
        // A header parent too: _meta is the one a tools/call follows.
        traceparent: callerTraceparent(),
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: {
          name: 'resend_sendEmail',
          arguments: { from: 'orders@example.com', to: 'ada@example.com', subject: 'Traced', text: 'Hello' },
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientCapabilities': {},
            'io.modelcontextprotocol/clientInfo': { name: 'trace-tests', version: '0.0.1' },
            traceparent: parent,
          },
        },
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { isError?: boolean; _meta: { invocationId: string } } };
    expect(body.result.isError).toBeFalsy();
    const spans = await spansOfCall(collector, traceId!);
    const server = only(spans, KIND.server);
    expect(server).toMatchObject({ name: 'tools/call', parentSpanId });
    expect(server.attributes).toMatchObject({ 'gen_ai.tool.name': 'resend_sendEmail' });
    const invocation = await client.get(`/v1/invocations/${body.result._meta.invocationId}`);
    expect(invocation.body).toMatchObject({ via: 'mcp', traceId });
    expect(fake.requests.find((r) => r.path === '/emails')!.headers.traceparent).toContain(`00-${traceId}-`);
  });
});

describe('tracing off', () => {
  let running: Awaited<ReturnType<typeof startTracedEngine>>;

  // An endpoint is configured, but OTEL_SDK_DISABLED wins: as without any OTEL_* variable, nothing is traced.
  beforeAll(async () => {
    running = await startTracedEngine({ OTEL_SDK_DISABLED: 'true' });
  }, 120_000);

  afterAll(() => running?.stop());

  it('exports nothing, sends no traceparent upstream, and records no trace id', async () => {
    const { fake, client, engine, collector } = running;
    fake.reset();
    const res = await client.post(
      '/v1/executions',
      { connectorId: 'resend', actionId: 'sendEmail', input: email },
      { traceparent: callerTraceparent() },
    );
    expect(res.status).toBe(200);
    expect(fake.requests.find((r) => r.path === '/emails')!.headers).not.toHaveProperty('traceparent');
    expect((await client.get(`/v1/invocations/${res.body.invocationId}`)).body.traceId).toBeNull();
    expect(engine.logs()).not.toContain('"trace_id"');
    // Well past the 100 ms export delay: still nothing.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(collector.posts()).toBe(0);
  });
});
