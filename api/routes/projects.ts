import { Router } from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import { findConnector } from '../../connectors/registry.ts';
import { displayPrefix, generateApiKey, hashApiKey } from '../../shared/auth/api-keys.ts';
import { invalidateLookups, lookupTag } from '../../shared/cache/lookup-invalidation.ts';
import type { Db } from '../../shared/db/database.ts';
import { ApiError, notFound } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import type { RateLimitPolicy } from '../../shared/limiter/rate-limit-policy.ts';
import { workspacePrincipal } from '../middleware/authenticate.ts';
import { decodeCursor, pageQuery, toPage } from '../pagination.ts';
import { presentApiKey, presentProject } from '../resources/presenters.ts';
import { parseBody, parseQuery, pathId } from '../validation.ts';

const displayName = z.string().trim().min(1).max(200);
const externalId = z.string().min(1).max(255);
const metadata = z
  .record(z.string().max(100), z.unknown())
  .refine((m) => JSON.stringify(m).length <= 16_384, 'metadata is over 16 KiB');
/** `{connectorId: callsPerMinute | null}`, each within what the operator lets a project set for that connector. */
const rateLimitsWithin = (limits: Pick<RateLimitPolicy, 'maxOverride'>) =>
  z
    .record(
      z.string().refine((id) => findConnector(id) !== undefined, 'not a connector id'),
      z.number().int().min(1).nullable(),
    )
    .superRefine((overrides, ctx) => {
      for (const [connectorId, value] of Object.entries(overrides)) {
        const connector = findConnector(connectorId);
        if (value === null || !connector) continue;
        const max = limits.maxOverride(connector);
        if (value > max)
          ctx.addIssue({
            code: 'custom',
            path: [connectorId],
            message: `must be between 1 and ${max} calls per minute`,
          });
      }
    });

export const createProject = z
  .object({ displayName, externalId: externalId.optional(), metadata: metadata.optional() })
  .strict();
export const listProjects = z.object({ ...pageQuery, externalId: externalId.optional() });
export const createKey = z.object({ name: z.string().trim().min(1).max(200).optional() }).strict();
export const listKeys = z.object(pageQuery);

/** PATCH /v1/projects/{id}: its bounds are the operator's (rate-limit overrides, running-call cap). */
export const updateProjectBody = (limits: Pick<RateLimitPolicy, 'maxOverride'>, maxRunningCalls: number) =>
  z
    .object({
      displayName: displayName.optional(),
      metadata: metadata.optional(),
      rateLimits: rateLimitsWithin(limits).optional(),
      maxRunningCalls: z.number().int().min(1).max(maxRunningCalls).nullable().optional(),
    })
    .strict();

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

/**
 * Projects and their API keys (workspace keys only); a project's own rate limits stay within
 * `limits`, its own cap on running calls within `maxRunningCalls` (the operator's PROJECT_MAX_RUNNING_CALLS).
 */
