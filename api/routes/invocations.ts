import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../../shared/db/database.ts';
import { notFound } from '../../shared/errors.ts';
import { principalOf, type Principal } from '../middleware/authenticate.ts';
import { decodeCursor, pageQuery, toPage } from '../pagination.ts';
import { presentInvocation } from '../resources/presenters.ts';
import { parseQuery, pathId } from '../validation.ts';

const listInvocations = z.object({
  ...pageQuery,
  projectId: z.string().max(100).optional(),
  connectionId: z.string().max(100).optional(),
  connectorId: z.string().max(100).optional(),
  actionId: z.string().max(100).optional(),
  status: z.enum(['queued', 'running', 'succeeded', 'failed']).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
});

/** The audit log: a project key sees its own project's invocations, a workspace key all of its workspace's. */
export function invocationRoutes(db: Db): Router {
  const router = Router();

  const scoped = (principal: Principal) => {
    let query = db.selectFrom('invocations').where('workspace_id', '=', principal.workspaceId);
    if (principal.kind === 'project') query = query.where('project_id', '=', principal.projectId);
    return query;
  };

  router.get('/v1/invocations', async (req, res) => {
    const principal = principalOf(req);
    const q = parseQuery(listInvocations, req);
    const after = decodeCursor(q.cursor);
    let query = scoped(principal).selectAll();
    if (q.projectId !== undefined) query = query.where('project_id', '=', q.projectId);
    if (q.connectionId !== undefined) query = query.where('connection_id', '=', q.connectionId);
    if (q.connectorId !== undefined) query = query.where('connector_id', '=', q.connectorId);
    if (q.actionId !== undefined) query = query.where('action_id', '=', q.actionId);
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    if (q.since !== undefined) query = query.where('created_at', '>=', new Date(q.since));
    if (q.until !== undefined) query = query.where('created_at', '<', new Date(q.until));
    if (after) query = query.where('id', '<', after);
    const rows = await query.orderBy('id', 'desc').limit(q.limit + 1).execute();
    res.json(toPage(rows, q.limit, presentInvocation));
  });

  router.get('/v1/invocations/:invocationId', async (req, res) => {
    const id = pathId(req, 'invocationId', 'invocation', 'invocation');
    const row = await scoped(principalOf(req)).selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound('invocation');
    res.json(presentInvocation(row));
  });

  router.get('/v1/invocations/:invocationId/artifacts/:name', async (req, res) => {
    const id = pathId(req, 'invocationId', 'invocation', 'invocation');
    const invocation = await scoped(principalOf(req)).select('id').where('id', '=', id).executeTakeFirst();
    if (!invocation) throw notFound('artifact');
    const artifact = await db
      .selectFrom('artifacts')
      .select(['content_type', 'data'])
      .where('invocation_id', '=', id)
      .where('name', '=', String(req.params.name))
      .executeTakeFirst();
    if (!artifact) throw notFound('artifact');
    res.status(200).type(artifact.content_type).setHeader('Content-Length', String(artifact.data.length)).end(artifact.data);
  });

  return router;
}
