import { type Request, Router } from 'express';
import { z } from 'zod';
import type { ExecutionAccepted, ExecutionResult } from '../../shared/api-resources.ts';
import { ApiError } from '../../shared/errors.ts';
import { type ExecutionService, errorFromReply } from '../execution/execution-service.ts';
import { rateLimitHeaders } from '../http/rate-limit-headers.ts';
import type { Principal } from '../middleware/authenticate.ts';
import { admissionCaller } from '../middleware/authenticate.ts';
import { InvocationError } from '../middleware/errors.ts';
import type { BodyReader } from '../middleware/json-body.ts';
import { traceRequests } from '../middleware/trace-request.ts';
import { parseBody, parseQuery } from '../validation.ts';

export const executeBody = z
  .object({
    connectorId: z.string().min(1).max(100),
    actionId: z.string().min(1).max(100),
    input: z.unknown().default({}),
    connectionId: z.string().min(1).max(100).optional(),
    projectId: z.string().min(1).max(100).optional(),
  })
  .strict();
export const executeQuery = z.object({ timeoutMs: z.coerce.number().int().min(1).max(120_000).default(30_000) });
const idempotencyKey = z.string().min(1).max(255);

/**
 * POST /v1/executions: sync by default, async with `Prefer: respond-async`. The call authenticates
 * first (`authenticate`: a made-up key is refused before any body is read, and a throttled address
 * before any lookup), then reads its body (`readBody`, within the process's body budget), then waits
 * for a place at the service's admission gate, keyed by the presented key's hash (docs/decisions/0003,
 * 0007): a slow sender holds no place, and a waiting call's body is already whole.
 */
export function executionRoutes(
  service: Pick<ExecutionService, 'execute' | 'admission'>,
  authenticate: (req: Request) => Promise<Principal>,
  readBody: BodyReader,
): Router {
  const router = Router();

  router.post('/v1/executions', traceRequests('/v1/executions'), async (req, res) => {
    const principal = await authenticate(req);
    await readBody(req, res);
    const ticket = await service.admission.enter(admissionCaller(req), res);
    if (!ticket) return; // the client hung up while waiting
    let outcome: Awaited<ReturnType<ExecutionService['execute']>>;
    let timeoutMs: number;
    try {
      const body = parseBody(executeBody, req);
      timeoutMs = parseQuery(executeQuery, req).timeoutMs;
      const keyHeader = req.get('idempotency-key');
      const key = keyHeader === undefined ? undefined : idempotencyKey.safeParse(keyHeader);
      if (key && !key.success) {
        throw new ApiError('invalid_input', 'The Idempotency-Key header must be 1 to 255 characters.', [
          { path: 'Idempotency-Key', message: 'length 1..255' },
        ]);
      }
      const respondAsync = /(^|[,\s])respond-async($|[,;\s])/i.test(req.get('prefer') ?? '');
      outcome = await service.execute({
        principal,
        ...body,
        idempotencyKey: key?.data,
        respondAsync,
        timeoutMs,
        ticket,
      });
    } finally {
      ticket.release(); // refused before the service took over (a bad body): not served
    }
    res.locals.invocationId = outcome.kind === 'finished' ? outcome.reply.invocationId : outcome.invocationId;
    if (outcome.rateLimit) res.set(rateLimitHeaders(outcome.rateLimit));
    switch (outcome.kind) {
      case 'accepted':
        res
          .status(202)
          .location(`/v1/invocations/${outcome.invocationId}`)
          .json({ invocationId: outcome.invocationId, status: outcome.status } satisfies ExecutionAccepted);
        return;
      case 'timed_out':
        throw new InvocationError(
          outcome.invocationId,
          new ApiError('timeout', `The call did not finish within ${timeoutMs} ms; it goes on. Poll the invocation.`),
        );
      case 'finished': {
        const { reply } = outcome;
        if (reply.status === 'succeeded') {
          res.status(200).json({
            invocationId: reply.invocationId,
            output: reply.output ?? null,
            durationMs: reply.durationMs,
          } satisfies ExecutionResult);
          return;
        }
        throw new InvocationError(reply.invocationId, errorFromReply(reply.error!));
      }
    }
  });

  return router;
}
