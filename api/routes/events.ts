import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../../shared/db/database.ts';
import { notFound } from '../../shared/errors.ts';
import { presentInboundEvent } from '../../shared/inbound/inbound-events.ts';
import { type Principal, principalOf } from '../middleware/authenticate.ts';
import { decodeCursor, pageQuery, toPage } from '../pagination.ts';
import { parseQuery, pathId } from '../validation.ts';

export const listEvents = z.object({
  ...pageQuery,
  projectId: z.string().max(100).optional(),
  connectionId: z.string().max(100).optional(),
  type: z.string().max(200).optional(),
});

/**
 * Inbound events (docs/api.md, "Inbound events"): a workspace key reads all of its workspace's, a
 * project key those of the connections bound to its project (at the time of reading). A filter
 * never widens the scope: another project's id is an empty page.
 */
export function eventRoutes(db: Db): Router {
  const router = Router();
  const boundTo = (projectId: string) =>
    db.selectFrom('project_connections').select('connection_id').where('project_id', '=', projectId);

  const scoped = (principal: Principal) => {
    let query = db.selectFrom('inbound_events').selectAll().where('workspace_id', '=', principal.workspaceId);
    if (principal.kind === 'project') query = query.where('connection_id', 'in', boundTo(principal.projectId));
    return query;
  };

  router.get('/v1/events', async (req, res) => {
    const q = parseQuery(listEvents, req);
    const after = decodeCursor(q.cursor);
    let query = scoped(principalOf(req));
    if (q.projectId !== undefined) query = query.where('connection_id', 'in', boundTo(q.projectId));
    if (q.connectionId !== undefined) query = query.where('connection_id', '=', q.connectionId);
    if (q.type !== undefined) query = query.where('type', '=', q.type);
    if (after) query = query.where('id', '<', after);
    res.json(
      toPage(
        await query
          .orderBy('id', 'desc')
          .limit(q.limit + 1)
          .execute(),
        q.limit,
        presentInboundEvent,
      ),
    );
  });

  router.get('/v1/events/:eventId', async (req, res) => {
    const event = await scoped(principalOf(req))
      .where('id', '=', pathId(req, 'eventId', 'event', 'event'))
      .executeTakeFirst();
    if (!event) throw notFound('event');
    res.json(presentInboundEvent(event));
  });
  return router;
}
