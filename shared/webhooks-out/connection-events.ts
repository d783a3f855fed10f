import type { Queue } from 'bullmq';
import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { WebhookEventType } from '../db/schema.ts';
import { newId } from '../ids.ts';
import type { Logger } from '../logger.ts';
import { presentConnection, selectConnections } from '../connections/connection-resource.ts';
import { webhookJobOptions, WEBHOOK_QUEUE, type WebhookJobData } from '../queue/webhook-delivery-job.ts';

export type { WebhookEventType };

/**
 * Tells a workspace's webhooks that a connection turned broken or active again. The delivery rows
 * are written first (the record), then queued; a failure here is logged and never fails the call
 * or request that changed the status.
 */
export class ConnectionEvents {
  constructor(
    private readonly db: Db,
    private readonly queue: Queue<WebhookJobData>,
    private readonly logger: Logger,
  ) {}

  async emit(type: WebhookEventType, connectionId: string): Promise<void> {
    try {
      const connection = await selectConnections(this.db).where('c.id', '=', connectionId).executeTakeFirst();
      if (!connection) return;
      const hooks = await this.db
        .selectFrom('webhooks')
        .select('id')
        .where('workspace_id', '=', connection.workspace_id)
        .where(sql<boolean>`events @> ${JSON.stringify([type])}::jsonb`)
        .execute();
      if (hooks.length === 0) return;
      const event = { id: newId('event'), type, createdAt: new Date().toISOString(), data: { connection: presentConnection(connection) } };
      const deliveries = hooks.map((h) => ({
        id: newId('delivery'),
        webhook_id: h.id,
        event_id: event.id,
        event_type: type,
        payload: JSON.stringify(event),
        status: 'pending' as const,
        next_attempt_at: new Date(),
      }));
      await this.db.insertInto('webhook_deliveries').values(deliveries).execute();
      await this.queue.addBulk(deliveries.map((d) => ({ name: type, data: { deliveryId: d.id }, opts: { ...webhookJobOptions, jobId: d.id } })));
    } catch (err) {
      this.logger.error({ connectionId, type, err: (err as Error).message }, 'could not record webhook event');
    }
  }

  /** Emits the event a status change means, if any. */
  async statusChanged(connectionId: string, before: 'active' | 'broken', after: 'active' | 'broken'): Promise<void> {
    if (before === after) return;
    await this.emit(after === 'broken' ? 'connection.broken' : 'connection.restored', connectionId);
  }
}
