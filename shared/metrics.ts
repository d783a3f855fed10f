import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry, register } from 'prom-client';

/**
 * Prometheus metrics of this process. Every label value comes from a bounded set (route templates,
 * connector and action ids from the registry, HTTP status codes, fixed outcome names): never an
 * id, a URL, or anything a caller chose.
 */
export const metricsRegistry: Registry = register;
collectDefaultMetrics({ register: metricsRegistry });

const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export const httpRequests = new Counter({
  name: 'connector_engine_http_requests_total',
  help: 'API requests by method, route template and status code.',
  labelNames: ['method', 'route', 'status'] as const,
});
export const httpRequestDuration = new Histogram({
  name: 'connector_engine_http_request_duration_seconds',
  help: 'API request latency by method, route template and status code.',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: latencyBuckets,
});
export const mcpToolCalls = new Counter({
  name: 'connector_engine_mcp_tool_calls_total',
  help: 'MCP tools/call requests by connector, action and outcome (succeeded, or failed: an isError result).',
  labelNames: ['connector', 'action', 'outcome'] as const,
});
export const executionsAccepted = new Counter({
  name: 'connector_engine_executions_accepted_total',
  help: 'Executions accepted, by connector, action and mode (sync|async).',
  labelNames: ['connector', 'action', 'mode'] as const,
});
export const rateLimitDeferred = new Counter({
  name: 'connector_engine_rate_limit_deferred_total',
  help: 'Executions accepted but deferred to a later slot by the per-project limit.',
  labelNames: ['connector'] as const,
});
export const rateLimitRejected = new Counter({
  name: 'connector_engine_rate_limit_rejected_total',
  help: 'Sync executions answered 429 because no slot was free before their deadline.',
  labelNames: ['connector'] as const,
});
export const admissionWait = new Histogram({
  name: 'connector_engine_admission_wait_seconds',
  help: 'Time POST /v1/executions waited for an admission place in this api process (docs/decisions/0003).',
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
});
let admissionQueued: () => number = () => 0;
export const admissionWaiting = new Gauge({
  name: 'connector_engine_admission_waiting',
  help: 'Executions waiting for an admission place in this api process right now.',
  collect() {
    this.set(admissionQueued());
  },
});
/** Where the waiting-for-admission gauge reads its value. */
export function observeAdmission(queued: () => number): void {
  admissionQueued = queued;
}

type CountedQueue = { name: string; getJobCounts(...types: string[]): Promise<Record<string, number>> };
const queueStates = ['waiting', 'prioritized', 'delayed', 'active', 'failed'];
let observedQueues: CountedQueue[] = [];

