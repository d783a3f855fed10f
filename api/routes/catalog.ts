import { Router } from 'express';
import { z } from 'zod';
import { connectors, findConnector } from '../../connectors/registry.ts';
import type { ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import { ApiError } from '../../shared/errors.ts';

/** The catalog, with each action's JSON Schema generated from the zod schema that validates its input. */
function presentConnector(c: ConnectorDefinition<any>) {
  return {
    id: c.id,
    displayName: c.displayName,
    category: c.category,
    description: c.description,
    authType: c.authType,
    authFields: c.authFields,
    rateLimit: c.rateLimit,
    actions: c.actions.map((a) => ({
      id: a.id,
      displayName: a.displayName,
      description: a.description,
      sideEffects: a.sideEffects,
      inputSchema: z.toJSONSchema(a.input, { io: 'input', unrepresentable: 'any' }),
    })),
  };
}

export function catalogRoutes(): Router {
  const router = Router();
  // Computed once: the catalog only changes with a deploy.
  const presented = new Map(connectors.map((c) => [c.id, presentConnector(c)]));

  router.get('/v1/connectors', (_req, res) => {
    res.json({ data: [...presented.values()] });
  });

  router.get('/v1/connectors/:connectorId', (req, res) => {
    const connector = findConnector(String(req.params.connectorId));
    if (!connector) throw new ApiError('unknown_connector', `No connector "${req.params.connectorId}".`);
    res.json(presented.get(connector.id));
  });

  return router;
}
