import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ApiError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';

/** Is this Postgres or Redis being unreachable (→ 503), rather than a bug (→ 500)? */
export function isInfrastructureError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code ?? '';
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P03', '08006', '08001', '08003'].includes(code)) return true;
  return /Connection is closed|connection terminated|timeout exceeded when trying to connect|Stream isn't writeable|MaxRetriesPerRequest|Reached the max retries|the database system is (starting|shutting) up|Connection terminated/i.test(
    err.message,
  );
}

export function sendError(res: Parameters<RequestHandler>[1], err: ApiError, invocationId?: string): void {
  if (err.headers) for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  const body: Record<string, unknown> = {
    error: { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) },
  };
  if (invocationId) body.invocationId = invocationId;
  res.status(err.status).json(body);
}

/** Errors that carry the invocation they were recorded on. */
export class InvocationError extends ApiError {
  constructor(readonly invocationId: string, source: ApiError) {
    super(source.code, source.message, source.details, source.headers);
  }
}

export const notFoundRoute: RequestHandler = (req) => {
  throw new ApiError('not_found', `No route ${req.method} ${req.path}.`);
};

/** The one place an error becomes a response. Bodies never include stacks or secrets. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) return;
    if (err instanceof ApiError) return sendError(res, err, err instanceof InvocationError ? err.invocationId : undefined);
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') return sendError(res, new ApiError('payload_too_large', 'The request body is over the size limit.'));
    if (type === 'entity.parse.failed') return sendError(res, new ApiError('invalid_json', 'The request body is not valid JSON.'));
    if (type === 'charset.unsupported' || type === 'encoding.unsupported') {
      return sendError(res, new ApiError('invalid_json', 'The request body must be UTF-8 JSON.'));
    }
    if (isInfrastructureError(err)) {
      logger.warn({ reqId: req.id, err: (err as Error).message }, 'dependency unavailable');
      return sendError(res, new ApiError('unavailable', 'A backing service is unavailable; retry later.', undefined, { 'Retry-After': '1' }));
    }
    logger.error({ reqId: req.id, err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'unhandled error');
    sendError(res, new ApiError('internal_error', 'Something went wrong on our side.'));
  };
}
