import type { Queue } from 'bullmq';
import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { newId } from '../ids.ts';
import { type WebhookJobData, webhookJobOptions } from '../queue/webhook-delivery-job.ts';
import { ALL_EVENT_TYPES } from './event-types.ts';

/** What a webhook out receives: docs/api.md, "Webhooks out". */
export interface OutgoingEvent {
  id: string;
  type: string;
  createdAt: string;
  data: unknown;
}

/**
 * Records one delivery of `event` for every webhook of the workspace subscribed to its type (or to
 * `*`), then queues each (job id = delivery id). The rows are the record and are written first.
 * Safe to repeat for the same event: a (webhook, event) pair is recorded once, and its delivery is
 * queued again only while it is still pending, where BullMQ's job id keeps one job.
 * Returns the number of deliveries recorded or found.
 */
export async function fanOut(
  db: Db,
  queue: Queue<WebhookJobData>,
  workspaceId: string,
  event: OutgoingEvent,
): Promise<number> {
  const hooks = await db
    .selectFrom('webhooks')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where(
      sql<boolean>`(events @> ${JSON.stringify([event.type])}::jsonb or events @> ${JSON.stringify([ALL_EVENT_TYPES])}::jsonb)`,
    )
    .execute();
  if (hooks.length === 0) return 0;
  const payload = JSON.stringify(event);
  await db
    .insertInto('webhook_deliveries')
    .values(
      hooks.map((h) => ({
        id: newId('delivery'),
        webhook_id: h.id,
        event_id: event.id,
        event_type: event.type,
        payload,
        status: 'pending' as const,
        next_attempt_at: new Date(),
      })),
    )
    .onConflict((oc) => oc.columns(['webhook_id', 'event_id']).doNothing())
    .execute();
  const pending = await db
    .selectFrom('webhook_deliveries')
    .select('id')
    .where(
      'webhook_id',
      'in',
      hooks.map((h) => h.id),
    )
    .where('event_id', '=', event.id)
    .where('status', '=', 'pending')
    .where('attempts', '=', 0)
    .execute();
  await queue.addBulk(
    pending.map((d) => ({ name: event.type, data: { deliveryId: d.id }, opts: { ...webhookJobOptions, jobId: d.id } })),
  );
  return pending.length;
}
