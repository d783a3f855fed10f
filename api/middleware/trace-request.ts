import type { Request, RequestHandler, Response } from 'express';
import { ATTR, startSpan, type TraceCarrier, type TraceSpan, tracingOn } from '../../shared/tracing/tracing.ts';

/**
 * The SERVER span of one traced request (docs/decisions/0014-tracing.md): its parent is the caller's
 * W3C `traceparent` (from `parent`: the request headers, or an MCP call's `_meta`), and it ends when
 * the response does, with its status and the invocation it named. Undefined when tracing is off.
 */
export function startRequestSpan(
  req: Request,
  res: Response,
  name: string,
  route: string,
  parent: TraceCarrier,
): TraceSpan | undefined {
  const span = startSpan('server', name, {
    parent,
    attributes: { [ATTR.httpRequestMethod]: req.method, [ATTR.httpRoute]: route },
  });
  if (!span) return undefined;
  res.once('close', () => {
    const { invocationId, errorCode } = res.locals;
    span.set({
      [ATTR.httpResponseStatusCode]: res.statusCode,
      ...(typeof invocationId === 'string' ? { 'engine.invocation_id': invocationId } : {}),
    });
    if (!res.writableFinished) span.fail('aborted');
    else if (res.statusCode >= 500) span.fail(typeof errorCode === 'string' ? errorCode : String(res.statusCode));
    span.end();
  });
  return span;
}

/** Middleware: the request runs inside its SERVER span, parented by its `traceparent` header. One branch when off. */
export function traceRequests(route: string): RequestHandler {
  return (req, res, next) => {
    if (!tracingOn()) return next();
    const span = startRequestSpan(req, res, `${req.method} ${route}`, route, req.headers)!;
    span.run(next);
  };
}
