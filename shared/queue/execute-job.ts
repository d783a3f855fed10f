/**
 * The contract between api and worker. Job data carries ids and the validated input, never
 * credentials: the worker loads and decrypts those itself (docs/design.md, decision 1).
 */
export const EXECUTE_QUEUE = 'execute';

export interface ExecuteJobData {
  invocationId: string;
  workspaceId: string;
  projectId: string;
  connectionId: string;
  connectorId: string;
  actionId: string;
  input: unknown;
  /** The api instance's reply channel when a caller waits synchronously, else null. */
  replyTo: string | null;
  /** The project's limit for this connector when the call was accepted; retries reserve slots under it. */
  limitPerMinute: number;
  /** The project's own cap on its calls running at once when the call was accepted (null or absent: the operator's). */
  maxRunningCalls?: number | null;
  /** A custom connector's version when the call was accepted: the worker runs it on that version (absent for built-ins). */
  connectorVersion?: number;
  /**
   * The W3C `traceparent` of the api's PRODUCER span, present only while tracing is on (55 bytes):
   * each attempt's CONSUMER span is its child (docs/decisions/0014-tracing.md).
   */
  traceparent?: string;
}

/**
 * Span attributes of an execute job, on its PRODUCER (`send`) and CONSUMER (`process`) spans: ids
 * only, and the queue shard it went through (docs/decisions/0015).
 */
export function executeJobSpanAttributes(data: ExecuteJobData, queueName: string, operation: 'send' | 'process') {
  return {
    'messaging.system': 'bullmq',
    'messaging.destination.name': queueName,
    'messaging.operation.type': operation,
    'messaging.message.id': data.invocationId,
    'engine.connector_id': data.connectorId,
    'engine.action_id': data.actionId,
  };
}

/** Upper bound of attempts per invocation; the worker decides per failure whether to use them. */
export const MAX_ATTEMPTS = 5;

export const executeJobOptions = {
  attempts: MAX_ATTEMPTS,
  backoff: { type: 'engine' },
  // The invocation row, not Redis, is the record: a completed job (and the input it carries, up to
  // MAX_BODY_BYTES) leaves Redis at once. Failed jobs (a worker bug, not an upstream failure) are
  // kept a day for inspection, at most 1,000 of them.
  removeOnComplete: true,
  removeOnFail: { age: 24 * 3600, count: 1_000 },
} as const;
