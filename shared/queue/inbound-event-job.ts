/**
 * Inbound events are fanned out to webhooks out by jobs of their own queue: the inbound route only
 * stores and enqueues, so it answers within Slack's 3 seconds whatever the fan-out costs.
 */
export const INBOUND_EVENT_QUEUE = 'inbound-events';

export interface InboundEventJobData {
  eventId: string;
}

export const inboundEventJobOptions = {
  attempts: 20,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 24 * 3600 },
} as const;
