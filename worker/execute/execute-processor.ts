import { DelayedError, type Job } from 'bullmq';
import { findAction } from '../../connectors/registry.ts';
import { safeToRepeat } from '../../connectors/toolkit/connector-definition.ts';
import type { ClassifiedFailure } from '../../connectors/toolkit/upstream-errors.ts';
import type { Config } from '../../shared/config.ts';
import type { ConnectionBreaker } from '../../shared/connections/connection-breaker.ts';
import { credentialsReplacedSince } from '../../shared/connections/connection-status.ts';
import type { CredentialRefresher } from '../../shared/connections/credential-refresher.ts';
import type { ConnectorLookup } from '../../shared/custom-connectors/connector-lookup.ts';
import type { Db } from '../../shared/db/database.ts';
import { GroupCommit } from '../../shared/db/group-commit.ts';
import { isInfrastructureError } from '../../shared/infrastructure-errors.ts';
import {
  type ClaimedAttempt,
  type ClaimRequest,
  claimAttempts,
  completeInvocations,
  type InvocationFailure,
  type InvocationOutcome,
  invocationStatus,
  requeueInvocation,
} from '../../shared/invocations/invocation-store.ts';
import { type RunningShare, runningCapOf } from '../../shared/limiter/running-share.ts';
import { limitKey, type SlidingWindowLimiter } from '../../shared/limiter/sliding-window-limiter.ts';
import type { Logger } from '../../shared/logger.ts';
import { claimsWithoutRow, jobDuration, jobs, jobsHeldBack, upstreamRateLimited } from '../../shared/metrics.ts';
import { type ExecuteJobData, executeJobSpanAttributes } from '../../shared/queue/execute-job.ts';
import { type ExecutionReply, publishReply } from '../../shared/queue/execution-reply.ts';
import type { RedisClient } from '../../shared/queue/redis.ts';
import { annotateActiveSpan, inSpan, tracingOn } from '../../shared/tracing/tracing.ts';
import { attemptFailure } from './attempt-failure.ts';
import { claimRow } from './claim-row.ts';
import { failureToInvocationError } from './failure-to-error.ts';
import { jobMatchesRow, refusalBeforeCall } from './job-checks.ts';
import { isRetryable, RetryScheduled, retryDelayMs } from './retry-policy.ts';
import { runAttempt } from './run-attempt.ts';

export interface ProcessorDeps {
  db: Db;
  /**
   * The pool of the per-job claims and completions: statements by id on a month's partition, cached
   * per connection, so planned with index lookups only (createDb's `indexLookupsOnly`). Two statements
   * are in flight at most (one group commit each).
   */
  jobWrites: Db;
  /**
   * The claims of calls that are safe to run twice (a read, or a write the upstream dedupes): the same
   * statements as `jobWrites`, committed without waiting for the WAL flush (createDb's `asyncCommit`,
   * docs/decisions/0020). A claim lost in a Postgres crash leaves its row queued, and such a call is run
   * again, as after a worker's death (decision 0001). One statement in flight at most.
   */
  repeatableClaimWrites: Db;
  config: Config;
  /** Publishes sync replies; a plain (non-subscriber) connection. */
  publisher: RedisClient;
  limiter: SlidingWindowLimiter;
  /** Fair shares of the running work across all workers (shared/limiter/running-share.ts). */
  share: RunningShare;
  refresher: CredentialRefresher;
  breaker: ConnectionBreaker;
  logger: Logger;
  /** Built-in connectors, and custom ones by workspace, id and the version the call was accepted with. */
  connectors: ConnectorLookup;
}

/** `application_name` of the worker's connection for the claims of calls safe to run twice. */
export const REPEATABLE_CLAIMS_APPLICATION = 'ce-worker-repeatable-claims';

/**
 * How long a job refused a place (the tier's capacity, the project's share) may wait in its worker for
 * one to free before going back to the queue; it waits only while places free faster than every half
 * of this (RunningShare.placeLikelyWithin). Under a flood of short calls a job sent straight back was
 * picked up again by the same slot and refused again: a quarter of the throughput went to that churn.
 * While calls take long, a waiting job would hold a queue slot another project's job could take.
 */
const PLACE_WAIT_MS = 10;

/** While Postgres is unreachable, a job is tried again after this long. */
const DATABASE_RETRY_MS = 2_000;

