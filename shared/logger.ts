import { type DestinationStream, type Logger, pino } from 'pino';
import { traceLogFields, tracingOn } from './tracing/tracing.ts';

export type { Logger };

/**
 * Paths that may hold a secret anywhere we log. Redaction is a second line of defence:
 * the first is never putting a secret into a log object at all.
 */
export const redactedPaths = [
  'credentials',
  '*.credentials',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.headers.authorization',
  '*.headers["xi-api-key"]',
  'apiKey',
  '*.apiKey',
  'key',
  '*.key',
  'token',
  '*.token',
  'botToken',
  '*.botToken',
  'accessToken',
  '*.accessToken',
  'refreshToken',
  '*.refreshToken',
  'secret',
  '*.secret',
];

export function createLogger(
  name: string,
  level = process.env.LOG_LEVEL ?? 'info',
  destination?: DestinationStream,
): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: redactedPaths, censor: '[redacted]' },
      base: { pid: process.pid, service: name },
      timestamp: pino.stdTimeFunctions.isoTime,
      // With tracing on (started before the logger), every line written inside a span names it.
      ...(tracingOn() ? { mixin: traceLogFields } : {}),
    },
    destination,
  );
}
