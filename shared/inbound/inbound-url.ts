import { findConnector } from '../../connectors/registry.ts';

/** The path a connected service posts a connection's events to (docs/api.md, "Inbound events"). */
export const inboundPath = (connectorId: string, connectionId: string): string =>
  `/v1/inbound/${connectorId}/${connectionId}`;

/** Whether the connector has an inbound hook (its connections receive events). */
export const acceptsEvents = (connectorId: string): boolean => findConnector(connectorId)?.inbound !== undefined;

/** A connection's `inboundUrl`, or undefined when its connector accepts no events. */
export function inboundUrlOf(publicBaseUrl: string, connectorId: string, connectionId: string): string | undefined {
  return acceptsEvents(connectorId) ? `${publicBaseUrl}${inboundPath(connectorId, connectionId)}` : undefined;
}
