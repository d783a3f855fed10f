import { Router } from 'express';
import type { ConnectorLookup } from '../../shared/custom-connectors/connector-lookup.ts';
import type { Db } from '../../shared/db/database.ts';
import { ApiError } from '../../shared/errors.ts';
import { principalOf } from '../middleware/authenticate.ts';
import { presentTool } from '../resources/presenters.ts';
import { projectTools } from '../tools/project-tools.ts';

/** GET /v1/tools (project key): what an AI builder reads to write code or hand tools to a model. */
export function toolRoutes(db: Db, connectors: ConnectorLookup): Router {
  const router = Router();
  router.get('/v1/tools', async (req, res) => {
    const principal = principalOf(req);
    if (principal.kind !== 'project') throw new ApiError('forbidden', 'Tools belong to a project: use a project key.');
    res.json({
      data: (await projectTools(db, connectors, principal.workspaceId, principal.projectId)).map(presentTool),
    });
  });
  return router;
}
