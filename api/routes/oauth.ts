import { createHash, randomBytes } from 'node:crypto';
import { Router } from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import type { ConnectorLookup } from '../../shared/custom-connectors/connector-lookup.ts';
import { classifyUpstreamError } from '../../connectors/toolkit/classify.ts';
import type { ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import { authorizationUrl, pkcePair, scopesFor, type OAuthProviderDefinition } from '../../connectors/toolkit/oauth-provider.ts';
import { authorizeUrlOf, oauthClientOf, providerSettings } from '../../connectors/toolkit/settings.ts';
import { tokenEndpointFor } from '../../shared/connections/upstream-for.ts';
import type { Config } from '../../shared/config.ts';
import type { Vault } from '../../shared/crypto/vault.ts';
import type { Db } from '../../shared/db/database.ts';
import { ApiError } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import { assertProjectsInWorkspace, insertConnection } from '../connections/create-connection.ts';
import { isRegisteredRedirect, oauthErrorCode } from '../connections/oauth-redirects.ts';
import { workspacePrincipal } from '../middleware/authenticate.ts';
import { connectionPresenter, loadConnection, selectConnections } from '../../shared/connections/connection-resource.ts';
import { publicBaseUrl } from '../../shared/public-url.ts';
import { parseBody, parseQuery } from '../validation.ts';

const STATE_TTL_MS = 10 * 60_000;
const hashState = (state: string) => createHash('sha256').update(state).digest();

const authorizeBody = z
  .object({
    displayName: z.string().trim().min(1).max(200),
    projectIds: z.array(z.string().max(100)).max(100).optional(),
    externalId: z.string().min(1).max(255).optional(),
    redirectUri: z.url({ protocol: /^https?$/ }).max(2000).optional(),
  })
  .strict();
const callbackQuery = z.object({
  state: z.string().max(200).optional(),
  code: z.string().max(2000).optional(),
  error: z.string().max(200).optional(),
});

/** An OAuth connector whose provider's client the operator has configured, or the API error saying what is missing. */
async function oauthConnector(
  connectors: ConnectorLookup,
  workspaceId: string,
  connectorId: string,
  config: Config,
): Promise<{ connector: ConnectorDefinition; provider: OAuthProviderDefinition; clientId: string }> {
  const connector = await connectors.orThrow(workspaceId, connectorId);
  if (connector.auth.type !== 'oauth2') throw new ApiError('unknown_connector', `The ${connector.displayName} connector does not use OAuth.`);
  const provider = connector.auth.provider;
  const client = oauthClientOf(provider, config.connectorSettings);
  if (!client) {
    const names = providerSettings(provider);
    throw new ApiError('conflict', `OAuth for ${connector.displayName} is not configured on this server (${names.clientId}, ${names.clientSecret}).`);
  }
  return { connector, provider, clientId: client.clientId };
}

/** Where the provider sends the user back: this server's callback. */
const callbackUrl = (config: Config) => `${publicBaseUrl(config)}/v1/oauth/callback`;

/**
 * OAuth connections (docs/api.md, OAuth). `authorize` needs a workspace key; the callback has none:
 * its single-use state, stored only as a hash, authenticates it.
 */
export function oauthCallbackRoutes(db: Db, vault: Vault, config: Config, connectors: ConnectorLookup): Router {
  const presentConnection = connectionPresenter(publicBaseUrl(config));
  const router = Router();

  router.get('/v1/oauth/callback', async (req, res) => {
    const q = parseQuery(callbackQuery, req);
    if (!q.state) throw new ApiError('invalid_input', 'The OAuth callback has no state.', [{ path: 'state', message: 'required' }]);
    // Consumed whatever happens next: a state works once.
    const pending = await db
      .updateTable('oauth_states')
      .set({ used_at: sql`now()` })
      .where('state_hash', '=', hashState(q.state))
      .where('used_at', 'is', null)
      .where('expires_at', '>', sql<Date>`now()`)
      .returningAll()
      .executeTakeFirst();
    if (!pending) throw new ApiError('invalid_input', 'The OAuth state is unknown, expired or already used; start the authorization again.', [{ path: 'state', message: 'invalid' }]);
    if (q.error) {
      // The provider's text is the query string's, i.e. anyone's: only a well-formed OAuth error code is repeated.
      const code = oauthErrorCode(q.error);
      throw new ApiError('invalid_input', `The provider did not authorize the connection (${code}).`, [{ path: 'error', message: code }]);
    }
    if (!q.code) throw new ApiError('invalid_input', 'The OAuth callback has no code.', [{ path: 'code', message: 'required' }]);

    const { connector, provider } = await oauthConnector(connectors, pending.workspace_id, pending.connector_id, config);
    let credentials: Record<string, string>;
    try {
      credentials = await tokenEndpointFor(connector, provider, config).exchangeCode({
        code: q.code,
        redirectUri: callbackUrl(config),
        codeVerifier: pending.pkce_verifier ?? undefined,
      });
    } catch (err) {
      const failure = classifyUpstreamError(provider, err);
      if (failure.kind === 'transient' || failure.kind === 'rate_limited') {
        throw new ApiError('upstream_unavailable', `${connector.displayName} could not be reached to finish the authorization.`);
      }
      throw new ApiError('invalid_input', `${connector.displayName} refused the authorization code: ${failure.message}.`, [{ path: 'code', message: failure.upstreamCode ?? 'rejected' }]);
    }

    // Projects deleted since the authorization started are simply not bound.
    const projectIds = pending.project_ids.length
      ? (await db.selectFrom('projects').select('id').where('workspace_id', '=', pending.workspace_id).where('id', 'in', pending.project_ids).execute()).map((p) => p.id)
      : [];
    const id = await insertConnection(db, vault, {
      workspaceId: pending.workspace_id,
      connector,
      displayName: pending.display_name,
      externalId: pending.external_id,
      credentials,
      status: 'active',
      statusReason: null,
      projectIds,
      healthCheckIntervalMs: config.HEALTH_CHECK_INTERVAL_MS,
    });
    // Checked again here: the list may have changed since the authorization started.
    if (pending.redirect_uri && isRegisteredRedirect(pending.redirect_uri, config)) {
      const target = new URL(pending.redirect_uri);
      target.searchParams.set('connectionId', id);
      res.redirect(302, target.toString());
      return;
    }
    res.status(200).json(presentConnection(await loadConnection(db, pending.workspace_id, id)));
  });

  return router;
}

export function oauthAuthorizeRoutes(db: Db, config: Config, connectors: ConnectorLookup): Router {
  const router = Router();

  router.post('/v1/oauth/:connectorId/authorize', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const body = parseBody(authorizeBody, req);
    if (body.redirectUri !== undefined && !isRegisteredRedirect(body.redirectUri, config)) {
      throw new ApiError('invalid_input', 'The redirectUri is not registered on this server (OAUTH_REDIRECT_URIS).', [
        { path: 'redirectUri', message: 'not a registered redirect URI' },
      ]);
    }
    const { connector, provider, clientId } = await oauthConnector(connectors, workspaceId, String(req.params.connectorId), config);
    const projectIds = [...new Set(body.projectIds ?? [])];
    await assertProjectsInWorkspace(db, workspaceId, projectIds);

    const state = randomBytes(32).toString('base64url');
    const pkce = provider.pkce ? pkcePair() : undefined;
    await db
      .insertInto('oauth_states')
      .values({
        id: newId('oauthState'),
        state_hash: hashState(state),
        workspace_id: workspaceId,
        connector_id: connector.id,
        display_name: body.displayName,
        external_id: body.externalId ?? null,
        project_ids: JSON.stringify(projectIds),
        redirect_uri: body.redirectUri ?? null,
        pkce_verifier: pkce?.verifier ?? null,
        expires_at: new Date(Date.now() + STATE_TTL_MS),
      })
      .execute();
    const url = authorizationUrl(provider, {
      authorizeUrl: authorizeUrlOf(provider, config.connectorSettings),
      clientId,
      redirectUri: callbackUrl(config),
      state,
      scopes: scopesFor(provider, connector.actions),
      codeChallenge: pkce?.challenge,
    });
    res.status(200).json({ authorizeUrl: url, state, expiresAt: new Date(Date.now() + STATE_TTL_MS).toISOString() });
  });

  return router;
}
