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
/** The events a principal may read: a project key those of connections bound to its project. */
function scopedEvents(db: Db, principal: Principal) {
  let query = db.selectFrom('inbound_events').selectAll().where('workspace_id', '=', principal.workspaceId);
  if (principal.kind === 'project') query = query.where('connection_id', 'in', boundTo(db, principal.projectId));
  return query;
}

const boundTo = (db: Db, projectId: string) =>
  db.selectFrom('project_connections').select('connection_id').where('project_id', '=', projectId);

/** The query behind GET /v1/events (exported for the plan checks of test/e2e/partitioned-audit-log.test.ts). */
export function eventListQuery(db: Db, principal: Principal, q: z.infer<typeof listEvents>) {
  let query = scopedEvents(db, principal);
  if (q.projectId !== undefined) query = query.where('connection_id', 'in', boundTo(db, q.projectId));
  if (q.connectionId !== undefined) query = query.where('connection_id', '=', q.connectionId);
  if (q.type !== undefined) query = query.where('type', '=', q.type);
  const after = decodeCursor(q.cursor);
  if (after) query = query.where('id', '<', after);
  return query.orderBy('id', 'desc').limit(q.limit + 1);
}

/** `listDb` serves the list (a read replica when configured); one event by id reads the primary, `db`. */
export function eventRoutes(db: Db, listDb: Db = db): Router {
  const router = Router();

  router.get('/v1/events', async (req, res) => {
    const q = parseQuery(listEvents, req);
    res.json(toPage(await eventListQuery(listDb, principalOf(req), q).execute(), q.limit, presentInboundEvent));
  });

  router.get('/v1/events/:eventId', async (req, res) => {
    const event = await scopedEvents(db, principalOf(req))
      .where('id', '=', pathId(req, 'eventId', 'event', 'event'))
      .executeTakeFirst();
    if (!event) throw notFound('event');
    res.json(presentInboundEvent(event));
  });
  return router;
}
