import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ApiError } from '../../shared/errors.ts';
import { isInfrastructureError } from '../../shared/infrastructure-errors.ts';
import type { Logger } from '../../shared/logger.ts';

/**
 * Writes `err` in the docs/api.md envelope. A request whose body has not fully arrived (refused
 * before it was read: a bad key, a full body budget, a declared size over the limit) gets
 * `Connection: close`, so Node closes the socket after the answer instead of reading the rest.
 */
export function sendError(res: Parameters<RequestHandler>[1], err: ApiError, invocationId?: string): void {
  if (err.headers) for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  if (res.req && !res.req.complete) res.setHeader('Connection', 'close');
  res.locals.errorCode = err.code; // named on the request's log line (request-log.ts)
  const body: Record<string, unknown> = {
    error: { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) },
  };
  if (invocationId) body.invocationId = invocationId;
  res.status(err.status).json(body);
}

/** Errors that carry the invocation they were recorded on. */
export class InvocationError extends ApiError {
  constructor(
    readonly invocationId: string,
    source: ApiError,
  ) {
    super(source.code, source.message, source.details, source.headers);
  }
}

export const notFoundRoute: RequestHandler = (req) => {
  throw new ApiError('not_found', `No route ${req.method} ${req.path}.`);
};

/**
 * The one place an error becomes a response. Bodies never include stacks or secrets. Expected
 * errors (an ApiError, a client's malformed request, a backing service down) are logged without a
 * stack, on the request line or at debug/warn here; only an unexpected one logs its stack, at error.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) return;
    if (err instanceof InvocationError) res.locals.invocationId = err.invocationId;
    if (err instanceof ApiError)
      return sendError(res, err, err instanceof InvocationError ? err.invocationId : undefined);
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large')
      return sendError(res, new ApiError('payload_too_large', 'The request body is over the size limit.'));
    if (type === 'entity.parse.failed')
      return sendError(res, new ApiError('invalid_json', 'The request body is not valid JSON.'));
    if (type === 'charset.unsupported' || type === 'encoding.unsupported') {
      return sendError(res, new ApiError('invalid_json', 'The request body must be UTF-8 JSON.'));
    }
    // The client's fault, reported by Express or body-parser as an http-error with a 4xx status:
    // a body cut short or longer than announced, a path that does not percent-decode, etc.
    const status =
      (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      logger.debug({ reqId: req.id, type, status }, 'malformed request');
      if (type === 'request.aborted' || type === 'request.size.invalid') {
        return sendError(res, new ApiError('invalid_json', 'The request body was incomplete.'));
      }
      // A path segment that does not decode names nothing (like an id of the wrong shape).
      if (err instanceof URIError) return sendError(res, new ApiError('not_found', 'No such resource.'));
      if (status === 413)
        return sendError(res, new ApiError('payload_too_large', 'The request is over the size limit.'));
      return sendError(res, new ApiError('invalid_input', 'The request is malformed.'));
    }
    if (isInfrastructureError(err)) {
      logger.warn({ reqId: req.id, err: (err as Error).message }, 'dependency unavailable');
      return sendError(
        res,
        new ApiError('unavailable', 'A backing service is unavailable; retry later.', undefined, {
          'Retry-After': '1',
        }),
      );
    }
    logger.error(
      { reqId: req.id, err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) },
      'unhandled error',
    );
    sendError(res, new ApiError('internal_error', 'Something went wrong on our side.'));
  };
}
