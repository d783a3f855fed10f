import type { ConnectorDefinition } from './toolkit/connector-definition.ts';

/**
 * The built-in connectors, in catalog order: one line each. Adding a service is its folder, its
 * fake under test/fakes/<id>/, and one line here (connectors/README.md).
 */
export const builtins: readonly ConnectorDefinition[] = [
  (await import('./resend/resend-connector.ts')).resendConnector,
  (await import('./slack/slack-connector.ts')).slackConnector,
  (await import('./elevenlabs/elevenlabs-connector.ts')).elevenLabsConnector,
  (await import('./twilio/twilio-connector.ts')).twilioConnector,
  (await import('./sendgrid/sendgrid-connector.ts')).sendGridConnector,
  (await import('./gmail/gmail-connector.ts')).gmailConnector,
  (await import('./googlesheets/googlesheets-connector.ts')).googleSheetsConnector,
];
