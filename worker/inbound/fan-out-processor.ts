import type { Job, Queue } from 'bullmq';
import type { Db } from '../../shared/db/database.ts';
import { fanOutInboundEvent } from '../../shared/inbound/inbound-events.ts';
import { inboundEventsFannedOut } from '../../shared/metrics.ts';
import type { InboundEventJobData } from '../../shared/queue/inbound-event-job.ts';
import type { WebhookJobData } from '../../shared/queue/webhook-delivery-job.ts';

/**
 * The work the inbound route leaves for later: an inbound event's deliveries to the webhooks out
 * subscribed to its type. A failure (database away) fails the job, which BullMQ retries; doing it
 * twice records nothing twice.
 */
export function createInboundFanOutProcessor(deps: { db: Db; deliveries: Queue<WebhookJobData> }) {
  return async function fanOutInbound(job: Job<InboundEventJobData>): Promise<void> {
    const done = await fanOutInboundEvent(deps.db, deps.deliveries, job.data.eventId);
    if (done) inboundEventsFannedOut.inc({ connector: done.connectorId });
  };
}
