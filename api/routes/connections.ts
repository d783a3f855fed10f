import { Router } from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import type { ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import { invalidateLookups, lookupTag } from '../../shared/cache/lookup-invalidation.ts';
import type { Config } from '../../shared/config.ts';
import type { ConnectionBreaker } from '../../shared/connections/connection-breaker.ts';
import {
  connectionPresenter,
  loadConnection,
  selectConnections,
} from '../../shared/connections/connection-resource.ts';
import {
  type CredentialRefresher,
  RefreshRejected,
  RefreshUnavailable,
} from '../../shared/connections/credential-refresher.ts';
import { credentialsHint, sealCredentials } from '../../shared/connections/credentials.ts';
import type { Vault } from '../../shared/crypto/vault.ts';
import type { ConnectorLookup } from '../../shared/custom-connectors/connector-lookup.ts';
import type { Db } from '../../shared/db/database.ts';
import { type EgressGuard, egressGuardFromConfig } from '../../shared/egress/egress-guard.ts';
import { ApiError, notFound, toValidationIssues } from '../../shared/errors.ts';
import { publicBaseUrl } from '../../shared/public-url.ts';
import type { ConnectionEvents } from '../../shared/webhooks-out/connection-events.ts';
import { assertPublicBaseUrl } from '../connections/connection-base-url.ts';
import { assertProjectsInWorkspace, insertConnection } from '../connections/create-connection.ts';
import { checkCredentials, statusFromVerdict } from '../connections/credential-check.ts';
import { workspacePrincipal } from '../middleware/authenticate.ts';
import { decodeCursor, pageQuery, toPage } from '../pagination.ts';
import { parseBody, parseQuery, pathId } from '../validation.ts';

const displayName = z.string().trim().min(1).max(200);
const externalId = z.string().min(1).max(255);
// The shape is checked per connector below; here only "an object of strings".
const credentials = z.record(z.string(), z.unknown());

export const createConnection = z
  .object({
    connectorId: z.string().min(1).max(100),
    displayName,
    credentials,
    externalId: externalId.optional(),
    projectIds: z.array(z.string().max(100)).max(100).optional(),
  })
  .strict();
export const updateConnection = z
  .object({ displayName: displayName.optional(), credentials: credentials.optional() })
  .strict();
export const listConnections = z.object({
  ...pageQuery,
  connectorId: z.string().max(100).optional(),
  status: z.enum(['active', 'broken']).optional(),
  externalId: externalId.optional(),
  projectId: z.string().max(100).optional(),
});

/** A body's credentials checked against the connector's fields (and its own base URL against the egress guard). */
export function parseCredentials(
  connector: ConnectorDefinition,
  value: unknown,
  egress: EgressGuard,
): Record<string, string> {
  const parsed = connector.credentials.safeParse(value);
  if (!parsed.success) {
    // Issues name fields, never echo values: these are secrets.
    throw new ApiError(
      'invalid_credentials_shape',
      `The credentials do not fit the ${connector.displayName} connector (fields: ${connector.auth.fields.map((f) => f.key).join(', ')}).`,
      toValidationIssues(parsed.error.issues, 'credentials'),
    );
  }
  const ownBaseUrl = connector.connectionBaseUrlField ? parsed.data[connector.connectionBaseUrlField] : undefined;
  if (ownBaseUrl !== undefined) assertPublicBaseUrl(connector.connectionBaseUrlField!, ownBaseUrl, egress);
  return parsed.data;
}

/** Connections and their project bindings (workspace keys only). */
export function connectionRoutes(
  db: Db,
  vault: Vault,
  config: Config,
  refresher: CredentialRefresher,
  breaker: ConnectionBreaker,
  events: ConnectionEvents,
  connectors: ConnectorLookup,
): Router {
  const router = Router();
  const presentConnection = connectionPresenter(publicBaseUrl(config));
  const egress = egressGuardFromConfig(config);

  router.post('/v1/connections', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const body = parseBody(createConnection, req);
    const connector = await connectors.orThrow(workspaceId, body.connectorId);
    const given = parseCredentials(connector, body.credentials, egress);
    const projectIds = [...new Set(body.projectIds ?? [])];
    await assertProjectsInWorkspace(db, workspaceId, projectIds);
    const { verdict, credentials: creds } = await checkCredentials(config, connector, given);
    const { status, status_reason } = statusFromVerdict(verdict);
    const id = await insertConnection(db, vault, {
      workspaceId,
      connector,
      displayName: body.displayName,
      externalId: body.externalId ?? null,
      credentials: creds,
      status,
      statusReason: status_reason,
      projectIds,
      healthCheckIntervalMs: config.HEALTH_CHECK_INTERVAL_MS,
    });
    res.status(201).json(presentConnection(await loadConnection(db, workspaceId, id)));
  });

  router.get('/v1/connections', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const q = parseQuery(listConnections, req);
    const after = decodeCursor(q.cursor);
    let query = selectConnections(db).where('c.workspace_id', '=', workspaceId);
    if (q.connectorId !== undefined) query = query.where('c.connector_id', '=', q.connectorId);
    if (q.status !== undefined) query = query.where('c.status', '=', q.status);
    if (q.externalId !== undefined) query = query.where('c.external_id', '=', q.externalId);
    if (q.projectId !== undefined) {
      query = query.where(({ exists, selectFrom }) =>
        exists(
          selectFrom('project_connections as pc')
            .select('pc.project_id')
            .whereRef('pc.connection_id', '=', 'c.id')
            .where('pc.project_id', '=', q.projectId!),
        ),
      );
    }
    if (after) query = query.where('c.id', '<', after);
    const rows = await query
      .orderBy('c.id', 'desc')
      .limit(q.limit + 1)
      .execute();
    res.json(toPage(rows, q.limit, presentConnection));
  });

  router.get('/v1/connections/:connectionId', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    res.json(
      presentConnection(await loadConnection(db, workspaceId, pathId(req, 'connectionId', 'connection', 'connection'))),
    );
  });

  router.patch('/v1/connections/:connectionId', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const current = await loadConnection(db, workspaceId, pathId(req, 'connectionId', 'connection', 'connection'));
    const body = parseBody(updateConnection, req);
    const connector = await connectors.orThrow(workspaceId, current.connector_id);
    let credentialColumns = {};
    if (body.credentials !== undefined) {
      const { verdict, credentials: creds } = await checkCredentials(
        config,
        connector,
        parseCredentials(connector, body.credentials, egress),
      );
      const next = statusFromVerdict(verdict);
      credentialColumns = {
        ...sealCredentials(vault, current.id, creds),
        credentials_hint: JSON.stringify(credentialsHint(connector, creds)),
        // A new version: failures of calls still running with the old credentials cannot break this one.
        credentials_version: sql<number>`credentials_version + 1`,
        ...next,
        status_changed_at: sql<Date>`case when status <> ${next.status} then now() else status_changed_at end`,
      };
    }
    await db
      .updateTable('connections')
      .set({ display_name: body.displayName ?? current.display_name, updated_at: sql`now()`, ...credentialColumns })
      .where('id', '=', current.id)
      .execute();
    invalidateLookups(lookupTag.connection(current.id)); // its new status applies to the very next call
    const updated = await loadConnection(db, workspaceId, current.id);
    await events.statusChanged(current.id, current.status, updated.status);
    res.json(presentConnection(updated));
  });

  router.post('/v1/connections/:connectionId/test', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const id = pathId(req, 'connectionId', 'connection', 'connection');
    const row = await db
      .selectFrom('connections')
      .selectAll()
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .executeTakeFirst();
    if (!row) throw notFound('connection');
    const connector = await connectors.orThrow(workspaceId, row.connector_id);
    let usable: Awaited<ReturnType<CredentialRefresher['testable']>>;
    try {
      // OAuth tokens near expiry are refreshed first; a refused refresh has already broken the connection.
      usable = await refresher.testable(connector, row);
    } catch (err) {
      if (err instanceof RefreshRejected)
        return res.json(presentConnection(await loadConnection(db, workspaceId, row.id)));
      if (err instanceof RefreshUnavailable)
        throw new ApiError(
          'upstream_unavailable',
          `${connector.displayName} could not refresh the token; nothing was changed.`,
        );
      throw err;
    }
    const { verdict } = await checkCredentials(config, connector, usable.credentials);
    // Credentials replaced while we were testing are not ours to judge: both marks check the version.
    if (verdict.valid) await breaker.markRestored(row.id, usable.version);
    else
      await breaker.markBroken(
        { id: row.id, connectorId: connector.id },
        usable.version,
        statusFromVerdict(verdict).status_reason!,
        'test',
      );
    res.json(presentConnection(await loadConnection(db, workspaceId, row.id)));
  });

  router.delete('/v1/connections/:connectionId', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const id = pathId(req, 'connectionId', 'connection', 'connection');
    const result = await db
      .deleteFrom('connections')
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .executeTakeFirst();
    if (result.numDeletedRows === 0n) throw notFound('connection');
    invalidateLookups(lookupTag.connection(id));
    res.status(204).end();
  });

  // Bindings: which projects may use a connection.
  const loadBindingPair = async (workspaceId: string, projectId: string, connectionId: string) => {
    const project = await db
      .selectFrom('projects')
      .select('id')
      .where('id', '=', projectId)
      .where('workspace_id', '=', workspaceId)
      .executeTakeFirst();
    if (!project) throw notFound('project');
    const connection = await db
      .selectFrom('connections')
      .select('id')
      .where('id', '=', connectionId)
      .where('workspace_id', '=', workspaceId)
      .executeTakeFirst();
    if (!connection) throw notFound('connection');
  };

  router.put('/v1/projects/:projectId/connections/:connectionId', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const projectId = pathId(req, 'projectId', 'project', 'project');
    const connectionId = pathId(req, 'connectionId', 'connection', 'connection');
    await loadBindingPair(workspaceId, projectId, connectionId);
    await db
      .insertInto('project_connections')
      .values({ project_id: projectId, connection_id: connectionId })
      .onConflict((oc) => oc.columns(['project_id', 'connection_id']).doNothing())
      .execute();
    invalidateLookups(lookupTag.project(projectId)); // a second connection of a connector makes it ambiguous
    res.status(204).end();
  });

  router.delete('/v1/projects/:projectId/connections/:connectionId', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const projectId = pathId(req, 'projectId', 'project', 'project');
    const connectionId = pathId(req, 'connectionId', 'connection', 'connection');
    await loadBindingPair(workspaceId, projectId, connectionId);
    await db
      .deleteFrom('project_connections')
      .where('project_id', '=', projectId)
      .where('connection_id', '=', connectionId)
      .execute();
    invalidateLookups(lookupTag.project(projectId));
    res.status(204).end();
  });

  router.get('/v1/projects/:projectId/connections', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const projectId = pathId(req, 'projectId', 'project', 'project');
    const project = await db
      .selectFrom('projects')
      .select('id')
      .where('id', '=', projectId)
      .where('workspace_id', '=', workspaceId)
      .executeTakeFirst();
    if (!project) throw notFound('project');
    const q = parseQuery(z.object(pageQuery), req);
    const after = decodeCursor(q.cursor);
    let query = selectConnections(db)
      .innerJoin('project_connections as b', 'b.connection_id', 'c.id')
      .where('b.project_id', '=', projectId)
      .where('c.workspace_id', '=', workspaceId);
    if (after) query = query.where('c.id', '<', after);
    const rows = await query
      .orderBy('c.id', 'desc')
      .limit(q.limit + 1)
      .execute();
    res.json(toPage(rows, q.limit, presentConnection));
  });

  return router;
}
