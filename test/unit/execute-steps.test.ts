import { describe, expect, it } from 'vitest';
import { resendConnector } from '../../connectors/resend/resend-connector.ts';
import { slackConnector } from '../../connectors/slack/slack-connector.ts';
import { UpstreamHttpError, UpstreamNetworkError } from '../../connectors/toolkit/upstream-errors.ts';
import { RefreshRejected, RefreshUnavailable } from '../../shared/connections/credential-refresher.ts';
import type { ClaimedAttempt } from '../../shared/invocations/invocation-store.ts';
import type { ExecuteJobData } from '../../shared/queue/execute-job.ts';
import { attemptFailure } from '../../worker/execute/attempt-failure.ts';
import { jobMatchesRow, refusalBeforeCall } from '../../worker/execute/job-checks.ts';

/** The named steps of worker/execute/execute-processor.ts that decide without side effects. */
const job: ExecuteJobData = {
  invocationId: 'inv_1',
  workspaceId: 'ws_1',
  projectId: 'prj_1',
  connectionId: 'conn_1',
  connectorId: 'resend',
  actionId: 'sendEmail',
  input: {},
  replyTo: null,
  limitPerMinute: 600,
};
const connection = {
  id: 'conn_1',
  workspace_id: 'ws_1',
  status: 'active' as const,
  status_reason: null,
  credentials_key_id: 'k1',
  credentials_iv: Buffer.alloc(12),
  credentials_tag: Buffer.alloc(16),
  credentials_ciphertext: Buffer.alloc(1),
  credentials_version: 1,
};
const claim: ClaimedAttempt = {
  previousStatus: 'queued',
  attempts: 1,
  workspaceId: 'ws_1',
  projectId: 'prj_1',
  connectionId: 'conn_1',
  connectorId: 'resend',
  actionId: 'sendEmail',
  elapsedMs: 0,
  connection,
};
const action = (id: string, c = resendConnector) => c.actions.find((a) => a.id === id)!;

describe('execute step: the job against its row', () => {
  it('accepts a job that says what its row says', () => {
    expect(jobMatchesRow(claim, job)).toBe(true);
  });

  it('refuses a job that names another project, connection, action, or a connection of another workspace', () => {
    expect(jobMatchesRow({ ...claim, projectId: 'prj_2' }, job)).toBe(false);
    expect(jobMatchesRow({ ...claim, connectionId: 'conn_2' }, job)).toBe(false);
    expect(jobMatchesRow({ ...claim, actionId: 'sendBatch' }, job)).toBe(false);
    expect(jobMatchesRow({ ...claim, connection: { ...connection, workspace_id: 'ws_other' } }, job)).toBe(false);
  });
});

describe('execute step: refusals before any upstream call', () => {
  it('lets a known action on an active connection run', () => {
    expect(refusalBeforeCall(claim, action('sendEmail'))).toBeUndefined();
  });

  it('records an unknown action, a deleted connection and a broken one without calling', () => {
    expect(refusalBeforeCall(claim, undefined)?.code).toBe('internal_error');
    expect(refusalBeforeCall({ ...claim, connection: null }, action('sendEmail'))?.code).toBe('no_connection');
    expect(
      refusalBeforeCall(
        { ...claim, connection: { ...connection, status: 'broken', status_reason: 'revoked' } },
        action('sendEmail'),
      ),
    ).toEqual({
      code: 'connection_broken',
      message: 'The connection is broken: revoked',
    });
  });

  it('never repeats a write that a dead worker may have sent, unless the upstream dedupes it', () => {
    const rerun = { ...claim, previousStatus: 'running' as const };
    expect(refusalBeforeCall(rerun, action('postMessage', slackConnector))?.code).toBe('outcome_unknown');
    expect(refusalBeforeCall(rerun, action('sendEmail'))).toBeUndefined(); // Resend dedupes by Idempotency-Key
    expect(refusalBeforeCall(rerun, action('listDomains'))).toBeUndefined(); // a read
  });
});

describe('execute step: what an attempt error means', () => {
  it('classifies upstream answers by the connector table, an expired token as dead when it could not be refreshed', () => {
    expect(
      attemptFailure(resendConnector, new UpstreamHttpError(403, {}, { name: 'invalid_api_key', message: 'bad' })),
    ).toMatchObject({
      kind: 'classified',
      failure: { kind: 'auth_invalid', upstreamCode: 'invalid_api_key' },
    });
    expect(
      attemptFailure(slackConnector, new UpstreamHttpError(200, {}, { ok: false, error: 'token_expired' })),
    ).toMatchObject({
      kind: 'classified',
      failure: { kind: 'auth_invalid' },
    });
    expect(attemptFailure(resendConnector, new UpstreamNetworkError('ECONNREFUSED', false))).toMatchObject({
      kind: 'classified',
      failure: { kind: 'transient', requestMayHaveRun: false },
    });
  });

  it('reports a refused refresh as the broken connection, and an unavailable refresh for a retry', () => {
    const rejected = attemptFailure(
      slackConnector,
      new RefreshRejected({ kind: 'invalid_request', message: 'invalid_refresh_token', requestMayHaveRun: false }),
    );
    expect(rejected).toMatchObject({ kind: 'final', failure: { code: 'connection_broken' } });
    const unavailable = attemptFailure(
      slackConnector,
      new RefreshUnavailable({ kind: 'transient', message: 'down', requestMayHaveRun: false }),
    );
    expect(unavailable).toEqual({
      kind: 'classified',
      failure: { kind: 'transient', message: 'down', requestMayHaveRun: false },
    });
  });

  it("reports a handler's own bug as an internal error, never as the upstream's", () => {
    expect(
      attemptFailure(resendConnector, new TypeError("Cannot read properties of undefined (reading 'id')")),
    ).toEqual({
      kind: 'final',
      failure: { code: 'internal_error', message: 'The action failed inside the engine.' },
      bug: true,
    });
  });
});
