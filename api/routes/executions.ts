import { Router } from 'express';
import { z } from 'zod';
import { ApiError } from '../../shared/errors.ts';
import { errorFromReply, type ExecutionService } from '../execution/execution-service.ts';
import { InvocationError } from '../middleware/errors.ts';
import { principalOf } from '../middleware/authenticate.ts';
import { parseBody, parseQuery } from '../validation.ts';

const executeBody = z
  .object({
    connectorId: z.string().min(1).max(100),
    actionId: z.string().min(1).max(100),
    input: z.unknown().default({}),
    connectionId: z.string().min(1).max(100).optional(),
    projectId: z.string().min(1).max(100).optional(),
  })
  .strict();
const executeQuery = z.object({ timeoutMs: z.coerce.number().int().min(1).max(120_000).default(30_000) });
const idempotencyKey = z.string().min(1).max(255);

/** POST /v1/executions: sync by default, async with `Prefer: respond-async`. */
export function executionRoutes(service: Pick<ExecutionService, 'execute'>): Router {
  const router = Router();

  router.post('/v1/executions', async (req, res) => {
    const principal = principalOf(req);
    const body = parseBody(executeBody, req);
    const { timeoutMs } = parseQuery(executeQuery, req);
    const keyHeader = req.get('idempotency-key');
    const key = keyHeader === undefined ? undefined : idempotencyKey.safeParse(keyHeader);
    if (key && !key.success) {
      throw new ApiError('invalid_input', 'The Idempotency-Key header must be 1 to 255 characters.', [{ path: 'Idempotency-Key', message: 'length 1..255' }]);
    }
    const respondAsync = /(^|[,\s])respond-async($|[,;\s])/i.test(req.get('prefer') ?? '');

    const admitted = res.locals.admitted as (() => void) | undefined;
    // timeoutMs counts from arrival: a wait at the admission gate is spent from it.
    const waitedMs = (res.locals.admissionWaitMs as number | undefined) ?? 0;
    const budgetMs = Math.max(1, Math.floor(timeoutMs - waitedMs));
    const outcome = await service.execute({ principal, ...body, idempotencyKey: key?.data, respondAsync, timeoutMs: budgetMs, admitted });
    res.locals.invocationId = outcome.kind === 'finished' ? outcome.reply.invocationId : outcome.invocationId;
    switch (outcome.kind) {
      case 'accepted':
        res.status(202).location(`/v1/invocations/${outcome.invocationId}`).json({ invocationId: outcome.invocationId, status: outcome.status });
        return;
      case 'timed_out':
        throw new InvocationError(
          outcome.invocationId,
          new ApiError('timeout', `The call did not finish within ${timeoutMs} ms; it goes on. Poll the invocation.`),
        );
      case 'finished': {
        const { reply } = outcome;
        if (reply.status === 'succeeded') {
          res.status(200).json({ invocationId: reply.invocationId, output: reply.output ?? null, durationMs: reply.durationMs });
          return;
        }
        throw new InvocationError(reply.invocationId, errorFromReply(reply.error!));
      }
    }
  });

  return router;
}