/** Queue depth is read from Redis when Prometheus scrapes, not tracked in process. */
export const queueJobs = new Gauge({
  name: 'connector_engine_queue_jobs',
  help: 'Jobs per queue and state (waiting, prioritized, delayed, active, failed).',
  labelNames: ['queue', 'state'] as const,
  async collect() {
    await Promise.all(
      observedQueues.map(async (q) => {
        try {
          const counts = await q.getJobCounts(...queueStates);
          for (const state of queueStates) this.set({ queue: q.name, state }, counts[state] ?? 0);
        } catch {
          // Redis down: keep the last values; /readyz reports the outage.
        }
      }),
    );
  },
});
export const jobs = new Counter({
  name: 'connector_engine_jobs_total',
  help: 'Execute job attempts by connector, action and outcome (succeeded, failed, retried).',
  labelNames: ['connector', 'action', 'outcome'] as const,
});
export const jobsHeldBack = new Counter({
  name: 'connector_engine_jobs_held_back_total',
  help: 'Execute jobs sent back to the delayed set before their attempt because their project had its share of running calls (reason: capacity, share, owner_cap).',
  labelNames: ['reason'] as const,
});
export const claimsWithoutRow = new Counter({
  name: 'connector_engine_claims_without_row_total',
  help: 'Execute jobs that reached a worker before their invocation row had committed (a keyless sync call writes both together) and waited for it.',
});
export const jobDuration = new Histogram({
  name: 'connector_engine_job_duration_seconds',
  help: 'Execute job attempt duration by connector, action and outcome.',
  labelNames: ['connector', 'action', 'outcome'] as const,
  buckets: latencyBuckets,
});
export const upstreamRequests = new Histogram({
  name: 'connector_engine_upstream_request_duration_seconds',
  help: 'Upstream HTTP requests by connector and status code (or network_error).',
  labelNames: ['connector', 'status'] as const,
  buckets: latencyBuckets,
});
export const connectionsBroken = new Counter({
  name: 'connector_engine_connections_broken_total',
  help: 'Connections that turned broken, by connector and what found it (call, refresh, health_check, test).',
  labelNames: ['connector', 'source'] as const,
});
export const upstreamRateLimited = new Counter({
  name: 'connector_engine_upstream_rate_limited_total',
  help: 'Upstream 429s (which hold back later calls of the project) by connector.',
  labelNames: ['connector'] as const,
});
export const webhookDeliveries = new Counter({
  name: 'connector_engine_webhook_delivery_attempts_total',
  help: 'Webhook delivery attempts by outcome (succeeded, retrying, failed).',
  labelNames: ['outcome'] as const,
});
export const webhookDeliveriesDeferred = new Counter({
  name: 'connector_engine_webhook_deliveries_deferred_total',
  help: 'Webhook deliveries put back in the delayed set without an attempt, by reason (workspace_share: the workspace had its share of slots in flight; circuit_open: its target keeps failing).',
  labelNames: ['reason'] as const,
});
export const webhookCircuitsOpened = new Counter({
  name: 'connector_engine_webhook_circuits_opened_total',
  help: 'Times a webhook target circuit opened (or reopened after a failed probe).',
});
let openWebhookCircuits: () => Promise<number> = async () => 0;
export const webhookCircuitsOpen = new Gauge({
  name: 'connector_engine_webhook_circuits_open',
  help: 'Webhook target circuits open or half-open now, across the tier (read from Redis on scrape).',
  async collect() {
    try {
      this.set(await openWebhookCircuits());
    } catch {
      // Redis down: keep the last value.
    }
  },
});
/** Where the open-circuits gauge reads its value. */
export function observeWebhookCircuits(count: () => Promise<number>): void {
  openWebhookCircuits = count;
}
export const inboundEvents = new Counter({
  name: 'connector_engine_inbound_events_total',
  help: 'Requests to POST /v1/inbound/… by connector and outcome (accepted: stored and queued; duplicate: a redelivery, nothing done; rejected: bad, stale or unverifiable signature; handshake; malformed).',
  labelNames: ['connector', 'outcome'] as const,
});
export const inboundEventsFannedOut = new Counter({
  name: 'connector_engine_inbound_events_fanned_out_total',
  help: 'Inbound events whose deliveries to webhooks out were recorded and queued, by connector.',
  labelNames: ['connector'] as const,
});
export const healthChecks = new Counter({
  name: 'connector_engine_health_checks_total',
  help: 'Connection health checks by result (valid, invalid, inconclusive).',
  labelNames: ['connector', 'result'] as const,
});

export const lookupCacheRequests = new Counter({
  name: 'connector_engine_lookup_cache_requests_total',
  help: 'Lookups on the call path (api_key, target) by result: hit (from memory), shared (joined a lookup in flight), miss (looked up, then kept if found), bypass (cache off or not listening for changes: looked up).',
  labelNames: ['cache', 'result'] as const,
});

/** The queues whose depth this process reports. */
export function observeQueueDepth(queues: CountedQueue[]): void {
  observedQueues = queues;
}

export async function metricsText(): Promise<{ contentType: string; body: string }> {
  return { contentType: metricsRegistry.contentType, body: await metricsRegistry.metrics() };
}
