import type { Queue } from 'bullmq';
import { type ConnectionPresenter, selectConnections } from '../connections/connection-resource.ts';
import type { Db } from '../db/database.ts';
import type { WebhookEventType } from '../db/schema.ts';
import { newId } from '../ids.ts';
import type { Logger } from '../logger.ts';
import type { WebhookJobData } from '../queue/webhook-delivery-job.ts';
import { fanOut } from './fan-out.ts';

export type { WebhookEventType };

/**
 * Tells a workspace's webhooks out that a connection turned broken or active again. The delivery
 * rows are written first (the record), then queued; a failure here is logged and never fails the
 * call or request that changed the status.
 */
export class ConnectionEvents {
  constructor(
    private readonly db: Db,
    private readonly queue: Queue<WebhookJobData>,
    private readonly logger: Logger,
    /** Shapes the `Connection` in the payload as the API does (with its `inboundUrl`). */
    private readonly presentConnection: ConnectionPresenter,
  ) {}

  async emit(type: WebhookEventType, connectionId: string): Promise<void> {
    try {
      const connection = await selectConnections(this.db).where('c.id', '=', connectionId).executeTakeFirst();
      if (!connection) return;
      const event = {
        id: newId('event'),
        type,
        createdAt: new Date().toISOString(),
        data: { connection: this.presentConnection(connection) },
      };
      await fanOut(this.db, this.queue, connection.workspace_id, event);
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
