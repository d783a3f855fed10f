import { Router } from 'express';
import { z } from 'zod';
import { type CustomConnectorDefinition, hasWorkspaceClient } from '../../connectors/custom/definition-schema.ts';
import { importOpenApi, OpenApiImportError } from '../../connectors/custom/openapi-import.ts';
import { type DefinitionIssue, validateDefinition } from '../../connectors/custom/validate-definition.ts';
import type { Config } from '../../shared/config.ts';
import type { ConnectorLookup } from '../../shared/custom-connectors/connector-lookup.ts';
import type { CustomConnectorRow } from '../../shared/custom-connectors/custom-connector-store.ts';
import type { Db } from '../../shared/db/database.ts';
import { type EgressGuard, egressGuardFromConfig } from '../../shared/egress/egress-guard.ts';
import { ApiError, toValidationIssues } from '../../shared/errors.ts';
import { publicUrlProblem } from '../connections/connection-base-url.ts';
import { workspacePrincipal } from '../middleware/authenticate.ts';
import { presentCustomConnector } from '../resources/presenters.ts';
import { parseBody } from '../validation.ts';

export const definitionBody = z.object({ definition: z.unknown() }).strict();
export const importBody = z
  .object({
    /** The document: an object (JSON) or its text (JSON or YAML). */
    openapi: z.union([z.string().min(1), z.record(z.string(), z.unknown())]),
    operations: z.array(z.string().min(1).max(200)).min(1).max(100).optional(),
  })
  .strict();

/** A definition from a request body, or the API's 400 `invalid_input` naming each problem's path. */
function definitionFrom(value: unknown, egress: EgressGuard): CustomConnectorDefinition {
  const result = validateDefinition(value);
  const issues: DefinitionIssue[] = result.ok ? [] : result.issues;
  if (result.ok) {
    // The URLs the engine itself calls must pass the egress guard (the authorize URL is the user's browser's).
    const def = result.definition;
    const urls: [(string | number)[], string][] = [[['baseUrl'], def.baseUrl]];
    if (def.auth.type === 'oauth2') urls.push([['auth', 'tokenUrl'], def.auth.tokenUrl]);
    for (const [path, url] of urls) {
      const problem = publicUrlProblem(url, egress);
      if (problem) issues.push({ path, message: problem });
    }
    if (!issues.length) return def;
  }
  throw new ApiError('invalid_input', 'The connector definition is invalid.', toValidationIssues(issues, 'definition'));
}

/**
 * Custom connectors (workspace keys): POST a definition, PUT a new version, DELETE, and draft one
 * from an OpenAPI document. Reading them is the catalog's (catalog.ts).
 */
export function customConnectorRoutes(db: Db, config: Config, connectors: ConnectorLookup): Router {
  const router = Router();
  const egress = egressGuardFromConfig(config);
  const store = connectors.store;

  // The row just written, not a second read: a DELETE in between must not turn a 200 into a 500.
  const present = (row: CustomConnectorRow) => presentCustomConnector(connectors.compiledRow(row), row.definition);

  router.post('/v1/connectors/import', (req, res) => {
    workspacePrincipal(req);
    const body = parseBody(importBody, req);
    try {
      res.json(importOpenApi(body.openapi, body.operations));
    } catch (err) {
      if (err instanceof OpenApiImportError)
        throw new ApiError('invalid_input', `The OpenAPI document cannot be imported: ${err.path} ${err.message}.`, [
          { path: err.path, message: err.message },
        ]);
      throw err;
    }
  });

  router.post('/v1/connectors', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const def = definitionFrom(parseBody(definitionBody, req).definition, egress);
    if (hasWorkspaceClient(def.auth) && def.auth.clientSecret === undefined) {
      throw new ApiError('invalid_input', 'The connector definition is invalid.', [
        { path: 'definition.auth.clientSecret', message: 'required when the connector is created' },
      ]);
    }
    if (await store.latestVersion(workspaceId, def.id))
      throw new ApiError(
        'conflict',
        `The connector ${def.id} exists; PUT /v1/connectors/${def.id} replaces it with a new version.`,
      );
    if ((await store.count(workspaceId)) >= config.CUSTOM_CONNECTORS_PER_WORKSPACE_MAX) {
      throw new ApiError(
        'conflict',
        `This workspace has ${config.CUSTOM_CONNECTORS_PER_WORKSPACE_MAX} custom connectors, the most it may have.`,
      );
    }
    const secret = hasWorkspaceClient(def.auth) ? def.auth.clientSecret : undefined;
    const created = await store.insert(workspaceId, 1, def, secret);
    if (!created) throw new ApiError('conflict', `The connector ${def.id} was just created by another request.`);
    res.status(201).json(present(created));
  });

  router.put('/v1/connectors/:connectorId', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const id = String(req.params.connectorId);
    const body = parseBody(definitionBody, req);
    const current = id.startsWith('custom-') ? await store.get(workspaceId, id, null) : undefined;
    if (!current) throw new ApiError('unknown_connector', 'No such custom connector in this workspace.');
    const def = definitionFrom(body.definition, egress);
    if (def.id !== id)
      throw new ApiError('invalid_input', 'The connector definition is invalid.', [
        { path: 'definition.id', message: `must be ${id}, the id in the path` },
      ]);
    // Left out, the OAuth client secret stays what it was.
    const secret = hasWorkspaceClient(def.auth) ? (def.auth.clientSecret ?? store.clientSecretOf(current)) : undefined;
    if (hasWorkspaceClient(def.auth) && secret === undefined) {
      throw new ApiError('invalid_input', 'The connector definition is invalid.', [
        { path: 'definition.auth.clientSecret', message: 'required: the current version has none' },
      ]);
    }
    const replaced = await store.insert(workspaceId, current.version + 1, def, secret);
    if (!replaced)
      throw new ApiError('conflict', `Another request replaced ${id} at the same time; read it and try again.`);
    res.json(present(replaced));
  });

  router.delete('/v1/connectors/:connectorId', async (req, res) => {
    const { workspaceId } = workspacePrincipal(req);
    const id = String(req.params.connectorId);
    if (!id.startsWith('custom-') || !(await store.latestVersion(workspaceId, id)))
      throw new ApiError('unknown_connector', 'No such custom connector in this workspace.');
    const used = await db
      .selectFrom('connections')
      .select('id')
      .where('workspace_id', '=', workspaceId)
      .where('connector_id', '=', id)
      .limit(1)
      .executeTakeFirst();
    if (used) throw new ApiError('conflict', `Connections use ${id}; delete them first.`);
    await store.delete(workspaceId, id);
    res.status(204).end();
  });

  return router;
}
