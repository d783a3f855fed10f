import { type Request, Router } from 'express';
import { connectors, findConnector } from '../../connectors/registry.ts';
import type { ConnectorLookup } from '../../shared/custom-connectors/connector-lookup.ts';
import { ApiError } from '../../shared/errors.ts';
import type { Principal } from '../middleware/authenticate.ts';
import { presentConnector, presentCustomConnector } from '../resources/presenters.ts';

/**
 * The connector catalog. Without a key: the built-in connectors. With a workspace or project key:
 * also that workspace's custom connectors (never another workspace's); a wrong key is a 401 as anywhere.
 */
export function catalogRoutes(lookup: ConnectorLookup, authenticate: (req: Request) => Promise<Principal>): Router {
  const router = Router();
  // Computed once: the built-ins only change with a deploy.
  const presented = new Map(connectors.map((c) => [c.id, presentConnector(c)]));
  const workspaceOf = async (req: Request) =>
    req.get('authorization') ? (await authenticate(req)).workspaceId : undefined;

  router.get('/v1/connectors', async (req, res) => {
    const workspaceId = await workspaceOf(req);
    const custom = workspaceId
      ? (await lookup.store.latestAll(workspaceId)).map((row) =>
          presentCustomConnector(lookup.compiledRow(row), row.definition),
        )
      : [];
    res.json({ data: [...presented.values(), ...custom] });
  });

  router.get('/v1/connectors/:connectorId', async (req, res) => {
    const id = String(req.params.connectorId);
    if (findConnector(id)) return res.json(presented.get(id));
    const workspaceId = await workspaceOf(req);
    const row = workspaceId && id.startsWith('custom-') ? await lookup.store.get(workspaceId, id, null) : undefined;
    if (!row) throw new ApiError('unknown_connector', `No connector "${id}".`);
    res.json(presentCustomConnector(lookup.compiledRow(row), row.definition));
  });

  return router;
}
