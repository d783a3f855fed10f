import { createHash, randomBytes } from 'node:crypto';
import { Router } from 'express';
import { type Selectable, sql } from 'kysely';
import { z } from 'zod';
import { classifyUpstreamError } from '../../connectors/toolkit/classify.ts';
import type { ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import {
  authorizationUrl,
  type OAuthProviderDefinition,
  pkcePair,
  scopesFor,
} from '../../connectors/toolkit/oauth-provider.ts';
import { authorizeUrlOf, oauthClientOf, providerSettings } from '../../connectors/toolkit/settings.ts';
import type { Config } from '../../shared/config.ts';
import { connectionPresenter, loadConnection } from '../../shared/connections/connection-resource.ts';
import { tokenEndpointFor } from '../../shared/connections/upstream-for.ts';
import type { Vault } from '../../shared/crypto/vault.ts';
import type { ConnectorLookup } from '../../shared/custom-connectors/connector-lookup.ts';
import type { Db } from '../../shared/db/database.ts';
import type { OAuthStateTable } from '../../shared/db/schema.ts';
import { ApiError } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import { publicBaseUrl } from '../../shared/public-url.ts';
import { browserHashOf } from '../connect/browser-binding.ts';
import { type ConnectFailure, connectResultPath } from '../connect/connect-result.ts';
import { completeSession } from '../connect/connect-tokens.ts';
import { assertProjectsInWorkspace, insertConnection } from '../connections/create-connection.ts';
import { isRegisteredRedirect, oauthErrorCode } from '../connections/oauth-redirects.ts';
import { workspacePrincipal } from '../middleware/authenticate.ts';
import { parseBody, parseQuery } from '../validation.ts';

const STATE_TTL_MS = 10 * 60_000;
const hashState = (state: string) => createHash('sha256').update(state).digest();

export const authorizeBody = z
  .object({
    displayName: z.string().trim().min(1).max(200),
    projectIds: z.array(z.string().max(100)).max(100).optional(),
    externalId: z.string().min(1).max(255).optional(),
    redirectUri: z
      .url({ protocol: /^https?$/ })
      .max(2000)
      .optional(),
  })
  .strict();
export const callbackQuery = z.object({
  state: z.string().max(200).optional(),
  code: z.string().max(2000).optional(),
  error: z.string().max(200).optional(),
});

/** An OAuth connector whose provider's client the operator has configured, or the API error saying what is missing. */
export async function oauthConnector(
  connectors: ConnectorLookup,
  workspaceId: string,
  connectorId: string,
  config: Config,
): Promise<{ connector: ConnectorDefinition; provider: OAuthProviderDefinition; clientId: string }> {
  const connector = await connectors.orThrow(workspaceId, connectorId);
  if (connector.auth.type !== 'oauth2')
    throw new ApiError('unknown_connector', `The ${connector.displayName} connector does not use OAuth.`);
  const provider = connector.auth.provider;
  if (provider.grant === 'client_credentials') {
    throw new ApiError(
      'unknown_connector',
      `The ${connector.displayName} connector has no sign-in page: create its connections with their client id and secret (POST /v1/connections).`,
    );
  }
  const client = oauthClientOf(provider, config.connectorSettings);
  if (!client) {
    const names = providerSettings(provider);
    throw new ApiError(
      'conflict',
      `OAuth for ${connector.displayName} is not configured on this server (${names.clientId}, ${names.clientSecret}).`,
    );
  }
  return { connector, provider, clientId: client.clientId };
}

/** Where the provider sends the user back: this server's callback. */
const callbackUrl = (config: Config) => `${publicBaseUrl(config)}/v1/oauth/callback`;

/** What an authorization in flight will create, and for whom. */
export interface PendingAuthorization {
  workspaceId: string;
  connectorId: string;
  displayName: string;
  externalId: string | null;
  projectIds: string[];
  redirectUri: string | null;
  /** A connect page's flow: its session, and the hash of the starting browser's cookie (api/connect/browser-binding.ts). */
  connectSessionId?: string;
  browserHash?: Buffer;
}

/**
 * Stores a single-use state (its hash) for the authorization and returns the provider's consent URL.
 * The one way an OAuth flow starts, from the API (workspace key) or a connect page (its token).
 */
export async function startAuthorization(
  db: Db,
  config: Config,
  connectors: ConnectorLookup,
  p: PendingAuthorization,
): Promise<{ authorizeUrl: string; state: string; expiresAt: string }> {
  const { connector, provider, clientId } = await oauthConnector(connectors, p.workspaceId, p.connectorId, config);
  const state = randomBytes(32).toString('base64url');
  const pkce = provider.pkce ? pkcePair() : undefined;
  const expiresAt = new Date(Date.now() + STATE_TTL_MS);
  await db
    .insertInto('oauth_states')
    .values({
      id: newId('oauthState'),
      state_hash: hashState(state),
      workspace_id: p.workspaceId,
      connector_id: connector.id,
      display_name: p.displayName,
      external_id: p.externalId,
      project_ids: JSON.stringify(p.projectIds),
      redirect_uri: p.redirectUri,
      pkce_verifier: pkce?.verifier ?? null,
      expires_at: expiresAt,
      connect_session_id: p.connectSessionId ?? null,
      browser_hash: p.browserHash ?? null,
    })
    .execute();
  const authorizeUrl = authorizationUrl(provider, {
    authorizeUrl: authorizeUrlOf(provider, config.connectorSettings),
    clientId,
    redirectUri: callbackUrl(config),
    state,
    scopes: scopesFor(provider, connector.actions),
    codeChallenge: pkce?.challenge,
  });
  return { authorizeUrl, state, expiresAt: expiresAt.toISOString() };
}

type OAuthStateRow = Selectable<OAuthStateTable>;

/**
 * Consumes the state: single use, whatever happens next. A connect page's state is consumed only by
 * the browser that started it (its cookie's hash): another browser gets 'other_browser' and leaves
 * it for the right one, so a forwarded link can neither finish nor spoil the flow.
 */
async function consumeState(
  db: Db,
  stateHash: Buffer,
  browser: Buffer | null,
): Promise<OAuthStateRow | 'other_browser' | null> {
  const consumed = await db
    .updateTable('oauth_states')
    .set({ used_at: sql`now()` })
    .where('state_hash', '=', stateHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .where((eb) =>
      browser
        ? eb.or([eb('browser_hash', 'is', null), eb('browser_hash', '=', browser)])
        : eb('browser_hash', 'is', null),
    )
    .returningAll()
    .executeTakeFirst();
  if (consumed) return consumed;
  const elsewhere = await db
    .selectFrom('oauth_states')
    .select('id')
    .where('state_hash', '=', stateHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .where('browser_hash', 'is not', null)
    .executeTakeFirst();
  return elsewhere ? 'other_browser' : null;
}

/** A connect-page flow that cannot finish, with the reason its result page shows. */
class ConnectFlowFailure extends ApiError {
  constructor(
    readonly reason: ConnectFailure,
    message: string,
  ) {
    super('invalid_input', message);
  }
}

function connectFailureOf(err: ApiError, providerError: string | undefined): ConnectFailure {
  if (err instanceof ConnectFlowFailure) return err.reason;
  if (err.code === 'upstream_unavailable') return 'unavailable';
  if (providerError) return 'denied';
  return err.code === 'invalid_input' && /refused/.test(err.message) ? 'refused' : 'invalid_state';
}

/** Exchanges the code, stores the connection (for a connect page: in its session's project, completing it). */
async function finishAuthorization(
  db: Db,
  vault: Vault,
  config: Config,
  connectors: ConnectorLookup,
  pending: OAuthStateRow,
  code: string,
): Promise<{ id: string; redirectUri: string | null }> {
  const { connector, provider } = await oauthConnector(connectors, pending.workspace_id, pending.connector_id, config);
  let credentials: Record<string, string>;
  try {
    credentials = await tokenEndpointFor(connector, provider, config).exchangeCode({
      code,
      redirectUri: callbackUrl(config),
      codeVerifier: pending.pkce_verifier ?? undefined,
    });
  } catch (err) {
    const failure = classifyUpstreamError(provider, err);
    if (failure.kind === 'transient' || failure.kind === 'rate_limited') {
      throw new ApiError(
        'upstream_unavailable',
        `${connector.displayName} could not be reached to finish the authorization.`,
      );
    }
    throw new ApiError(
      'invalid_input',
      `${connector.displayName} refused the authorization code: ${failure.message}.`,
      [{ path: 'code', message: failure.upstreamCode ?? 'rejected' }],
    );
  }

  // Projects deleted since the authorization started are simply not bound.
  const projectIds = pending.project_ids.length
    ? (
        await db
          .selectFrom('projects')
          .select('id')
          .where('workspace_id', '=', pending.workspace_id)
          .where('id', 'in', pending.project_ids)
          .execute()
      ).map((p) => p.id)
    : [];
  const store = () =>
    insertConnection(db, vault, {
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
  if (!pending.connect_session_id) return { id: await store(), redirectUri: pending.redirect_uri };
  const id = await completeSession(db, pending.connect_session_id, store);
  if (!id)
    throw new ConnectFlowFailure(
      'session_closed',
      'The connect link expired or was used while the sign-in was under way; ask for a new one.',
    );
  return { id, redirectUri: pending.redirect_uri };
}

/**
 * OAuth connections (docs/api.md, OAuth). `authorize` needs a workspace key; the callback has none:
 * its single-use state, stored only as a hash, authenticates it.
 */
export function oauthCallbackRoutes(db: Db, vault: Vault, config: Config, connectors: ConnectorLookup): Router {
  const presentConnection = connectionPresenter(publicBaseUrl(config));
  const router = Router();

  router.get('/v1/oauth/callback', async (req, res) => {
    const q = parseQuery(callbackQuery, req);
    const browser = browserHashOf(req);
    // Whether a person at a connect page is waiting: known once the state is found; before that, a guess from the cookie.
    let connectFlow: boolean | undefined;
    try {
      if (!q.state)
        throw new ApiError('invalid_input', 'The OAuth callback has no state.', [
          { path: 'state', message: 'required' },
        ]);
      const pending = await consumeState(db, hashState(q.state), browser);
      if (pending === 'other_browser') {
        connectFlow = true;
        throw new ConnectFlowFailure(
          'other_browser',
          'This sign-in was started in another browser; open the connect link there, or ask for a new one.',
        );
      }
      if (!pending)
        throw new ApiError(
          'invalid_input',
          'The OAuth state is unknown, expired or already used; start the authorization again.',
          [{ path: 'state', message: 'invalid' }],
        );
      connectFlow = pending.connect_session_id !== null;
      if (q.error) {
        // The provider's text is the query string's, i.e. anyone's: only a well-formed OAuth error code is repeated.
        const code = oauthErrorCode(q.error);
        throw new ApiError('invalid_input', `The provider did not authorize the connection (${code}).`, [
          { path: 'error', message: code },
        ]);
      }
      if (!q.code)
        throw new ApiError('invalid_input', 'The OAuth callback has no code.', [{ path: 'code', message: 'required' }]);
      const { id, redirectUri } = await finishAuthorization(db, vault, config, connectors, pending, q.code);
      // Checked again here: the list may have changed since the authorization started.
      if (redirectUri && isRegisteredRedirect(redirectUri, config)) {
        const target = new URL(redirectUri);
        target.searchParams.set('connectionId', id);
        res.redirect(302, target.toString());
        return;
      }
      if (connectFlow) {
        res.redirect(303, connectResultPath({ connectionId: id, connector: pending.connector_id }));
        return;
      }
      res.status(200).json(presentConnection(await loadConnection(db, pending.workspace_id, id)));
    } catch (err) {
      // A person at a connect page gets a page that says what happened, not a JSON envelope.
      if ((connectFlow ?? browser !== null) && err instanceof ApiError) {
        res.redirect(303, connectResultPath({ error: connectFailureOf(err, q.error) }));
        return;
      }
      throw err;
    }
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
    const { connector } = await oauthConnector(connectors, workspaceId, String(req.params.connectorId), config);
    const projectIds = [...new Set(body.projectIds ?? [])];
    await assertProjectsInWorkspace(db, workspaceId, projectIds);

    res.status(200).json(
      await startAuthorization(db, config, connectors, {
        workspaceId,
        connectorId: connector.id,
        displayName: body.displayName,
        externalId: body.externalId ?? null,
        projectIds,
        redirectUri: body.redirectUri ?? null,
      }),
    );
  });

  return router;
}
