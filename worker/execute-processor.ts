import { DelayedError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { classifyUpstreamError } from '../connectors/toolkit/classify.ts';
import type { ActionContext, ArtifactRef } from '../connectors/toolkit/connector-definition.ts';
import { UpstreamHttpError, UpstreamNetworkError, type ClassifiedFailure } from '../connectors/toolkit/upstream-errors.ts';
import { findAction, findConnector } from '../connectors/registry.ts';
import type { Config } from '../shared/config.ts';
import { credentialsReplacedSince, markConnectionBroken } from '../shared/connections/connection-status.ts';
import { RefreshRejected, RefreshUnavailable, type CredentialRefresher, type UsableCredentials } from '../shared/connections/credential-refresher.ts';
import { upstreamClientFor } from '../shared/connections/upstream-for.ts';
import type { Db } from '../shared/db/database.ts';
import { newId } from '../shared/ids.ts';
import {
  claimAttempt,
  completeInvocations,
  requeueInvocation,
  type InvocationOutcome,
} from '../shared/invocations/invocation-store.ts';
import { GroupCommit } from '../shared/db/group-commit.ts';
import { limitKey, type SlidingWindowLimiter } from '../shared/limiter/sliding-window-limiter.ts';
import { isInfrastructureError } from '../shared/infrastructure-errors.ts';
import type { Logger } from '../shared/logger.ts';
import { connectionsBroken, jobDuration, jobs, upstreamRateLimited } from '../shared/metrics.ts';
import type { ExecuteJobData } from '../shared/queue/execute-job.ts';
import type { ConnectionEvents } from '../shared/webhooks/connection-events.ts';
import type { ExecutionReply } from '../shared/queue/execution-reply.ts';
import { failureToInvocationError } from './failure-to-error.ts';
import { isRetryable, retryDelayMs, RetryScheduled } from './retry-policy.ts';

export interface ProcessorDeps {
  db: Db;
  config: Config;
  /** Publishes sync replies; a plain (non-subscriber) connection. */
  publisher: Redis;
  limiter: SlidingWindowLimiter;
  refresher: CredentialRefresher;
  events: ConnectionEvents;
  logger: Logger;
}

/** While Postgres is unreachable, a job is tried again after this long. */
const DATABASE_RETRY_MS = 2_000;

/** Without a Retry-After, an upstream 429 holds this project+connector back this long. */
const DEFAULT_COOLDOWN_MS = 1_000;

/**
 * Runs one attempt of an execute job: load and decrypt the connection, run the action, classify the
 * result, and record it. The invocation row is written before the reply is published, and a job
 * is only acknowledged once its row is durable.
 */
export function createExecuteProcessor(deps: ProcessorDeps) {
  const { db, config, logger } = deps;
  // Completions of concurrent jobs share statements and commits (DESIGN.md §6 allows batching audit writes).
  const completions = new GroupCommit<{ id: string; outcome: InvocationOutcome }>((items) => completeInvocations(db, items));

  async function finish(job: Job<ExecuteJobData>, outcome: InvocationOutcome): Promise<void> {
    const { invocationId, replyTo } = job.data;
    await completions.add({ id: invocationId, outcome });
    if (!replyTo) return;
    const reply: ExecutionReply =
      'output' in outcome
        ? { invocationId, status: 'succeeded', output: outcome.output, durationMs: outcome.durationMs }
        : { invocationId, status: 'failed', error: outcome.failure, durationMs: outcome.durationMs };
    // A lost reply is covered by the api's timeout, which reads the row.
    await deps.publisher.publish(replyTo, JSON.stringify(reply)).catch((err: Error) => {
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
    const log = logger.child({ invocationId: data.invocationId, connectorId: data.connectorId, actionId: data.actionId });
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

    // The limit holds at the moment of the call, checked as late as possible before the request: an
    // upstream cooldown, or a window of actual starts already full (a lowered limit, calls started
    // late under load), sends the job back to the delayed set until it may start (no attempt spent).
    const admission = await deps.limiter.admit(bucket, data.limitPerMinute, `${data.invocationId}:${job.attemptsStarted}`);
    if (!admission.admitted) return delayed(admission.retryAt);

    const claim = await orWaitForDatabase(claimAttempt(db, data.invocationId, data.connectionId));
    if (!claim) {
      log.debug('invocation already terminal; duplicate delivery ignored');
      return;
    }
    const { connection } = claim;

    // A job whose data disagrees with its audit row (or names another workspace's connection) was
    // not written by our api: whoever can write to Redis must not be able to borrow credentials.
    const matchesRow =
      claim.workspaceId === data.workspaceId &&
      claim.projectId === data.projectId &&
      claim.connectionId === data.connectionId &&
      claim.connectorId === data.connectorId &&
      claim.actionId === data.actionId &&
      (!connection || connection.workspace_id === claim.workspaceId);
    if (!matchesRow) {
      log.error('job data does not match its invocation; refused');
      return finish(job, { failure: { code: 'internal_error', message: 'The queued job did not match its invocation and was refused.' }, durationMs: null });
    }

    const connector = findConnector(data.connectorId);
    const action = connector && findAction(connector, data.actionId);
    if (!connector || !action) {
      return finish(job, { failure: { code: 'internal_error', message: 'This worker does not know the action.' }, durationMs: null });
    }
    if (claim.previousStatus === 'running' && action.sideEffects === 'write' && !action.upstreamDedupes) {
      // An earlier worker died during this write; it may have reached the upstream. Record, don't repeat.
      return finish(job, {
        failure: { code: 'outcome_unknown', message: 'The worker running this write stopped mid-call; it may or may not have taken effect.' },
        durationMs: null,
      });
    }
    if (!connection) {
      return finish(job, { failure: { code: 'no_connection', message: 'The connection was deleted before the call ran.' }, durationMs: null });
    }
    if (connection.status === 'broken') {
      return finish(job, {
        failure: { code: 'connection_broken', message: `The connection is broken: ${connection.status_reason ?? 'credentials rejected'}` },
        durationMs: null,
      });
    }

    const context = (credentials: Record<string, string>): ActionContext => ({
      http: upstreamClientFor(connector, credentials, config),
      invocationId: data.invocationId,
      // Derived from the invocation, so every attempt carries the same key.
      idempotencyKey: data.invocationId,
      saveArtifact: (name, contentType, bytes) => saveArtifact(db, data.invocationId, name, contentType, bytes),
    });

    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    let usable: UsableCredentials | undefined;
    try {
      usable = await deps.refresher.usable(connector, connection);
      let output: unknown;
      try {
        output = await action.run(context(usable.credentials), data.input);
      } catch (err) {
        // A rotating token that expired early: refresh once (shared across workers) and run again.
        // Safe for writes too: the upstream refused the request before acting on it.
        const expired = (err instanceof UpstreamHttpError) && classifyUpstreamError(connector, err).kind === 'auth_expired';
        if (!expired || !deps.refresher.canRefresh(connector, usable.credentials)) throw err;
        usable = await deps.refresher.usable(connector, connection, { force: true });
        output = await action.run(context(usable.credentials), data.input);
      }
      await finish(job, { output, durationMs: elapsed() });
      record(data, 'succeeded', elapsed() / 1000);
      log.info({ attempts: claim.attempts }, 'invocation succeeded');
    } catch (err) {
      const durationMs = elapsed();
      if (err instanceof RefreshRejected) {
        return finish(job, { failure: failureToInvocationError(connector, { ...err.failure, kind: 'auth_invalid' }), durationMs });
      }
      if (!(err instanceof UpstreamHttpError || err instanceof UpstreamNetworkError || err instanceof RefreshUnavailable)) {
        log.error({ err: err instanceof Error ? err.message : String(err) }, 'action handler failed');
        return finish(job, { failure: { code: 'internal_error', message: 'The action failed inside the engine.' }, durationMs });
      }
      const classified = err instanceof RefreshUnavailable ? err.failure : classifyUpstreamError(connector, err);
      // An expired token we cannot refresh is as dead as a revoked one.
      const failure: ClassifiedFailure = classified.kind === 'auth_expired' ? { ...classified, kind: 'auth_invalid' } : classified;
      if (failure.kind === 'rate_limited') {
        upstreamRateLimited.inc({ connector: connector.id });
        await deps.limiter.coolDown(bucket, Date.now() + (failure.retryAfterMs ?? DEFAULT_COOLDOWN_MS));
      }
      if (failure.kind === 'auth_invalid') {
        const version = usable?.version ?? connection.credentials_version;
        const changed = await markConnectionBroken(db, connection.id, version, failure.message);
        if (changed) {
          log.warn({ connectionId: connection.id, upstreamCode: failure.upstreamCode }, 'connection marked broken');
          connectionsBroken.inc({ connector: connector.id, source: 'call' });
          await deps.events.emit('connection.broken', connection.id);
        } else if (await credentialsReplacedSince(db, connection.id, version)) {
          // The rejected credentials were replaced while this call ran: the connection is fine, this call is not.
          log.info({ connectionId: connection.id }, 'credentials rejected, but already replaced; connection left active');
          return finish(job, { failure: failureToInvocationError(connector, { ...failure, kind: 'permission' }), durationMs });
        }
      }
      const attemptsLeft = job.attemptsMade + 1 < (job.opts.attempts ?? 1);
      if (attemptsLeft && isRetryable(failure, action)) {
        // Retries count against the limit too: the next attempt starts on a slot of its own.
        const now = Date.now();
        const slot = await deps.limiter.reserve(
          { key: bucket, limitPerMinute: data.limitPerMinute, member: `${data.invocationId}:${claim.attempts + 1}`, notBefore: now + retryDelayMs(claim.attempts, failure) },
          now,
        );
        await requeueInvocation(db, data.invocationId, durationMs);
        log.info({ kind: failure.kind, upstreamStatus: failure.upstreamStatus, attempt: claim.attempts }, 'attempt failed; retrying');
        record(data, 'retried', durationMs / 1000);
        throw new RetryScheduled(slot.granted ? slot.delayMs : slot.retryAfterMs, failure);
      }
      log.info({ kind: failure.kind, upstreamStatus: failure.upstreamStatus, upstreamCode: failure.upstreamCode }, 'invocation failed');
      record(data, 'failed', durationMs / 1000);
      return finish(job, { failure: failureToInvocationError(connector, failure), durationMs });
    }
  };
}

async function saveArtifact(db: Db, invocationId: string, name: string, contentType: string, data: Buffer): Promise<ArtifactRef> {
  await db
    .insertInto('artifacts')
    .values({ id: newId('artifact'), invocation_id: invocationId, name, content_type: contentType, size_bytes: data.length, data })
    // A retried attempt replaces what an earlier one stored under the same name.
    .onConflict((oc) => oc.columns(['invocation_id', 'name']).doUpdateSet({ content_type: contentType, size_bytes: data.length, data }))
    .execute();
  return { contentType, sizeBytes: data.length, url: `/v1/invocations/${invocationId}/artifacts/${encodeURIComponent(name)}` };
}
