import { randomUUID } from 'node:crypto';
import type { Db } from '../../shared/db/database.ts';
import type { InvocationRow } from '../../shared/db/schema.ts';
import { findInvocation } from '../../shared/invocations/invocation-store.ts';
import { type ExecutionReply, replyChannelFor, subscribeReplies } from '../../shared/queue/execution-reply.ts';
import type { RedisClient } from '../../shared/queue/redis.ts';

/**
 * Sync callers wait here (docs/design.md, decision 3). Each api instance subscribes to its own channel; workers
 * publish there once the invocation row is durable. A missed message (or a job enqueued by another
 * instance, as with a replayed Idempotency-Key) is covered by reading the row with growing pauses.
 */
export class ReplyListener {
  readonly channel = replyChannelFor(randomUUID());
  private readonly waiters = new Map<string, Set<(reply: ExecutionReply) => void>>();

  constructor(
    private readonly subscriber: RedisClient,
    private readonly db: Db,
  ) {}

  async start(): Promise<void> {
    await subscribeReplies(this.subscriber, this.channel, (message) => {
      let reply: ExecutionReply;
      try {
        reply = JSON.parse(message) as ExecutionReply;
      } catch {
        return;
      }
      for (const resolve of this.waiters.get(reply.invocationId) ?? []) resolve(reply);
    });
  }

  /**
   * Resolves with the terminal result, or null when the deadline passes first or `cancel` is aborted
   * (the call was not accepted after all: nothing will come).
   */
  wait(invocationId: string, timeoutMs: number, cancel?: AbortSignal): Promise<ExecutionReply | null> {
    return new Promise((resolve) => {
      const deadline = Date.now() + timeoutMs;
      let pollTimer: NodeJS.Timeout | undefined;
      let pause = 250;
      const set = this.waiters.get(invocationId) ?? new Set();
      this.waiters.set(invocationId, set);
      const done = (reply: ExecutionReply | null) => {
        clearTimeout(pollTimer);
        clearTimeout(deadlineTimer);
        set.delete(onReply);
        if (set.size === 0) this.waiters.delete(invocationId);
        resolve(reply);
      };
      const onReply = (reply: ExecutionReply) => done(reply);
      set.add(onReply);
      cancel?.addEventListener('abort', () => done(null), { once: true });
      const deadlineTimer = setTimeout(() => {
        // One last read: the row may have finished while the message was lost.
        this.readTerminal(invocationId).then(done, () => done(null));
      }, timeoutMs);
      const poll = () => {
        pollTimer = setTimeout(() => {
          this.readTerminal(invocationId).then(
            (reply) => (reply ? done(reply) : schedule()),
            () => schedule(),
          );
        }, pause);
      };
      const schedule = () => {
        pause = Math.min(pause * 2, 2_000);
        if (Date.now() + pause < deadline) poll();
      };
      poll();
    });
  }

  private async readTerminal(invocationId: string): Promise<ExecutionReply | null> {
    const row = await findInvocation(this.db, invocationId);
    return row ? replyFromRow(row) : null;
  }

  async stop(): Promise<void> {
    await this.subscriber.quit().catch(() => {});
  }
}

export function replyFromRow(row: InvocationRow): ExecutionReply | null {
  if (row.status === 'succeeded')
    return { invocationId: row.id, status: 'succeeded', output: row.output, durationMs: row.duration_ms };
  if (row.status === 'failed') {
    return {
      invocationId: row.id,
      status: 'failed',
      durationMs: row.duration_ms,
      error: {
        code: row.error_code ?? 'internal_error',
        message: row.error_message ?? 'The invocation failed.',
        details: row.error_details ?? undefined,
      },
    };
  }
  return null;
}
