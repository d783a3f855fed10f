import type { Attributes, Context, Tracer } from '@opentelemetry/api';
import type { Logger } from '../logger.ts';

/**
 * OpenTelemetry traces of one call, from the api (HTTP or MCP) through the queue and the worker to the
 * upstream request (docs/decisions/0014-tracing.md). This module is the only one that touches OTel:
 * api/, worker/ and connectors/toolkit/ call the helpers below, connectors never.
 *
 * Off by default, and free when off: the SDK (./sdk-setup.ts) and even `@opentelemetry/api` (7 MB of
 * a process's memory) are loaded, dynamically, only when the standard `OTEL_*` variables ask for an
 * exporter; otherwise `tracingOn()` is false, the helpers return at once and callers take their
 * untraced path after that one branch.
 */

/**
 * The OpenTelemetry semantic-convention attribute names we set, written out so that no process loads
 * `@opentelemetry/semantic-conventions` for them (they are stable in the conventions).
 */
export const ATTR = {
  errorType: 'error.type',
  httpRequestMethod: 'http.request.method',
  httpResponseStatusCode: 'http.response.status_code',
  httpRoute: 'http.route',
  serverAddress: 'server.address',
  serverPort: 'server.port',
} as const;

/** `@opentelemetry/api`, once tracing is on. */
let otel: typeof import('@opentelemetry/api') | undefined;

/** Where a parent span context travels: HTTP headers, an MCP request's `_meta`, a job's `traceparent`. */
export type TraceCarrier = Readonly<Record<string, unknown>>;

export type SpanKindName = 'server' | 'client' | 'producer' | 'consumer';

const kindNames = { server: 'SERVER', client: 'CLIENT', producer: 'PRODUCER', consumer: 'CONSUMER' } as const;

/** A started span. Its attributes carry ids, routes, codes and statuses only: never text an upstream or a caller wrote. */
export interface TraceSpan {
  /** Runs `fn` with this span active: spans started and lines logged inside are its children. */
  run<T>(fn: () => T): T;
  /** This span as a W3C `traceparent` value, for a job or an outgoing request. */
  traceparent(): string | undefined;
  set(attributes: Attributes): void;
  /** Marks the span failed; `errorType` is a low-cardinality code (`ECONNREFUSED`, `503`, `RetryScheduled`). */
  fail(errorType: string): void;
  end(): void;
}

export interface SpanOptions {
  attributes?: Attributes;
  /**
   * The remote parent (a `traceparent`, optionally `tracestate`): the span continues that trace, or
   * starts a new one when the carrier has none or a malformed one. Without it, the active span is the parent.
   */
  parent?: TraceCarrier;
  /** Errors that end the span without marking it failed (a job sent back to the delayed set). */
  notAnError?: (err: unknown) => boolean;
}

/** Set once tracing is on; undefined means off, and every helper returns after checking it. */
let tracer: Tracer | undefined;

/** Whether this process traces. Checked first by every caller on a hot path. */
export function tracingOn(): boolean {
  return tracer !== undefined;
}

const listOf = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .filter(Boolean);

/**
 * Whether the environment asks for traces, by the OpenTelemetry SDK's own variables: an OTLP exporter
 * named in `OTEL_TRACES_EXPORTER`, or (with that unset) an OTLP endpoint given. `OTEL_SDK_DISABLED=true` wins.
 */
