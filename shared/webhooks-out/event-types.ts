/**
 * The event types a webhook out subscribes to. Connection events are the engine's own; inbound
 * events are named `<connector id>.<the service's type>` (`slack.message`,
 * `resend.email.delivered`, `twilio.message.status`) by the connector's inbound hook; `*` is every
 * type, present and future.
 */
export const CONNECTION_EVENT_TYPES = ['connection.broken', 'connection.restored'] as const;
export const ALL_EVENT_TYPES = '*';

const inboundType = /^([a-z][a-z0-9]{1,39})(\.[a-z0-9_]{1,64}){1,4}$/;

/**
 * Whether a webhook may subscribe to `type`: a connection event, `*`, or an inbound type of a
 * connector that accepts events (`acceptsEvents` says which connector ids do).
 */
export function isSubscribableType(type: string, acceptsEvents: (connectorId: string) => boolean): boolean {
  if (type === ALL_EVENT_TYPES || (CONNECTION_EVENT_TYPES as readonly string[]).includes(type)) return true;
  const match = inboundType.exec(type);
  return match !== null && acceptsEvents(match[1]!);
}
