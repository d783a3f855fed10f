import { Router } from 'express';
import { encodeTime } from 'ulid';
import { z } from 'zod';
import type { Db } from '../../shared/db/database.ts';
import { notFound } from '../../shared/errors.ts';
import { type Principal, principalOf } from '../middleware/authenticate.ts';
import { decodeCursor, pageQuery, toPage } from '../pagination.ts';
import { presentInvocation } from '../resources/presenters.ts';
import { parseQuery, pathId } from '../validation.ts';

export const listInvocations = z.object({
  ...pageQuery,
  projectId: z.string().max(100).optional(),
  connectionId: z.string().max(100).optional(),
  connectorId: z.string().max(100).optional(),
  actionId: z.string().max(100).optional(),
  status: z.enum(['queued', 'running', 'succeeded', 'failed']).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
});

const artifactName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * Invocation ids are ULIDs minted as the row is written, so a created_at window is also an id
 * range. Handing Postgres that range lets the (…, id) indexes start and stop at the window, where
 * created_at alone made it walk every newer row of the workspace (docs/audit-log.md: 213 ms →
 * 0.3 ms at 1.5M rows, and linear in the table beyond). created_at still decides; the margin covers
 * clock differences between api hosts (the id's time) and the database (created_at).
 */
const ID_TIME_MARGIN_MS = 3600_000;
const MAX_ULID_TIME = 2 ** 48 - 1;
const idAt = (ms: number): string | undefined =>
  ms > 0 && ms <= MAX_ULID_TIME ? `inv_${encodeTime(ms, 10).toLowerCase()}` : undefined;

/** The audit log: a project key sees its own project's invocations, a workspace key all of its workspace's. */
/** A file extension for common artifact types, so a downloaded file opens with the right program. */
function extensionOf(contentType: string): string {
  const ext: Record<string, string> = {
    'audio/mpeg': '.mp3',
    'audio/wav': '.wav',
    'audio/ogg': '.ogg',
    'audio/opus': '.opus',
    'audio/basic': '.au',
    'audio/pcm': '.pcm',
  };
  return ext[contentType.split(';')[0]!.trim().toLowerCase()] ?? '';
}

/** The query behind GET /v1/invocations (exported for the plan checks of test/e2e/partitioned-audit-log.test.ts). */
export function invocationListQuery(db: Db, principal: Principal, q: z.infer<typeof listInvocations>) {
  let query = scopedInvocations(db, principal).selectAll();
  if (q.projectId !== undefined) query = query.where('project_id', '=', q.projectId);
  if (q.connectionId !== undefined) query = query.where('connection_id', '=', q.connectionId);
  if (q.connectorId !== undefined) query = query.where('connector_id', '=', q.connectorId);
  if (q.actionId !== undefined) query = query.where('action_id', '=', q.actionId);
  if (q.status !== undefined) query = query.where('status', '=', q.status);
  if (q.since !== undefined) {
    query = query.where('created_at', '>=', new Date(q.since));
    const lowest = idAt(Date.parse(q.since) - ID_TIME_MARGIN_MS);
    if (lowest) query = query.where('id', '>=', lowest);
  }
  if (q.until !== undefined) {
    query = query.where('created_at', '<', new Date(q.until));
    const beyond = idAt(Date.parse(q.until) + ID_TIME_MARGIN_MS);
    if (beyond) query = query.where('id', '<', beyond);
  }
  const after = decodeCursor(q.cursor);
  if (after) query = query.where('id', '<', after);
  return query.orderBy('id', 'desc').limit(q.limit + 1);
}

/** A project key sees its own project's invocations, a workspace key all of its workspace's. */
function scopedInvocations(db: Db, principal: Principal) {
  let query = db.selectFrom('invocations').where('workspace_id', '=', principal.workspaceId);
  if (principal.kind === 'project') query = query.where('project_id', '=', principal.projectId);
  return query;
}

/**
 * `listDb` serves the list, which may lag a little (a read replica, DATABASE_READ_URL); one
 * invocation by id reads `db`, the primary, because callers read it right after an execute.
 */
export function invocationRoutes(db: Db, listDb: Db = db): Router {
  const router = Router();

  const scoped = (principal: Principal) => scopedInvocations(db, principal);

  router.get('/v1/invocations', async (req, res) => {
    const q = parseQuery(listInvocations, req);
    const rows = await invocationListQuery(listDb, principalOf(req), q).execute();
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
    const name = String(req.params.name);
    // Artifact names are ours (`audio`): anything else names nothing, and never reaches SQL.
    if (!artifactName.test(name)) throw notFound('artifact');
    const invocation = await scoped(principalOf(req)).select('id').where('id', '=', id).executeTakeFirst();
    if (!invocation) throw notFound('artifact');
    const artifact = await db
      .selectFrom('artifacts')
      .select(['content_type', 'data'])
      .where('invocation_id', '=', id)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!artifact) throw notFound('artifact');
    // The bytes come from an upstream: a browser must not sniff them into something else (HTML), and
    // they download as a file named after the artifact rather than render inline.
    res
      .status(200)
      .type(artifact.content_type)
      .setHeader('Content-Length', String(artifact.data.length))
      .setHeader('X-Content-Type-Options', 'nosniff')
      .setHeader('Content-Disposition', `attachment; filename="${id}-${name}${extensionOf(artifact.content_type)}"`)
      .end(artifact.data);
  });

  return router;
}
