import { createRequire } from 'node:module';
import { type DestinationStream, type Logger, pino } from 'pino';
import { traceLogFields, tracingOn } from './tracing/tracing.ts';

export type { Logger };

/**
 * `json`: one JSON object per line, for machines (log shippers, CI, containers); the default.
 * `pretty`: coloured human lines (pino-pretty), which `npm start` asks for when its stdout is a
 * terminal (LOG_FORMAT in shared/config.ts).
 */
export type LogFormat = 'json' | 'pretty';

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

/**
 * pino-pretty as a synchronous stream in this process (not a transport thread): a development
 * terminal's lines must not be lost on exit, and their speed does not matter. Loaded only here, so
 * the JSON path (the bench's hot path) neither loads nor calls it. It formats lines pino has already
 * serialized, so redaction applies before anything is pretty-printed.
 */
function prettyStream(destination?: DestinationStream): DestinationStream {
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  return pretty({
    sync: true,
    destination: destination ?? 1,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'hostname,service',
    ...(destination ? { colorize: false } : {}),
  });
}

export function createLogger(
  name: string,
  level = process.env.LOG_LEVEL ?? 'info',
  destination?: DestinationStream,
  format: LogFormat = process.env.LOG_FORMAT === 'pretty' ? 'pretty' : 'json',
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
    format === 'pretty' ? prettyStream(destination) : destination,
  );
}
