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
    await readWithin(
      req,
      res,
      config.MAX_BODY_BYTES,
      config.HTTP_BODY_IDLE_TIMEOUT_MS,
      budget,
      isPlainJson(req) ? readPlainJson : parse,
    );
  };
}

/**
 * Most bodies are plain: `application/json` in UTF-8, not compressed, of a declared length. Those
 * are read here, in a fraction of body-parser's time (0.17 ms of a sync call at c=1 went to it); any
 * other (a charset named, a Content-Encoding, a chunked body) goes through body-parser.
 */
function isPlainJson(req: Request): boolean {
  const type = req.headers['content-type']?.toLowerCase();
  return (
    (type === 'application/json' || type === 'application/json; charset=utf-8') &&
    req.headers['content-encoding'] === undefined &&
    req.headers['transfer-encoding'] === undefined &&
    Number.isSafeInteger(Number(req.headers['content-length']))
  );
}

/** JSON's whitespace, then the first character of the value (body-parser's test for strict mode). */
const FIRST_CHARACTER = /^[ \t\n\r]*([^ \t\n\r])/;

const incomplete = () => new ApiError('invalid_json', 'The request body was incomplete.');
const notJson = () => new ApiError('invalid_json', 'The request body is not valid JSON.');

/**
 * Reads a plain JSON body (isPlainJson) into `req.body` as body-parser's strict mode would: an empty
 * body is `{}`, a leading byte-order mark is dropped, and only an object or an array is accepted.
 */
const readPlainJson: RequestHandler = (req, _res, next) => {
  const length = Number(req.headers['content-length']);
  const chunks: Buffer[] = [];
  let received = 0;
  const settle = (err?: unknown) => {
    req.off('data', onData).off('end', onEnd).off('error', onBroken).off('close', onBroken);
    next(err);
  };
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (received > length) return settle(incomplete());
    chunks.push(chunk);
  };
  const onEnd = () => {
    if (received !== length) return settle(incomplete());
    let text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.length === 0) {
      req.body = {};
      return settle();
    }
    const first = FIRST_CHARACTER.exec(text)?.[1];
    if (first !== '{' && first !== '[') return settle(notJson());
    try {
      req.body = JSON.parse(text);
    } catch {
      return settle(notJson());
    }
    settle();
  };
  // The client went away, or its connection broke, before the whole body came.
  const onBroken = () => settle(incomplete());
  req.on('data', onData).on('end', onEnd).on('error', onBroken).on('close', onBroken);
};

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