export function projectRoutes(db: Db, limits: RateLimitPolicy, maxRunningCalls: number): Router {
  const router = Router();
  const updateProject = updateProjectBody(limits, maxRunningCalls);

  const loadProject = async (workspaceId: string, id: string) => {
    const project = await db
      .selectFrom('projects')
      .selectAll()
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .executeTakeFirst();
    if (!project) throw notFound('project');
    return project;
  };

  router.post('/v1/projects', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const body = parseBody(createProject, req);
    try {
      const project = await db
        .insertInto('projects')
        .values({
          id: newId('project'),
          workspace_id: workspaceId,
          display_name: body.displayName,
          external_id: body.externalId ?? null,
          metadata: JSON.stringify(body.metadata ?? {}),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      res.status(201).json(presentProject(project));
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ApiError('conflict', 'A project with this externalId already exists in the workspace.');
      throw err;
    }
  });

  router.get('/v1/projects', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const q = parseQuery(listProjects, req);
    const after = decodeCursor(q.cursor);
    let query = db.selectFrom('projects').selectAll().where('workspace_id', '=', workspaceId);
    if (q.externalId !== undefined) query = query.where('external_id', '=', q.externalId);
    if (after) query = query.where('id', '<', after);
    const rows = await query
      .orderBy('id', 'desc')
      .limit(q.limit + 1)
      .execute();
    res.json(toPage(rows, q.limit, presentProject));
  });

  router.get('/v1/projects/:projectId', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    res.json(presentProject(await loadProject(workspaceId, pathId(req, 'projectId', 'project', 'project'))));
  });

  router.patch('/v1/projects/:projectId', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const project = await loadProject(workspaceId, pathId(req, 'projectId', 'project', 'project'));
    const body = parseBody(updateProject, req);
    let limits = project.rate_limits;
    if (body.rateLimits) {
      // null removes an override; the connector default applies again.
      limits = { ...limits };
      for (const [connectorId, value] of Object.entries(body.rateLimits)) {
        if (value === null) delete limits[connectorId];
        else limits[connectorId] = value;
      }
    }
    const updated = await db
      .updateTable('projects')
      .set({
        display_name: body.displayName ?? project.display_name,
        metadata: JSON.stringify(body.metadata ?? project.metadata),
        rate_limits: JSON.stringify(limits),
        max_running_calls: body.maxRunningCalls === undefined ? project.max_running_calls : body.maxRunningCalls,
      })
      .where('id', '=', project.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    invalidateLookups(lookupTag.project(project.id)); // its limits apply to the very next call
    res.json(presentProject(updated));
  });

  router.delete('/v1/projects/:projectId', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const project = await loadProject(workspaceId, pathId(req, 'projectId', 'project', 'project'));
    // Its keys and bindings go with it (cascade); its invocations stay in the audit log.
    await db.deleteFrom('projects').where('id', '=', project.id).execute();
    invalidateLookups(lookupTag.project(project.id));
    res.status(204).end();
  });

  router.post('/v1/projects/:projectId/api-keys', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const project = await loadProject(workspaceId, pathId(req, 'projectId', 'project', 'project'));
    const body = parseBody(createKey, req);
    const key = generateApiKey('project');
    const row = await db
      .insertInto('api_keys')
      .values({
        id: newId('apiKey'),
        workspace_id: workspaceId,
        project_id: project.id,
        kind: 'project',
        name: body.name ?? null,
        prefix: displayPrefix(key),
        key_hash: hashApiKey(key),
      })
      .returning(['id', 'name', 'prefix', 'created_at'])
      .executeTakeFirstOrThrow();
    res.status(201).json({ ...presentApiKey(row), key });
  });

  router.get('/v1/projects/:projectId/api-keys', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const project = await loadProject(workspaceId, pathId(req, 'projectId', 'project', 'project'));
    const q = parseQuery(listKeys, req);
    const after = decodeCursor(q.cursor);
    let query = db
      .selectFrom('api_keys')
      .select(['id', 'name', 'prefix', 'created_at'])
      .where('project_id', '=', project.id)
      .where('revoked_at', 'is', null);
    if (after) query = query.where('id', '<', after);
    const rows = await query
      .orderBy('id', 'desc')
      .limit(q.limit + 1)
      .execute();
    res.json(toPage(rows, q.limit, presentApiKey));
  });

  router.delete('/v1/projects/:projectId/api-keys/:keyId', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const project = await loadProject(workspaceId, pathId(req, 'projectId', 'project', 'project'));
    const keyId = pathId(req, 'keyId', 'apiKey', 'API key');
    const result = await db
      .updateTable('api_keys')
      .set({ revoked_at: sql`now()` })
      .where('id', '=', keyId)
      .where('project_id', '=', project.id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) throw notFound('API key');
    invalidateLookups(lookupTag.apiKey(keyId)); // refused from the very next request
    res.status(204).end();
  });

  return router;
}
