import { Router } from 'express';
import { connectorOrThrow, connectors } from '../../connectors/registry.ts';
import { presentConnector } from '../resources/presenters.ts';

/** The connector catalog (no key needed). */
export function catalogRoutes(): Router {
  const router = Router();
  // Computed once: the catalog only changes with a deploy.
  const presented = new Map(connectors.map((c) => [c.id, presentConnector(c)]));

  router.get('/v1/connectors', (_req, res) => {
    res.json({ data: [...presented.values()] });
  });

  router.get('/v1/connectors/:connectorId', (req, res) => {
    res.json(presented.get(connectorOrThrow(String(req.params.connectorId)).id));
  });

  return router;
}
