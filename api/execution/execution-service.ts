import { actionOrThrow } from '../../connectors/registry.ts';
import type { ActionDefinition, ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import type { ConnectorLookup } from '../../shared/custom-connectors/connector-lookup.ts';
import type { Db } from '../../shared/db/database.ts';
import { GroupCommit } from '../../shared/db/group-commit.ts';
import type { InvocationRow, InvocationTransport } from '../../shared/db/schema.ts';
import { ApiError, isErrorCode, notFound, toValidationIssues } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import { findByIdempotencyKey } from '../../shared/invocations/idempotency-keys.ts';
import {
  completeInvocation,
  insertInvocation,
  insertQueuedInvocations,
  type QueuedInvocation,
} from '../../shared/invocations/invocation-store.ts';
import type { RateLimitPolicy } from '../../shared/limiter/rate-limit-policy.ts';
import { limitKey, queuePriority, type SlidingWindowLimiter } from '../../shared/limiter/sliding-window-limiter.ts';
import { executionsAccepted, rateLimitDeferred, rateLimitRejected } from '../../shared/metrics.ts';
import { type ExecuteJobData, executeJobOptions, executeJobSpanAttributes } from '../../shared/queue/execute-job.ts';
import type { ExecuteQueues } from '../../shared/queue/execute-queues.ts';
import type { ExecutionReply } from '../../shared/queue/execution-reply.ts';
import { activeTraceId, inSpan, tracingOn } from '../../shared/tracing/tracing.ts';
import { type RateLimitStatus, rateLimitHeaders } from '../http/rate-limit-headers.ts';
import type { Principal } from '../middleware/authenticate.ts';
import { InvocationError } from '../middleware/errors.ts';
import { type AdmissionGate, type AdmissionTicket, remainingBudgetMs } from './admission-gate.ts';
import { type ReplyListener, replyFromRow } from './reply-listener.ts';
import type { RequestFingerprint, RequestHasher } from './request-hash.ts';
import type { TargetResolver } from './resolve-target.ts';

export interface ExecuteCommand {
  principal: Principal;
  connectorId: string;
  actionId: string;
  input: unknown;
  connectionId?: string;
  projectId?: string;
  idempotencyKey?: string;
  respondAsync: boolean;
  /** How long a sync call waits for its result, counted from its arrival (its wait at the gate is spent from it). */
  timeoutMs: number;
  /**
   * The place a transport already took at the admission gate (HTTP takes it once authenticated, body read).
   * Without one, the service takes a place itself, keyed by the caller's API key.
   */
  ticket?: AdmissionTicket;
  /** The transport that accepted the call, for the audit row. Default `api`. */
  via?: InvocationTransport;
  /** An MCP client's self-reported name and version (display only). */
  client?: { name?: string; version?: string };
}

/** `rateLimit`: the project's quota for the connector after this call took its slot (none on a replay). */
export type ExecuteOutcome = (
  | { kind: 'accepted'; invocationId: string; status: InvocationRow['status'] }
  | { kind: 'finished'; reply: ExecutionReply }
  | { kind: 'timed_out'; invocationId: string }
) & { rateLimit?: RateLimitStatus };

/** Admitted, and (sync) the reply to wait for once out of the admission bound. */
type Admitted =
  | ExecuteOutcome
  | { kind: 'waiting'; invocationId: string; reply: Promise<ExecutionReply | null>; rateLimit?: RateLimitStatus };

/** A call's Idempotency-Key and its request's hash, compared with an earlier call's on a replay. */
interface Keyed {
  key: string;
  request: RequestFingerprint;
}

/** The limit's window, in seconds: the longest a 429's Retry-After asks a caller to wait. */
const RETRY_AFTER_MAX_S = 60;
const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

/**
 * Accepts an execution: validate, resolve the connection, record the invocation, enqueue, and
 * (sync) wait for the result. Everything that can be refused is refused before a row is written;
 * from the row on, the call is accepted and never lost.
 */
export class ExecutionService {
  /** Rows of concurrently accepted calls share one INSERT and one commit. */
  private readonly queuedRows: GroupCommit<QueuedInvocation>;

  constructor(
    private readonly db: Db,
    /** The execute queue's shards: a call goes to its project's (docs/decisions/0015). */
    private readonly queues: ExecuteQueues,
    private readonly replies: ReplyListener,
    private readonly limiter: SlidingWindowLimiter,
    /** RATE_LIMIT_PER_MINUTE, the connectors' ceilings and the cap of projects' own limits. */
    private readonly limits: RateLimitPolicy,
    /** The fair admission gate (admission-gate.ts): every call passes it, whatever its transport. */
    readonly admission: AdmissionGate,
    /** Keyed request hashes for Idempotency-Key replays (request-hash.ts). */
    private readonly hasher: RequestHasher,
    /** Built-in and the workspace's custom connectors (a custom one at its newest version). */
    private readonly connectors: ConnectorLookup,
    /** The call's project and connection (cached: resolve-target.ts). */
    private readonly targets: TargetResolver,
  ) {
    this.queuedRows = new GroupCommit((rows) => insertQueuedInvocations(db, rows));
  }

  async execute(command: ExecuteCommand): Promise<ExecuteOutcome> {
    const ticket = command.ticket ?? (await this.admission.enter(`key:${command.principal.keyId}`))!;
    // A sync call's timeoutMs counts from arrival: its wait at the gate is spent from it.
    const cmd = { ...command, timeoutMs: remainingBudgetMs(command.timeoutMs, ticket.waitedMs) };
    let admitted: Admitted;
    try {
      const connector = await this.connectors.orThrow(cmd.principal.workspaceId, cmd.connectorId);
      const action = actionOrThrow(connector, cmd.actionId);
      const parsed = action.input.safeParse(cmd.input);
      if (!parsed.success) {
        throw new ApiError(
          'invalid_input',
          `The input does not fit ${connector.id}.${action.id}.`,
          toValidationIssues(parsed.error.issues, 'input'),
        );
      }
      admitted = await this.admit(cmd, connector, action, parsed.data, this.projectIdOf(cmd));
    } finally {
      // Out of the bound before a sync call waits for its result; an authenticated caller counts as served.
      ticket.release({ served: true });
    }
    if (admitted.kind !== 'waiting') return admitted;
    const reply = await admitted.reply;
    const { rateLimit } = admitted;
    return reply
      ? { kind: 'finished', reply, rateLimit }
      : { kind: 'timed_out', invocationId: admitted.invocationId, rateLimit };
  }

  /**
   * Everything up to the enqueue: lookups, idempotency, limiter, row, queue. A sync call leaves with
   * a reply to wait for, and waits for it after `cmd.admitted()`.
   */
  private async admit(
    cmd: ExecuteCommand,
    connector: ConnectorDefinition,
    action: ActionDefinition,
    input: unknown,
    requestedProjectId: string,
  ): Promise<Admitted> {
    const workspaceId = cmd.principal.workspaceId;
    const { projectId, rateLimits, maxRunningCalls, connection } = await this.targets.resolve(
      workspaceId,
      requestedProjectId,
      connector.id,
      cmd.connectionId,
    );
    // Only a call with an Idempotency-Key is ever compared with another (a replay), so only its
    // request is hashed: a keyless call's row stores none, and its input is not walked twice.
    const keyed: Keyed | undefined =
      cmd.idempotencyKey === undefined
        ? undefined
        : {
            key: cmd.idempotencyKey,
            request: this.hasher.fingerprint({
              connectorId: connector.id,
              actionId: action.id,
              connectionId: cmd.connectionId,
              input: cmd.input,
            }),
          };

    if (keyed) {
      const earlier = await findByIdempotencyKey(this.db, projectId, keyed.key);
      if (earlier) return this.replay(earlier, keyed.request, cmd);
    }

    const invocationId = newId('invocation');
    const row = {
      id: invocationId,
      workspace_id: workspaceId,
      project_id: projectId,
      connection_id: connection.id,
      connector_id: connector.id,
      action_id: action.id,
      idempotency_key: cmd.idempotencyKey ?? null,
      request_hash: keyed?.request.stored ?? null,
      via: cmd.via ?? 'api',
      client_name: cmd.client?.name?.slice(0, 200) ?? null,
      client_version: cmd.client?.version?.slice(0, 100) ?? null,
      // A custom connector's version: the worker runs the call on it, whatever PUT comes after.
      connector_version: connector.origin?.version ?? null,
      // The trace of the request that accepted the call (null with tracing off): docs/decisions/0014.
      trace_id: activeTraceId(),
    };

    if (connection.status === 'broken') {
      // A fast failure is still an accepted execution: it gets its row, and no upstream call.
      const error = {
        code: 'connection_broken',
        message: `The connection is broken: ${connection.statusReason ?? 'credentials rejected'}`,
      };
      const failedRow = {
        ...row,
        status: 'failed' as const,
        error_code: error.code,
        error_message: error.message,
        finished_at: new Date(),
      };
      const inserted = await this.insertOrReplay(() => insertInvocation(this.db, failedRow), projectId, keyed, cmd);
      if (inserted) return inserted;
      return { kind: 'finished', reply: { invocationId, status: 'failed', error, durationMs: null } };
    }

    // A slot under the project's limit for this connector. A sync call that could not start before
    // its deadline is refused without taking one; an async call waits for its slot, however far.
    const limitPerMinute = this.limits.limitFor(rateLimits, connector);
    const now = Date.now();
    const slot = await this.limiter.reserve(
      {
        key: limitKey(projectId, connector.id),
        limitPerMinute,
        member: `${invocationId}:1`,
        deadline: cmd.respondAsync ? undefined : now + cmd.timeoutMs,
      },
      now,
    );
    const rateLimit: RateLimitStatus = {
      policy: connector.id,
      limitPerMinute,
      remaining: slot.remaining,
      resetMs: slot.resetMs,
    };
    if (!slot.granted) {
      rateLimitRejected.inc({ connector: connector.id });
      // Never past the limit's window: within a minute the window has moved on (the limiter's guard
      // of half a second would otherwise announce 61 s for a per-minute limit).
      const retryAfter = Math.min(RETRY_AFTER_MAX_S, Math.max(1, Math.ceil(slot.retryAfterMs / 1000)));
      throw new ApiError(
        'rate_limited',
        `This project is over its limit of ${limitPerMinute} ${connector.id} calls per minute; retry in ${retryAfter} s or call asynchronously.`,
        { limitPerMinute, retryAfterSeconds: retryAfter },
        { 'Retry-After': String(retryAfter), ...rateLimitHeaders({ ...rateLimit, resetMs: retryAfter * 1000 }) },
      );
    }

    const data: ExecuteJobData = {
      invocationId,
      workspaceId,
      projectId,
      connectionId: connection.id,
      connectorId: connector.id,
      actionId: action.id,
      input,
      replyTo: cmd.respondAsync ? null : this.replies.channel,
      limitPerMinute,
      maxRunningCalls,
      ...(connector.origin ? { connectorVersion: connector.origin.version } : {}),
    };
    const jobOptions = { delay: slot.delayMs, priority: queuePriority(slot.rank) };

    let job: Promise<unknown>;
    let waiting: Promise<ExecutionReply | null> | undefined;
    if (!cmd.respondAsync && !keyed && this.queuedRows.idle) {
      // A keyless sync call on an idle accept path: its row and its job are written together
      // (docs/decisions/0019). The worker's claim, which comes after the queue's pick-up, almost
      // always finds the row committed; when it does not, it waits for it, and nothing runs without it.
      const notAccepted = new AbortController();
      waiting = this.replies.wait(invocationId, cmd.timeoutMs, notAccepted.signal);
      job = this.enqueue(data, jobOptions);
      const [written, queued] = await Promise.allSettled([this.queuedRows.add(row), job]);
      if (written.status === 'rejected') {
        notAccepted.abort();
        // Not accepted: the job goes (if it was added and not yet taken; a worker never runs it without its row).
        if (queued.status === 'fulfilled')
          await this.queues
            .forProject(projectId)
            .remove(invocationId)
            .catch(() => {});
        throw written.reason;
      }
    } else {
      // The row first: a keyed call's INSERT is what finds a concurrent replay, and an async call's
      // answer waits for both anyway. So does a call that arrives while other rows are being
      // written: its row would wait for their commit, and its job would likely reach a worker first.
      const replayed = await this.insertOrReplay(() => this.queuedRows.add(row), projectId, keyed, cmd);
      if (replayed) return replayed;
      // Subscribe before enqueueing, so a fast worker's reply cannot arrive before we listen.
      waiting = cmd.respondAsync ? undefined : this.replies.wait(invocationId, cmd.timeoutMs);
      job = this.enqueue(data, jobOptions);
    }
    executionsAccepted.inc({ connector: connector.id, action: action.id, mode: cmd.respondAsync ? 'async' : 'sync' });
    if (slot.delayMs > 0) rateLimitDeferred.inc({ connector: connector.id });
    await this.enqueueOrFail(invocationId, job);
    if (!waiting) return { kind: 'accepted', invocationId, status: 'queued', rateLimit };
    return { kind: 'waiting', invocationId, reply: waiting, rateLimit };
  }

  /** Adds a call's job to its project's shard; traced, the job carries its PRODUCER span's context. */
  private enqueue(data: ExecuteJobData, options: { delay: number; priority: number }): Promise<unknown> {
    const queue = this.queues.forProject(data.projectId);
    const add = (traceparent?: string) =>
      queue.add(`${data.connectorId}.${data.actionId}`, traceparent ? { ...data, traceparent } : data, {
        ...executeJobOptions,
        jobId: data.invocationId,
        ...options,
      });
    if (!tracingOn()) return add();
    // The worker's span continues the trace.
    return inSpan(
      'producer',
      `publish ${queue.name}`,
      { attributes: executeJobSpanAttributes(data, queue.name, 'send') },
      (span) => add(span.traceparent()),
    );
  }

  /** An accepted call whose job could not be queued ends failed (not run), and the caller is told. */
  private async enqueueOrFail(invocationId: string, job: Promise<unknown>): Promise<void> {
    try {
      await job;
    } catch {
      const error = { code: 'unavailable', message: 'The queue is unavailable; the call was not run. Retry later.' };
      await completeInvocation(this.db, invocationId, { failure: error, durationMs: null }).catch(() => {});
      throw new InvocationError(
        invocationId,
        new ApiError('unavailable', error.message, undefined, { 'Retry-After': '1' }),
      );
    }
  }

  /** The project named by the key, or (workspace keys) by the body. */
  private projectIdOf(cmd: ExecuteCommand): string {
    const p = cmd.principal;
    if (p.kind === 'project') {
      if (cmd.projectId !== undefined && cmd.projectId !== p.projectId) throw notFound('project');
      return p.projectId;
    }
    if (cmd.projectId === undefined) {
      throw new ApiError('invalid_input', 'With a workspace key, name the project.', [
        { path: 'projectId', message: 'required with a workspace key' },
      ]);
    }
    return cmd.projectId;
  }

  /** Inserts the row; when a concurrent request took the same Idempotency-Key first, replays that one. */
  private async insertOrReplay(
    insert: () => Promise<void>,
    projectId: string,
    keyed: Keyed | undefined,
    cmd: ExecuteCommand,
  ): Promise<Admitted | undefined> {
    try {
      await insert();
      return undefined;
    } catch (err) {
      if (!isUniqueViolation(err) || !keyed) throw err;
      const winner = await findByIdempotencyKey(this.db, projectId, keyed.key);
      if (!winner) throw err;
      return this.replay(winner, keyed.request, cmd);
    }
  }

  private async replay(earlier: InvocationRow, request: RequestFingerprint, cmd: ExecuteCommand): Promise<Admitted> {
    if (!request.matches(earlier.request_hash)) {
      throw new ApiError(
        'idempotency_key_reused',
        'This Idempotency-Key was used with a different request in the last 24 hours.',
      );
    }
    const finished = replyFromRow(earlier);
    if (finished) return { kind: 'finished', reply: finished };
    if (cmd.respondAsync) return { kind: 'accepted', invocationId: earlier.id, status: earlier.status };
    return { kind: 'waiting', invocationId: earlier.id, reply: this.replies.wait(earlier.id, cmd.timeoutMs) };
  }
}

/** A failed invocation as the API error it answers with. */
export function errorFromReply(error: NonNullable<ExecutionReply['error']>): ApiError {
  const code = isErrorCode(error.code) ? error.code : 'upstream_error';
  return new ApiError(code, error.message, error.details);
}
