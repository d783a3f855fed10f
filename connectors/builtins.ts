import type { ConnectorDefinition } from './toolkit/connector-definition.ts';

/**
 * The built-in connectors, in catalog order: one line each. Adding a service is its folder, its
 * fake under test/fakes/<id>/, and one line here (connectors/README.md).
 */
export const builtins: readonly ConnectorDefinition[] = [
  (await import('./resend/resend-connector.ts')).resendConnector,
  (await import('./slack/slack-connector.ts')).slackConnector,
  (await import('./elevenlabs/elevenlabs-connector.ts')).elevenLabsConnector,
];
