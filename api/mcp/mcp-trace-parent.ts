import type { IncomingHttpHeaders } from 'node:http';
import type { TraceCarrier } from '../../shared/tracing/tracing.ts';

/**
 * Where an MCP tools/call's parent span context is: its `params._meta` when that carries a
 * `traceparent` (and optionally `tracestate`), as MCP clients propagate W3C trace context per
 * request; otherwise the HTTP request's headers. Only those two string fields are ever read from it.
 */
export function mcpTraceCarrier(body: unknown, headers: IncomingHttpHeaders): TraceCarrier {
  const meta = (body as { params?: { _meta?: unknown } } | undefined)?.params?._meta;
  if (meta && typeof meta === 'object' && typeof (meta as { traceparent?: unknown }).traceparent === 'string')
    return meta as TraceCarrier;
  return headers;
}
