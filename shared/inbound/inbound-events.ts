import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import { sql } from 'kysely';
import type { InboundEvent } from '../api-resources.ts';
import type { Db } from '../db/database.ts';
import type { InboundEventRow } from '../db/schema.ts';
import { newId } from '../ids.ts';
import { toIso as iso } from '../iso-time.ts';
import { type InboundEventJobData, inboundEventJobOptions } from '../queue/inbound-event-job.ts';
import type { WebhookJobData } from '../queue/webhook-delivery-job.ts';
import { fanOut } from '../webhooks-out/fan-out.ts';

/**
 * Inbound events: what a connected service sent, verified, stored once per upstream event id, then
 * fanned out to the workspace's webhooks out by a worker (docs/api.md, "Inbound events").
 */

/** The `Event` resource: API responses and the `data.event` of webhook deliveries alike. */
export function presentInboundEvent(
  e: Pick<InboundEventRow, 'id' | 'connection_id' | 'connector_id' | 'type' | 'received_at' | 'payload'>,
): InboundEvent {
  return {
    id: e.id,
    connectionId: e.connection_id,
    connectorId: e.connector_id,
    type: e.type,
    receivedAt: iso(e.received_at),
    payload: e.payload ?? null,
  };
}

/** Upstream ids are stored as they are up to this length; a longer one is stored as its SHA-256. */
const MAX_UPSTREAM_ID = 200;

export interface ReceivedEvent {
  workspaceId: string;
  connectionId: string;
  connectorId: string;
  upstreamEventId: string;
  type: string;
  payload: unknown;
}

/**
 * Stores the event unless the connection already has one with the same upstream id, and queues its
 * fan-out. Returns the new event's id, or null for a redelivery (nothing stored, nothing queued). A
 * queue that cannot be reached does not lose the event: the maintenance tick queues the ones still
 * not fanned out (queueUnfannedEvents).
 */
export async function recordInboundEvent(
  db: Db,
  queue: Queue<InboundEventJobData>,
  event: ReceivedEvent,
  onQueueError: (err: Error) => void,
): Promise<string | null> {
  const upstreamId =
    event.upstreamEventId.length <= MAX_UPSTREAM_ID
      ? event.upstreamEventId
      : `sha256:${createHash('sha256').update(event.upstreamEventId).digest('hex')}`;
  // The dedupe row is taken first, in the same statement (migration 0013: the partitioned table
  // cannot hold the unique index); a redelivery takes nothing and so inserts nothing.
  const id = newId('event');
  const { rows } = await sql<{ id: string }>`
    with taken as (
      insert into inbound_event_upstream_ids (connection_id, upstream_event_id, event_id, received_at)
      values (${event.connectionId}, ${upstreamId}, ${id}, now())
      on conflict do nothing
      returning event_id, received_at
    )
    insert into inbound_events (id, workspace_id, connection_id, connector_id, upstream_event_id, type, payload, received_at)
    select event_id, ${event.workspaceId}, ${event.connectionId}, ${event.connectorId}, ${upstreamId}, ${event.type.slice(0, 200)},
           ${JSON.stringify(event.payload)}::jsonb, received_at
      from taken
    returning id`.execute(db);
  const inserted = rows[0];
  if (!inserted) return null;
  await queue
    .add('fan-out', { eventId: inserted.id }, { ...inboundEventJobOptions, jobId: inserted.id })
    .catch(onQueueError);
  return inserted.id;
}

/**
 * The worker's job: one delivery of the event per subscribed webhook out (`data: {event}`), then the
 * event is marked fanned out. Repeating it records nothing twice (fanOut is idempotent per webhook
 * and event), so a job retried after a crash is harmless. Null when there was nothing to do.
 */
export async function fanOutInboundEvent(
  db: Db,
  deliveries: Queue<WebhookJobData>,
  eventId: string,
): Promise<{ connectorId: string; deliveries: number } | null> {
  const event = await db.selectFrom('inbound_events').selectAll().where('id', '=', eventId).executeTakeFirst();
  if (!event || event.fanned_out_at !== null) return null;
  const count = await fanOut(db, deliveries, event.workspace_id, {
    id: event.id,
    type: event.type,
    createdAt: iso(event.received_at)!,
    data: { event: presentInboundEvent(event) },
  });
  await db.updateTable('inbound_events').set({ fanned_out_at: sql`now()` }).where('id', '=', event.id).execute();
  return { connectorId: event.connector_id, deliveries: count };
}

/**
 * Queues the fan-out of events stored more than `olderThanMs` ago and still not fanned out (their
 * enqueue failed, or their job was lost); the job id keeps one job per event. Returns how many.
 */
export async function queueUnfannedEvents(
  db: Db,
  queue: Queue<InboundEventJobData>,
  olderThanMs = 60_000,
  limit = 1000,
): Promise<number> {
  const rows = await db
    .selectFrom('inbound_events')
    .select('id')
    .where('fanned_out_at', 'is', null)
    .where('received_at', '<', new Date(Date.now() - olderThanMs))
    .orderBy('received_at')
    .limit(limit)
    .execute();
  if (rows.length > 0)
    await queue.addBulk(
      rows.map((r) => ({ name: 'fan-out', data: { eventId: r.id }, opts: { ...inboundEventJobOptions, jobId: r.id } })),
    );
  return rows.length;
}

/**
 * Retention, as for invocations (shared/invocations/retention.ts): past the retention period an
 * event's payload is removed; the row (who sent what type, when) stays, and so does its dedupe,
 * until AUDIT_LOG_RETENTION_DAYS drops its month (shared/db/partitions.ts).
 * Batched, skipping locked rows. Returns the number of payloads removed.
 */
export async function purgeExpiredEventPayloads(db: Db, olderThan: Date, batchSize = 1000): Promise<number> {
  let total = 0;
  for (;;) {
    const { rows } = await sql<{ cleared: number }>`
      with batch as (
        select id from inbound_events where received_at < ${olderThan} and payload is not null
         order by received_at limit ${batchSize} for update skip locked
      ), cleared as (
        update inbound_events as e set payload = null from batch where e.id = batch.id returning e.id
      )
      select count(*)::int as cleared from cleared`.execute(db);
    const cleared = rows[0]?.cleared ?? 0;
    total += cleared;
    if (cleared < batchSize) return total;
  }
}
