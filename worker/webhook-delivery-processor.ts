import type { Job } from 'bullmq';
import got from 'got';
import { sql } from 'kysely';
import type { Config } from '../shared/config.ts';
import type { Vault } from '../shared/crypto/vault.ts';
import type { Db } from '../shared/db/database.ts';
import type { Logger } from '../shared/logger.ts';
import { webhookDeliveries } from '../shared/metrics.ts';
import type { WebhookJobData } from '../shared/queue/webhook-job.ts';
import { publicOnlyLookup } from '../shared/webhooks/target-guard.ts';
import { signatureHeader } from '../shared/webhooks/webhook-signature.ts';
import { RetryScheduled } from './execute/retry-policy.ts';

const GIVE_UP_AFTER_MS = 24 * 3600 * 1000;
const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 3600 * 1000;

/** Delay before retry n (1-based): 5 s doubling to an hour, with jitter; ~20 tries in a day. */
export function webhookRetryDelayMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempt - 1));
  return Math.floor(ceiling * (0.75 + random() * 0.25));
}

/**
 * POSTs one delivery, signed with its webhook's secret. A 2xx ends it; anything else is retried
 * with backoff until a day after the event, each attempt recorded on the delivery row.
 */
export function createWebhookDeliveryProcessor(deps: { db: Db; vault: Vault; config: Config; logger: Logger }) {
  const { db, vault, config, logger } = deps;
  return async function deliverWebhook(job: Job<WebhookJobData>): Promise<void> {
    const delivery = await db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
      .select(['d.id', 'd.payload', 'd.status', 'd.attempts', 'd.created_at', 'w.id as webhook_id', 'w.url', 'w.secret_key_id', 'w.secret_iv', 'w.secret_tag', 'w.secret_ciphertext'])
      .where('d.id', '=', job.data.deliveryId)
      .executeTakeFirst();
    if (!delivery || delivery.status !== 'pending') return; // webhook deleted, or already done

    const secret = vault.open<string>(
      { keyId: delivery.secret_key_id, iv: delivery.secret_iv, tag: delivery.secret_tag, ciphertext: delivery.secret_ciphertext },
      delivery.webhook_id,
    );
    const body = JSON.stringify(delivery.payload);
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      const res = await got.post(delivery.url, {
        body,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'connector-engine-webhooks/0.1',
          'webhook-id': (delivery.payload as { id: string }).id,
          'webhook-signature': signatureHeader(secret, body),
        },
        timeout: { request: config.WEBHOOK_TIMEOUT_MS },
        retry: { limit: 0 },
        throwHttpErrors: false,
        followRedirect: false,
        // Checked where the socket is opened, so DNS cannot swap in a private address after a check.
        ...(config.WEBHOOK_ALLOW_PRIVATE_TARGETS ? {} : { dnsLookup: publicOnlyLookup as never }),
      });
      statusCode = res.statusCode;
      if (statusCode < 200 || statusCode >= 300) error = `HTTP ${statusCode}`;
    } catch (err) {
      error = (err as { code?: string }).code ?? (err as Error).message;
    }

    const attempts = delivery.attempts + 1;
    if (error === null) {
      await db
        .updateTable('webhook_deliveries')
        .set({ status: 'succeeded', attempts, last_status_code: statusCode, last_error: null, next_attempt_at: null, delivered_at: sql`now()` })
        .where('id', '=', delivery.id)
        .execute();
      webhookDeliveries.inc({ outcome: 'succeeded' });
      return;
    }
    const delayMs = webhookRetryDelayMs(attempts);
    const giveUp = Date.now() + delayMs - new Date(delivery.created_at).getTime() > GIVE_UP_AFTER_MS;
    await db
      .updateTable('webhook_deliveries')
      .set({
        status: giveUp ? 'failed' : 'pending',
        attempts,
        last_status_code: statusCode,
        last_error: error.slice(0, 500),
        next_attempt_at: giveUp ? null : new Date(Date.now() + delayMs),
      })
      .where('id', '=', delivery.id)
      .execute();
    logger.info({ deliveryId: delivery.id, attempts, error, giveUp }, 'webhook delivery failed');
    webhookDeliveries.inc({ outcome: giveUp ? 'failed' : 'retrying' });
    if (!giveUp) throw new RetryScheduled(delayMs, { kind: 'transient', message: error, requestMayHaveRun: true });
  };
}
