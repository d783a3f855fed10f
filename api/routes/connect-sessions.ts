import { Router } from 'express';
import { z } from 'zod';
import { connectorOrThrow, connectors, findConnector } from '../../connectors/registry.ts';
import type { ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import { oauthClientOf } from '../../connectors/toolkit/settings.ts';
import type { AuthorizeUrl, ConnectPageResult, CreatedConnectSession } from '../../shared/api-resources.ts';
import type { Config } from '../../shared/config.ts';
import type { Vault } from '../../shared/crypto/vault.ts';
import type { ConnectorLookup } from '../../shared/custom-connectors/connector-lookup.ts';
import type { Db } from '../../shared/db/database.ts';
import { egressGuardFromConfig } from '../../shared/egress/egress-guard.ts';
import { ApiError, notFound } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import { toIso } from '../../shared/iso-time.ts';
import { bindBrowser } from '../connect/browser-binding.ts';
import {
  type ConnectSessionAuth,
  type ConnectSessionRow,
  completeSession,
  mintConnectToken,
} from '../connect/connect-tokens.ts';
import { assertProjectsInWorkspace, insertConnection } from '../connections/create-connection.ts';
import { checkCredentials, statusFromVerdict } from '../connections/credential-check.ts';
import { isRegisteredRedirect } from '../connections/oauth-redirects.ts';
import { workspacePrincipal } from '../middleware/authenticate.ts';
import type { BodyReader } from '../middleware/json-body.ts';
import { parseBody, pathId } from '../validation.ts';
import { parseCredentials } from './connections.ts';
import { startAuthorization } from './oauth.ts';

export const createSession = z
  .object({
    projectId: z.string().max(100),
    allowedConnectors: z.array(z.string().min(1).max(100)).min(1).max(100).optional(),
    endUser: z
      .object({ id: z.string().min(1).max(255), displayName: z.string().trim().min(1).max(200).optional() })
      .strict()
      .optional(),
    redirectUri: z
      .url({ protocol: /^https?$/ })
      .max(2000)
      .optional(),
  })
  .strict();
export const connectWithKey = z
  .object({
    connectorId: z.string().min(1).max(100),
    displayName: z.string().trim().min(1).max(200).optional(),
    credentials: z.record(z.string(), z.unknown()),
  })
  .strict();
export const connectWithOAuth = z.object({ displayName: z.string().trim().min(1).max(200).optional() }).strict();

const publicUrl = (config: Config) => (config.PUBLIC_URL ?? `http://127.0.0.1:${config.PORT}`).replace(/\/+$/, '');

function sessionStatus(
  row: Pick<ConnectSessionRow, 'completed_at' | 'expires_at'>,
): 'pending' | 'completed' | 'expired' {
  if (row.completed_at) return 'completed';
  return row.expires_at.getTime() <= Date.now() ? 'expired' : 'pending';
}

/** Connect sessions as the app manages them (workspace key): create one per end user, read its outcome. */
export function connectSessionRoutes(db: Db, config: Config): Router {
  const router = Router();

  router.post('/v1/connect-sessions', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const body = parseBody(createSession, req);
    await assertProjectsInWorkspace(db, workspaceId, [body.projectId]);
    const allowed = body.allowedConnectors ? [...new Set(body.allowedConnectors)] : null;
    allowed?.forEach((id, i) => {
      if (!findConnector(id))
        throw new ApiError('invalid_input', `There is no connector ${JSON.stringify(id)}.`, [
          { path: `allowedConnectors[${i}]`, message: 'unknown connector' },
        ]);
    });
    if (body.redirectUri !== undefined && !isRegisteredRedirect(body.redirectUri, config)) {
      throw new ApiError('invalid_input', 'The redirectUri is not registered on this server (OAUTH_REDIRECT_URIS).', [
        { path: 'redirectUri', message: 'not a registered redirect URI' },
      ]);
    }
    const { token, hash } = mintConnectToken();
    const id = newId('connectSession');
    const expiresAt = new Date(Date.now() + config.CONNECT_SESSION_TTL_SECONDS * 1000);
    await db
      .insertInto('connect_sessions')
      .values({
        id,
        token_hash: hash,
        workspace_id: workspaceId,
        project_id: body.projectId,
        allowed_connectors: allowed ? JSON.stringify(allowed) : null,
        end_user_id: body.endUser?.id ?? null,
        end_user_display_name: body.endUser?.displayName ?? null,
        redirect_uri: body.redirectUri ?? null,
        expires_at: expiresAt,
      })
      .execute();
    res.status(201).json({
      id,
      token,
      connectUrl: `${publicUrl(config)}/connect/${token}`,
      expiresAt: expiresAt.toISOString(),
    } satisfies CreatedConnectSession);
  });

  router.get('/v1/connect-sessions/:sessionId', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const row = await db
      .selectFrom('connect_sessions')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', pathId(req, 'sessionId', 'connectSession', 'connect session'))
      .executeTakeFirst();
    if (!row) throw notFound('connect session');
    res.json({
      id: row.id,
      projectId: row.project_id,
      status: sessionStatus(row),
      connectionId: row.connection_id,
      endUser: row.end_user_id ? { id: row.end_user_id, displayName: row.end_user_display_name } : null,
      expiresAt: toIso(row.expires_at),
      createdAt: toIso(row.created_at),
    });
  });

  return router;
}

