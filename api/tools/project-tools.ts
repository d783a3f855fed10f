import { z } from 'zod';
import { connectors } from '../../connectors/registry.ts';
import type { ActionDefinition, ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import type { ConnectorLookup } from '../../shared/custom-connectors/connector-lookup.ts';
import type { Db } from '../../shared/db/database.ts';

/** One bound, active connection a tool can run on. */
export interface ToolConnection {
  id: string;
  displayName: string;
}

/**
 * An action a project can call now, as an AI agent sees it: one tool per action of each connector
 * with at least one bound, active connection. A broken or unbound connection's tools are gone until
 * it is fixed or bound again.
 *
 * Several connections of one connector: still one tool per action, and the caller chooses with a
 * `connectionId` (the `connections` list names the choices; over MCP it is a required argument
 * with those ids as its enum). One tool per connection would multiply the tool list by the
 * connections, and models choose worse among near-identical tools than by an argument.
 */
export interface ProjectTool {
  /** `<connectorId>_<actionId>`: letters, digits, `_` and `-`, at most 64 characters, which every model vendor accepts. */
  name: string;
  connector: ConnectorDefinition;
  action: ActionDefinition;
  connections: ToolConnection[];
}

const NAME_MAX = 64;

/** The tool name of an action: stable, unique per project, within every vendor's name rules. */
export function toolName(connectorId: string, actionId: string): string {
  return `${connectorId}_${actionId}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, NAME_MAX);
}

/** The project's tools, in a deterministic order (connector, then action, as in the catalog). */
export async function projectTools(
  db: Db,
  lookup: ConnectorLookup,
  workspaceId: string,
  projectId: string,
): Promise<ProjectTool[]> {
  const rows = await db
    .selectFrom('project_connections as b')
    .innerJoin('connections as c', 'c.id', 'b.connection_id')
    .select(['c.id', 'c.connector_id', 'c.display_name'])
    .where('b.project_id', '=', projectId)
    .where('c.status', '=', 'active')
    .orderBy('c.connector_id')
    .orderBy('c.id')
    .execute();
  const byConnector = new Map<string, ToolConnection[]>();
  for (const r of rows) {
    const list = byConnector.get(r.connector_id) ?? [];
    list.push({ id: r.id, displayName: r.display_name });
    byConnector.set(r.connector_id, list);
  }
  const tools: ProjectTool[] = [];
  for (const [connectorId, connections] of [...byConnector].sort(([a], [b]) => a.localeCompare(b))) {
    const connector = await lookup.find(workspaceId, connectorId);
    if (!connector) continue;
    for (const action of connector.actions)
      tools.push({ name: toolName(connector.id, action.id), connector, action, connections });
  }
  return tools;
}

// Converting a zod schema costs far more than the rest of a tools/list: once per action and direction.
const jsonSchemas = new WeakMap<
  ActionDefinition,
  { input: Record<string, unknown>; output: Record<string, unknown> }
>();
function schemasOf(action: ActionDefinition) {
  let schemas = jsonSchemas.get(action);
  if (!schemas) {
    schemas = {
      input: z.toJSONSchema(action.input, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>,
      output: z.toJSONSchema(action.output, { io: 'output', unrepresentable: 'any' }) as Record<string, unknown>,
    };
    jsonSchemas.set(action, schemas);
  }
  return schemas;
}

/**
 * The tool a `tools/call` names, without reading the project's bindings: the execution service
 * resolves the connection (and refuses one not bound to the project) as it does for any call, so a
 * call costs no extra query. `connections` is unknown (empty): a `connectionId` argument, when the
 * action has no such input field, is the caller's choice. Undefined for a name that is no action.
 */
export async function toolByName(
  lookup: ConnectorLookup,
  workspaceId: string,
  name: string,
): Promise<ProjectTool | undefined> {
  // A custom connector's id has no `_`: the name up to the first one is the id.
  const custom = name.startsWith('custom-')
    ? await lookup.find(workspaceId, name.slice(0, name.indexOf('_') >>> 0))
    : undefined;
  for (const connector of custom ? [custom] : connectors) {
    if (!name.startsWith(`${connector.id}_`)) continue;
    const action = connector.actions.find((a) => toolName(connector.id, a.id) === name);
    if (action) return { name, connector, action, connections: [] };
  }
  return undefined;
}

/** Whether `connectionId` is one of the action's own input fields (then it is never the tool's choice). */
export function actionTakesConnectionId(action: ActionDefinition): boolean {
  return Object.hasOwn(
    (schemasOf(action).input.properties as Record<string, unknown> | undefined) ?? {},
    'connectionId',
  );
}

/** The tool's input as JSON Schema (the action's input); over MCP a choice of connection is added. */
export function toolInputSchema(tool: ProjectTool, withConnectionChoice: boolean): Record<string, unknown> {
  const schema = schemasOf(tool.action).input;
  if (!withConnectionChoice || tool.connections.length < 2) return schema;
  const properties = (schema.properties ?? {}) as Record<string, unknown>;
  return {
    ...schema,
    properties: {
      ...properties,
      connectionId: {
        type: 'string',
        enum: tool.connections.map((c) => c.id),
        description: `Which ${tool.connector.displayName} connection to use: ${tool.connections.map((c) => `${c.id} (${c.displayName})`).join(', ')}`,
      },
    },
    required: [...new Set([...((schema.required as string[] | undefined) ?? []), 'connectionId'])],
  };
}

export function toolOutputSchema(tool: ProjectTool): Record<string, unknown> {
  return schemasOf(tool.action).output;
}

/** MCP tool annotations: honest hints from the action's side effects. */
export function toolAnnotations(tool: ProjectTool) {
  const read = tool.action.sideEffects === 'read';
  return {
    title: `${tool.connector.displayName}: ${tool.action.displayName}`,
    readOnlyHint: read,
    // A write adds (an email, a message); none of the built-in actions deletes or overwrites.
    destructiveHint: false,
    // Repeating a write with the same idempotency key is safe; without one, only deduped writes are.
    idempotentHint: read || tool.action.upstreamDedupes === true,
    openWorldHint: true,
  };
}
