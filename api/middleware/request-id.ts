import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import 'pino-http'; // declares req.id

const acceptable = /^[\x21-\x7e]{1,128}$/;

/** Every response carries X-Request-Id: the client's when it sent a sane one, else a new one. */
export const requestId: RequestHandler = (req, res, next) => {
  const given = req.get('x-request-id');
  const id = given && acceptable.test(given) ? given : randomUUID();
  req.id = id;
  res.setHeader('X-Request-Id', id);
  next();
};
