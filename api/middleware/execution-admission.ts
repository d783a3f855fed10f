import type { RequestHandler } from 'express';
import { FairAdmission } from '../execution/fair-admission.ts';
import { admissionWait, observeAdmission } from '../../shared/metrics.ts';
import { presentedKeyHash } from './authenticate.ts';

/** Executions admitted at once per api process (see FairAdmission and docs/decisions/0003). */
export const ADMISSION_CONCURRENCY = 8;
/** Places a heavy caller may hold while a light caller is active (docs/decisions/0005). */
export const ADMISSION_SHARE = 2;

/**
 * POST /v1/executions waits here, after its body is read and before authentication, for one of a
 * few admission places, handed to callers in turns. Authentication is inside on purpose: its
 * database lookup is where a flooding tenant's requests used to queue ahead of everyone else's.
 * Callers are told apart by their key's hash (before authentication nothing else is known), so a
 * tenant flooding with one key gets one turn in each round like anyone else.
 *
 * The place is given back when the call is admitted (`res.locals.admitted`, called by the route
 * after authentication, before a sync call waits for its result), or at the latest when the
 * response ends. Only the first makes the caller count as an active light caller: a request with a
 * made-up key must not hold paying callers to their share.
 */
export function executionAdmission(admission = new FairAdmission(ADMISSION_CONCURRENCY, { share: ADMISSION_SHARE })): RequestHandler {
  observeAdmission(() => admission.queued);
  return async (req, res, next) => {
    const tenant = presentedKeyHash(req)?.toString('base64url') ?? 'no key';
    // A client that hangs up while waiting must not keep the place it is then given: its response
    // has closed already, so nothing would give the place back.
    let gone = false;
    const onGone = () => {
      gone = true;
    };
    res.once('close', onGone);
    const started = performance.now();
    const release = await admission.acquire(tenant);
    const waitedMs = performance.now() - started;
    admissionWait.observe(waitedMs / 1000);
    // The route takes it off the sync call's timeoutMs: the caller's clock started on arrival.
    res.locals.admissionWaitMs = waitedMs;
    res.off('close', onGone);
    if (gone) {
      release();
      return;
    }
    res.locals.admitted = () => release({ served: true });
    res.once('close', release);
    next();
  };
}
