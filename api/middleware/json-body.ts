import express, { type Request, type RequestHandler, type Response } from 'express';
import type { Config } from '../../shared/config.ts';
import { ApiError } from '../../shared/errors.ts';
import type { BodyBudget } from '../http/body-budget.ts';

const jsonTypes = ['application/json', 'application/*+json'];

/** Reads a request's JSON body into `req.body` (nothing for other content types: parseBody refuses them). */
export type BodyReader = (req: Request, res: Response) => Promise<void>;

/**
 * The one way the api reads a request body, and only after the request has authenticated (red-team
 * finding 4: bodies read before the key check let anyone make the api buffer 1 MiB per socket). A
 * body over MAX_BODY_BYTES by its Content-Length is refused (413) unread; one that does not fit the
 * process's BodyBudget is refused with 503 `unavailable` and Retry-After, unread. While the body
 * arrives, a pause longer than HTTP_BODY_IDLE_TIMEOUT_MS closes the connection.
 */
export function jsonBodyReader(
  config: Pick<Config, 'MAX_BODY_BYTES' | 'HTTP_BODY_IDLE_TIMEOUT_MS'>,
  budget: BodyBudget,
): BodyReader {
  const parse = express.json({ limit: config.MAX_BODY_BYTES, type: jsonTypes, strict: true });
  return async (req, res) => {
    if (req.body !== undefined || !req.is(jsonTypes)) return;
    await readWithin(req, res, config.MAX_BODY_BYTES, config.HTTP_BODY_IDLE_TIMEOUT_MS, budget, parse);
  };
}

/** Reads a request's body as the exact bytes received (any content type), for signature checks. */
export type RawBodyReader = (req: Request, res: Response) => Promise<Buffer>;

/**
 * The raw-body counterpart of jsonBodyReader, for routes that authenticate by a signature over the
 * body (POST /v1/inbound/…): the same size refusal, body budget and idle timeout, with its own limit
 * (INBOUND_MAX_BODY_BYTES). Nothing is parsed.
 */
export function rawBodyReader(
  config: Pick<Config, 'INBOUND_MAX_BODY_BYTES' | 'HTTP_BODY_IDLE_TIMEOUT_MS'>,
  budget: BodyBudget,
): RawBodyReader {
  const limit = config.INBOUND_MAX_BODY_BYTES;
  const read = express.raw({ limit, type: () => true });
  return async (req, res) => {
    await readWithin(req, res, limit, config.HTTP_BODY_IDLE_TIMEOUT_MS, budget, read);
    return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  };
}

/**
 * The part every body reader shares: refuse a declared size over `limit` (413) and a body that does
 * not fit the process's budget (503), hold its share of the budget until the response is done, and
 * drop a connection whose body stalls.
 */
async function readWithin(
  req: Request,
  res: Response,
  limit: number,
  idleTimeoutMs: number,
  budget: BodyBudget,
  parse: RequestHandler,
): Promise<void> {
  const declared = Number(req.headers['content-length']);
  // A chunked body may be as large as the limit: it takes that much.
  const size = Number.isSafeInteger(declared) ? declared : limit;
  if (size > limit) throw new ApiError('payload_too_large', 'The request body is over the size limit.');
  if (!budget.tryTake(size)) {
    throw new ApiError('unavailable', 'The server is receiving too many request bodies; retry shortly.', undefined, {
      'Retry-After': '1',
    });
  }
  res.once('close', () => budget.give(size));
  // With no 'timeout' listener, Node's HTTP server destroys a socket that goes idle.
  req.socket.setTimeout(idleTimeoutMs);
  try {
    await new Promise<void>((resolve, reject) => parse(req, res, (err?: unknown) => (err ? reject(err) : resolve())));
  } finally {
    req.socket.setTimeout(0);
  }
}

/** A BodyReader as middleware, mounted after authentication. */
export function jsonBody(read: BodyReader): RequestHandler {
  return async (req, res, next) => {
    await read(req, res);
    next();
  };
}