export function tracingWanted(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = listOf(env.OTEL_TRACES_EXPORTER);
  if (exporters.length > 0) return exporters.includes('otlp') && !exporters.includes('none');
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/** What a process does with tracing once it has a logger, and when it stops. */
export interface Tracing {
  /** Logs how tracing is set up and routes the SDK's own warnings (failed exports) to `logger`. */
  attach(logger: Logger): void;
  /** Exports the spans still buffered, then stops. */
  shutdown(): Promise<void>;
}

const off: Tracing = { attach() {}, async shutdown() {} };

/**
 * Starts tracing for a process (`api` or `worker`) when the environment asks for it; call it before
 * creating the process's logger, so log lines carry the active trace and span ids.
 * The service name defaults to `connector-engine-<process>`; `OTEL_SERVICE_NAME` overrides it.
 */
export async function startTracing(processName: string, env: NodeJS.ProcessEnv = process.env): Promise<Tracing> {
  if (!tracingWanted(env)) return off;
  const { startSdk } = await import('./sdk-setup.ts');
  const sdk = await startSdk(`connector-engine-${processName}`, env);
  otel = await import('@opentelemetry/api');
  tracer = otel.trace.getTracer('connector-engine');
  return sdk;
}

/** Starts a span, or returns undefined when tracing is off. */
export function startSpan(kind: SpanKindName, name: string, options: SpanOptions = {}): TraceSpan | undefined {
  if (!tracer || !otel) return undefined;
  const { context, propagation, trace } = otel;
  const parentContext = options.parent
    ? propagation.extract(otel.ROOT_CONTEXT, cleanCarrier(options.parent))
    : context.active();
  const span = tracer.startSpan(
    name,
    { kind: otel.SpanKind[kindNames[kind]], attributes: options.attributes },
    parentContext,
  );
  const active: Context = trace.setSpan(parentContext, span);
  const error = otel.SpanStatusCode.ERROR;
  return {
    run: (fn) => context.with(active, fn),
    traceparent: () => {
      const carrier: Record<string, string> = {};
      propagation.inject(active, carrier);
      return carrier.traceparent;
    },
    set: (attributes) => span.setAttributes(attributes),
    fail: (errorType) => {
      span.setAttribute(ATTR.errorType, errorType);
      span.setStatus({ code: error });
    },
    end: () => span.end(),
  };
}

/**
 * Runs `fn` inside a new span that ends when `fn` settles; a thrown error marks it failed with
 * `errorTypeOf(err)`. With tracing off, callers skip this and call their function directly.
 */
export async function inSpan<T>(
  kind: SpanKindName,
  name: string,
  options: SpanOptions,
  fn: (span: TraceSpan) => Promise<T>,
): Promise<T> {
  const span = startSpan(kind, name, options);
  if (!span) return fn(untraced);
  try {
    return await span.run(() => fn(span));
  } catch (err) {
    if (!options.notAnError?.(err)) span.fail(errorTypeOf(err));
    throw err;
  } finally {
    span.end();
  }
}

const untraced: TraceSpan = {
  run: (fn) => fn(),
  traceparent: () => undefined,
  set() {},
  fail() {},
  end() {},
};

/** A low-cardinality name for an error: its `code`, an HTTP `status`, or its class name. Never its message. */
export function errorTypeOf(err: unknown): string {
  const e = err as { code?: unknown; status?: unknown; name?: unknown } | null;
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.status === 'number') return String(e.status);
  return typeof e?.name === 'string' ? e.name : 'Error';
}

/** Sets attributes on the active span (a worker's outcome), if tracing is on and a span is active. */
export function annotateActiveSpan(attributes: Attributes, errorType?: string): void {
  if (!otel) return;
  const span = otel.trace.getActiveSpan();
  if (!span) return;
  span.setAttributes(attributes);
  if (errorType !== undefined) {
    span.setAttribute(ATTR.errorType, errorType);
    span.setStatus({ code: otel.SpanStatusCode.ERROR });
  }
}

/** The active trace id (32 hex digits), recorded on the invocation row; null when tracing is off. */
export function activeTraceId(): string | null {
  if (!otel) return null;
  const spanContext = otel.trace.getActiveSpan()?.spanContext();
  return spanContext && otel.isSpanContextValid(spanContext) ? spanContext.traceId : null;
}

/**
 * `trace_id` and `span_id` of the active span, for every log line written inside it (a pino mixin).
 * Always a new object: pino merges the line's own fields into what its mixin returns.
 */
export function traceLogFields(): Record<string, string> {
  const spanContext = otel?.trace.getActiveSpan()?.spanContext();
  if (!spanContext || !otel?.isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}

/** Only the two W3C fields, and only as strings: a carrier may be a caller's JSON (`_meta`). */
function cleanCarrier(carrier: TraceCarrier): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const key of ['traceparent', 'tracestate']) {
    const value = carrier[key];
    if (typeof value === 'string') clean[key] = value;
  }
  return clean;
}
