import type { Request, RequestHandler, Response } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../../shared/logger.ts';

/**
 * One line per request: `reqId` (once), method, path without its query string (query strings can
 * carry one-time codes, headers carry keys), status, duration, and the `invocationId` and error
 * `errorCode` the response named. The level says whose problem it is: `info` up to 4xx, `warn` for an
 * expected 5xx (an upstream's error, a backing service down), `error` for a bug (`internal_error`,
 * whose stack the error handler logs on its own line). No line carries a stack: pino-http's made-up
 * `Error('failed with status code …')` on every 5xx is dropped (red-team finding 11).
 */
export function requestLog(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    genReqId: (req) => (req as Request).id,
    // The request id is bound once, under the key the error handler's lines use.
    quietReqLogger: true,
    customAttributeKeys: { reqId: 'reqId' },
    // Read when the response is done, so they name what the handlers found out.
    customProps: (_req, res) => {
      const { invocationId, errorCode } = (res as Response).locals ?? {};
      return { ...(invocationId ? { invocationId } : {}), ...(errorCode ? { errorCode } : {}) };
    },
    customLogLevel: (_req, res) => {
      if (res.statusCode < 500) return 'info';
      return (res as Response).locals?.errorCode === 'internal_error' ? 'error' : 'warn';
    },
    customErrorObject: (_req, _res, _err, val: Record<string, unknown>) => {
      const { err: _madeUp, ...line } = val;
      return line;
    },
    customErrorMessage: () => 'request completed',
    autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' },
    serializers: {
      // A connect page's path holds its session token: logged without it.
      req: (req: { method: string; url: string }) => ({
        method: req.method,
        path: req.url.split('?')[0]!.replace(/^\/connect\/cst_[^/]*/, '/connect/{token}'),
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  });
}
