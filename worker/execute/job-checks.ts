import { type ActionDefinition, safeToRepeat } from '../../connectors/toolkit/connector-definition.ts';
import type { ClaimedAttempt, InvocationFailure } from '../../shared/invocations/invocation-store.ts';
import type { ExecuteJobData } from '../../shared/queue/execute-job.ts';

/**
 * The checks an execute job passes before any upstream call, as pure functions of the claimed row,
 * the job and the action: each step of worker/execute-processor.ts can be tested on its own.
 */

/**
 * A job whose data disagrees with its audit row (or names another workspace's connection) was not
 * written by our api: whoever can write to Redis must not be able to borrow credentials.
 */
export function jobMatchesRow(claim: ClaimedAttempt, data: ExecuteJobData): boolean {
  return (
    claim.workspaceId === data.workspaceId &&
    claim.projectId === data.projectId &&
    claim.connectionId === data.connectionId &&
    claim.connectorId === data.connectorId &&
    claim.actionId === data.actionId &&
    (claim.connectorVersion ?? null) === (data.connectorVersion ?? null) &&
    (!claim.connection || claim.connection.workspace_id === claim.workspaceId)
  );
}

/** Why this attempt must not call the upstream, as the invocation's failure; undefined when it may. */
export function refusalBeforeCall(
  claim: ClaimedAttempt,
  action: ActionDefinition | undefined,
): InvocationFailure | undefined {
  if (!action) return { code: 'internal_error', message: 'This worker does not know the action.' };
  if (claim.previousStatus === 'running' && !safeToRepeat(action)) {
    // An earlier worker died during this write; it may have reached the upstream. Record, don't repeat.
    return {
      code: 'outcome_unknown',
      message: 'The worker running this write stopped mid-call; it may or may not have taken effect.',
    };
  }
  if (!claim.connection) return { code: 'no_connection', message: 'The connection was deleted before the call ran.' };
  if (claim.connection.status === 'broken') {
    return {
      code: 'connection_broken',
      message: `The connection is broken: ${claim.connection.status_reason ?? 'credentials rejected'}`,
    };
  }
  return undefined;
}
