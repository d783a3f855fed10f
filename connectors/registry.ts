import { ApiError } from '../shared/errors.ts';
import { builtins } from './builtins.ts';
import type { ActionDefinition, ConnectorDefinition } from './toolkit/connector-definition.ts';
import type { OAuthProviderDefinition } from './toolkit/oauth-provider.ts';

/** Every connector the engine offers, in catalog order (connectors/builtins.ts). */
export const connectors: readonly ConnectorDefinition[] = builtins;

const byId = new Map(connectors.map((c) => [c.id, c]));
if (byId.size !== connectors.length) throw new Error('two connectors share an id');

/** The OAuth providers the connectors reference, each once. */
export const oauthProviders: readonly OAuthProviderDefinition[] = [
  ...new Map(
    connectors.flatMap((c) => (c.auth.type === 'oauth2' ? [[c.auth.provider.id, c.auth.provider] as const] : [])),
  ).values(),
];

export function findConnector(id: string): ConnectorDefinition | undefined {
  return byId.get(id);
}

export function findAction(connector: ConnectorDefinition, actionId: string): ActionDefinition | undefined {
  return connector.actions.find((a) => a.id === actionId);
}

/** The connector, or the API's 404 `unknown_connector`: the one lookup every route uses. */
export function connectorOrThrow(id: string): ConnectorDefinition {
  const connector = byId.get(id);
  if (!connector) throw new ApiError('unknown_connector', `No connector "${id}".`);
  return connector;
}

/** The action, or the API's 404 `unknown_action`. */
export function actionOrThrow(connector: ConnectorDefinition, actionId: string): ActionDefinition {
  const action = findAction(connector, actionId);
  if (!action)
    throw new ApiError('unknown_action', `The ${connector.displayName} connector has no action "${actionId}".`);
  return action;
}
