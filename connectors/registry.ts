import type { ActionDefinition, ConnectorDefinition } from './toolkit/connector-definition.ts';
import { elevenLabsConnector } from './elevenlabs/elevenlabs-connector.ts';
import { resendConnector } from './resend/resend-connector.ts';
import { slackConnector } from './slack/slack-connector.ts';

/** Every connector the engine offers. Adding a service: its folder plus one line here. */
export const connectors: ReadonlyArray<ConnectorDefinition<any>> = [resendConnector, slackConnector, elevenLabsConnector];

const byId = new Map(connectors.map((c) => [c.id, c]));

export function findConnector(id: string): ConnectorDefinition<any> | undefined {
  return byId.get(id);
}

export function findAction(connector: ConnectorDefinition<any>, actionId: string): ActionDefinition | undefined {
  return connector.actions.find((a) => a.id === actionId);
}