/** Without a Retry-After, an upstream 429 holds this project+connector back this long. */
const DEFAULT_COOLDOWN_MS = 1_000;

/** No attempt starts with less of the invocation's time budget left than this. */
const MIN_ATTEMPT_MS = 1_000;

/**
 * How long a job held back by the running share waits before it is tried again: doubling with each
 * hold (from 50 ms to 2 s, with jitter), so a project's backlog waiting for its share costs the
 * workers little, while a place that frees up is taken again soon.
 */
export function heldBackDelayMs(timesHeld: number, random: () => number = Math.random): number {
  const ceiling = Math.min(2_000, 50 * 2 ** Math.min(6, Math.max(0, timesHeld)));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Runs one attempt of an execute job, in named steps: (0) a place within the project's fair share
 * of the running work, (1) the limit at the moment of the call,
 * (2) claim the invocation row, (3) check the job against its row and refuse what must not call the
 * upstream (job-checks.ts), (4) run the action (run-attempt.ts), (5) on failure classify it
 * (attempt-failure.ts), cool down, break the connection, or retry by side effects, and (6) record
 * the outcome. The invocation row is written before the reply is published, and a job is only
 * acknowledged once its row is durable.
 */
/** The failure of an invocation whose earlier attempts (and waits between them) used up its time budget. */
function budgetSpent(config: Config): InvocationFailure {
  return {
    code: 'upstream_unavailable',
    message: `The call's time budget (${Math.round(config.EXECUTION_TIME_BUDGET_MS / 1000)} s) was spent by earlier attempts; no further attempt was made.`,
  };
}

export function createExecuteProcessor(deps: ProcessorDeps) {
  const { db, logger } = deps;
  // Completions of concurrent jobs share statements and commits (docs/design.md, decision 6).
  const completions = new GroupCommit<{ id: string; outcome: InvocationOutcome }>((items) =>
    completeInvocations(deps.jobWrites, items),
  );
  // So do claims: a claim is the same kind of write, one commit each when done alone.
  const claims = new GroupCommit<ClaimRequest, ClaimedAttempt | null>((items) => claimAttempts(deps.jobWrites, items));
  const repeatableClaims = new GroupCommit<ClaimRequest, ClaimedAttempt | null>((items) =>
    claimAttempts(deps.repeatableClaimWrites, items),
  );

  /** Step 6: the row, then (sync calls) the reply. */
  async function finish(job: Job<ExecuteJobData>, outcome: InvocationOutcome): Promise<void> {
    const { invocationId, replyTo } = job.data;
    if (tracingOn()) {
      const failed = 'failure' in outcome;
      annotateActiveSpan(
        { 'engine.outcome': failed ? 'failed' : 'succeeded' },
        failed ? outcome.failure.code : undefined,
      );
    }
    await completions.add({ id: invocationId, outcome });
    if (!replyTo) return;
    const reply: ExecutionReply =
      'output' in outcome
        ? { invocationId, status: 'succeeded', output: outcome.output, durationMs: outcome.durationMs }
        : { invocationId, status: 'failed', error: outcome.failure, durationMs: outcome.durationMs };
    // A lost reply is covered by the api's timeout, which reads the row.
    await publishReply(deps.publisher, replyTo, reply).catch((err: Error) => {
      logger.warn({ invocationId, err: err.message }, 'could not publish reply');
    });
  }

  const record = (data: ExecuteJobData, outcome: 'succeeded' | 'failed' | 'retried', seconds: number) => {
    const labels = { connector: data.connectorId, action: data.actionId, outcome };
    jobs.inc(labels);
    jobDuration.observe(labels, seconds);
  };

  return async function processExecuteJob(job: Job<ExecuteJobData>, token?: string): Promise<void> {
    const data = job.data;
    const log = logger.child({
      invocationId: data.invocationId,
      connectorId: data.connectorId,
      actionId: data.actionId,
    });
    const bucket = limitKey(data.projectId, data.connectorId);

    const delayed = async (until: number): Promise<never> => {
      if (!token) throw new Error('job token missing');
      await job.moveToDelayed(until, token);
      throw new DelayedError();
    };
    // Postgres unreachable: wait it out in the delayed set. Nothing ran yet and no attempt is spent,
    // so an outage of any length delays calls instead of failing them.
    const orWaitForDatabase = async <T>(query: Promise<T>): Promise<T> => {
      try {
        return await query;
      } catch (err) {
        if (!isInfrastructureError(err)) throw err;
        log.warn({ err: (err as Error).message }, 'database unavailable; job delayed');
        return delayed(Date.now() + DATABASE_RETRY_MS);
      }
    };

    // 0. A place to run within the project's fair share of every worker's slots; held back, the job
    // waits in the delayed set, nothing claimed and no attempt spent (docs/decisions/0007).
    // 1. Then, in the same Redis round trip, the limit at the moment of the call, checked as late as
    // possible before the request: an upstream cooldown, or a window of actual starts already full (a
    // lowered limit, calls started late under load), sends the job back to the delayed set until it
    // may start (no attempt spent; the place is given back).
    // Refused for the tier's capacity or the project's share while this worker's places are turning
    // over fast, the job first waits a moment for one to free (PLACE_WAIT_MS), then goes back to the queue.
    const ownerCap = runningCapOf(data.maxRunningCalls ?? null, deps.config.PROJECT_MAX_RUNNING_CALLS);
    const member = `${data.invocationId}:${job.attemptsStarted}`;
    const takePlace = () =>
      deps.share.acquireThenCheck(
        data.projectId,
        ownerCap,
        deps.limiter.admission(bucket, data.limitPerMinute, member),
      );
    let lease = await takePlace();
    const waitUntil = Date.now() + PLACE_WAIT_MS;
    while (
      !lease.granted &&
      lease.reason !== 'owner_cap' &&
      Date.now() < waitUntil &&
      deps.share.placeLikelyWithin(PLACE_WAIT_MS / 2)
    ) {
      await deps.share.placeFreed(waitUntil - Date.now());
      lease = await takePlace();
    }
    if (!lease.granted) {
      jobsHeldBack.inc({ reason: lease.reason });
      // Starts that were not attempts (held back, or deferred by the limit) so far.
      return delayed(Date.now() + heldBackDelayMs(job.attemptsStarted - job.attemptsMade - 1));
    }
    if (!lease.passed) return delayed(lease.checked.admitted ? Date.now() : lease.checked.retryAt);
    try {
      return await (tracingOn() ? tracedAttempt() : attempt());
    } finally {
      lease.release();
    }

    /** The attempt in its CONSUMER span, a child of the api's PRODUCER span (the job's `traceparent`). */
    function tracedAttempt(): Promise<void> {
      return inSpan(
        'consumer',
        `process ${job.queueName}`,
        {
          parent: { traceparent: data.traceparent },
          attributes: {
            ...executeJobSpanAttributes(data, job.queueName, 'process'),
            'engine.attempt': job.attemptsStarted,
          },
          // Sent back to the delayed set by the limit: no attempt was spent.
          notAnError: (err) => err instanceof DelayedError,
        },
        attempt,
      );
    }

    async function attempt(): Promise<void> {
      // The action the job names: whether it is safe to run twice decides how durable its claim must
      // be. The claimed row must then name the same one (step 3), or nothing runs.
      const connector = await orWaitForDatabase(
        deps.connectors.find(data.workspaceId, data.connectorId, data.connectorVersion ?? null),
      );
      const action = connector && findAction(connector, data.actionId);
      const claimWrites = action && safeToRepeat(action) ? repeatableClaims : claims;

      // 2. Claim the row; a terminal one means a duplicate delivery (claim-row.ts).
      const claimed = await claimRow({
        claim: () => orWaitForDatabase(claimWrites.add({ id: data.invocationId, connectionId: data.connectionId })),
        status: () => orWaitForDatabase(invocationStatus(db, data.invocationId)),
        delay: delayed,
        addedAt: job.timestamp,
      });
      const claimedAt = Date.now();
      if (claimed.kind === 'terminal') {
        log.debug('invocation already terminal; duplicate delivery ignored');
        return;
      }
      if (claimed.kind === 'no_row') {
        log.warn('no invocation row came for this job: the call was not accepted, and is not run');
        return;
      }
      if (claimed.waitedForRow) claimsWithoutRow.inc();
      const claim = claimed.claim;

      // 3. Checks before any upstream call.
      if (!jobMatchesRow(claim, data)) {
        log.error('job data does not match its invocation; refused');
        return finish(job, {
          failure: { code: 'internal_error', message: 'The queued job did not match its invocation and was refused.' },
          durationMs: null,
        });
      }
      const refusal = refusalBeforeCall(claim, action);
      // (A missing action or connection is one of the refusals: the other tests only narrow the types.)
      if (refusal || !connector || !action || !claim.connection)
        return finish(job, { failure: refusal!, durationMs: null });
      const connection = claim.connection;
      // The invocation's time budget runs from its first attempt: what is left bounds this one.
      const budgetEndsAt = claimedAt - claim.elapsedMs + deps.config.EXECUTION_TIME_BUDGET_MS;
      if (claim.attempts > 1 && budgetEndsAt - claimedAt < MIN_ATTEMPT_MS)
        return finish(job, { failure: budgetSpent(deps.config), durationMs: null });

      // 4. Run.
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      const timeoutMs = Math.max(MIN_ATTEMPT_MS, Math.min(deps.config.UPSTREAM_TIMEOUT_MS, budgetEndsAt - claimedAt));
      const result = await runAttempt(deps, connector, action, connection, data.invocationId, data.input, timeoutMs);
      const durationMs = elapsed();
      if (result.ok) {
        await finish(job, { output: result.output, durationMs });
        record(data, 'succeeded', durationMs / 1000);
        log.info({ attempts: claim.attempts }, 'invocation succeeded');
        return;
      }

      // 5. What the failure means.
      const meaning = attemptFailure(connector, result.error);
      if (meaning.kind === 'final') {
        if (meaning.bug)
          log.error(
            { err: result.error instanceof Error ? result.error.message : String(result.error) },
            'action handler failed',
          );
        return finish(job, { failure: meaning.failure, durationMs });
      }
      const failure = meaning.failure;
      if (failure.kind === 'rate_limited') {
        upstreamRateLimited.inc({ connector: connector.id });
        await deps.limiter.coolDown(bucket, Date.now() + (failure.retryAfterMs ?? DEFAULT_COOLDOWN_MS));
      }
      if (failure.kind === 'auth_invalid') {
        const version = result.credentialsVersion;
        const broke = await deps.breaker.markBroken(
          { id: connection.id, connectorId: connector.id },
          version,
          failure.message,
          'call',
        );
        if (!broke && (await credentialsReplacedSince(db, connection.id, version))) {
          // The rejected credentials were replaced while this call ran: the connection is fine, this call is not.
          log.info(
            { connectionId: connection.id },
            'credentials rejected, but already replaced; connection left active',
          );
          return finish(job, {
            failure: failureToInvocationError(connector, { ...failure, kind: 'permission' }),
            durationMs,
          });
        }
      }
      const attemptsLeft = job.attemptsMade + 1 < (job.opts.attempts ?? 1);
      const delayMs =
        attemptsLeft && isRetryable(failure, action)
          ? await scheduleRetry(data, claim.attempts, failure, durationMs, budgetEndsAt - MIN_ATTEMPT_MS)
          : null;
      if (delayMs !== null) {
        log.info(
          { kind: failure.kind, upstreamStatus: failure.upstreamStatus, attempt: claim.attempts },
          'attempt failed; retrying',
        );
        record(data, 'retried', durationMs / 1000);
        throw new RetryScheduled(delayMs, failure);
      }
      log.info(
        { kind: failure.kind, upstreamStatus: failure.upstreamStatus, upstreamCode: failure.upstreamCode },
        'invocation failed',
      );
      record(data, 'failed', durationMs / 1000);
      return finish(job, { failure: failureToInvocationError(connector, failure), durationMs });
    }
  };

  /**
   * Retries count against the limit too: the next attempt starts on a slot of its own, or not at
   * all (null) when no slot is free before `deadline`, the end of the invocation's time budget.
   */
  async function scheduleRetry(
    data: ExecuteJobData,
    attempts: number,
    failure: ClassifiedFailure,
    durationMs: number,
    deadline: number,
  ): Promise<number | null> {
    const now = Date.now();
    const notBefore = now + retryDelayMs(attempts, failure);
    if (notBefore > deadline) return null;
    const slot = await deps.limiter.reserve(
      {
        key: limitKey(data.projectId, data.connectorId),
        limitPerMinute: data.limitPerMinute,
        member: `${data.invocationId}:${attempts + 1}`,
        notBefore,
        deadline,
      },
      now,
    );
    if (!slot.granted) return null;
    await requeueInvocation(db, data.invocationId, durationMs);
    return slot.delayMs;
  }
}