/** The connectors a session offers, in catalog order. */
const offered = (session: ConnectSessionRow): ConnectorDefinition[] =>
  session.allowed_connectors ? connectors.filter((c) => session.allowed_connectors!.includes(c.id)) : [...connectors];

function offeredConnector(session: ConnectSessionRow, connectorId: string): ConnectorDefinition {
  const connector = connectorOrThrow(connectorId);
  if (!offered(session).includes(connector))
    throw new ApiError('unknown_connector', 'This connect link does not offer that connector.');
  return connector;
}

/**
 * The hosted connect page's own API (docs/connect-pages.md). The session token in the
 * Authorization header authenticates each call (so no cookie authorizes a write: nothing to forge
 * cross-site); bodies are read only after it did. Connections go to the session's project, with
 * the end user's id as externalId.
 */
export function connectPageRoutes(
  db: Db,
  vault: Vault,
  config: Config,
  connectors: ConnectorLookup,
  auth: ConnectSessionAuth,
  readBody: BodyReader,
): Router {
  const router = Router();
  const egress = egressGuardFromConfig(config);
  const defaultName = (session: ConnectSessionRow, connector: ConnectorDefinition) =>
    session.end_user_display_name
      ? `${connector.displayName} (${session.end_user_display_name})`
      : connector.displayName;

  router.get('/v1/connect/session', async (req, res) => {
    const session = await auth.authenticate(req);
    res.set('Cache-Control', 'no-store').json({
      id: session.id,
      expiresAt: toIso(session.expires_at),
      endUser: session.end_user_id ? { id: session.end_user_id, displayName: session.end_user_display_name } : null,
      connectors: offered(session).map((c) => ({
        id: c.id,
        displayName: c.displayName,
        description: c.description,
        authType: c.auth.type,
        authFields: c.auth.fields,
        // An OAuth connector whose client the operator has not configured offers its key form only.
        signIn: c.auth.type === 'oauth2' && oauthClientOf(c.auth.provider, config.connectorSettings) !== undefined,
        defaultDisplayName: defaultName(session, c),
      })),
    });
  });

  router.post('/v1/connect/connections', async (req, res) => {
    const session = await auth.authenticate(req);
    await readBody(req, res);
    const body = parseBody(connectWithKey, req);
    const connector = offeredConnector(session, body.connectorId);
    const { verdict, credentials } = await checkCredentials(
      config,
      connector,
      parseCredentials(connector, body.credentials, egress),
    );
    if (!verdict.valid) {
      // Nothing is stored and the link still works: the person fixes the key and tries again.
      res.status(200).json({
        status: 'broken',
        statusReason: statusFromVerdict(verdict).status_reason,
        connection: null,
        redirectTo: null,
      } satisfies ConnectPageResult);
      return;
    }
    const displayName = body.displayName ?? defaultName(session, connector);
    const id = await completeSession(db, session.id, () =>
      insertConnection(db, vault, {
        workspaceId: session.workspace_id,
        connector,
        displayName,
        externalId: session.end_user_id,
        credentials,
        status: 'active',
        statusReason: null,
        projectIds: [session.project_id],
        healthCheckIntervalMs: config.HEALTH_CHECK_INTERVAL_MS,
      }),
    );
    if (!id)
      throw new ApiError(
        'unauthenticated',
        'This connect link was used or expired meanwhile. Ask the app for a new one.',
        { reason: 'completed' },
      );
    let redirectTo: string | null = null;
    if (session.redirect_uri && isRegisteredRedirect(session.redirect_uri, config)) {
      const target = new URL(session.redirect_uri);
      target.searchParams.set('connectionId', id);
      redirectTo = target.toString();
    }
    res.status(201).json({
      status: 'active',
      statusReason: null,
      connection: { id, connectorId: connector.id, displayName },
      redirectTo,
    } satisfies ConnectPageResult);
  });

  router.post('/v1/connect/oauth/:connectorId/authorize', async (req, res) => {
    const session = await auth.authenticate(req);
    await readBody(req, res);
    const body = parseBody(connectWithOAuth, req);
    const connector = offeredConnector(session, String(req.params.connectorId));
    const started = await startAuthorization(db, config, connectors, {
      workspaceId: session.workspace_id,
      connectorId: connector.id,
      displayName: body.displayName ?? defaultName(session, connector),
      externalId: session.end_user_id,
      projectIds: [session.project_id],
      redirectUri: session.redirect_uri,
      connectSessionId: session.id,
      browserHash: bindBrowser(req, res, config),
    });
    // The state stays in the provider's URL only; the page just navigates there.
    res.status(200).json({ authorizeUrl: started.authorizeUrl, expiresAt: started.expiresAt } satisfies AuthorizeUrl);
  });

  return router;
}
