import { DelayedError, type Job } from 'bullmq';
import got from 'got';
import { sql } from 'kysely';
import type { Config } from '../../shared/config.ts';
import type { Vault } from '../../shared/crypto/vault.ts';
import type { Db } from '../../shared/db/database.ts';
import { EGRESS_REFUSED_MESSAGE, type EgressGuard } from '../../shared/egress/egress-guard.ts';
import type { RunningShare } from '../../shared/limiter/running-share.ts';
import type { Logger } from '../../shared/logger.ts';
import { webhookCircuitsOpened, webhookDeliveries, webhookDeliveriesDeferred } from '../../shared/metrics.ts';
import type { WebhookJobData } from '../../shared/queue/webhook-delivery-job.ts';
import { secretsOf, signatureHeader } from '../../shared/webhooks-out/signing-secrets.ts';
import { RetryScheduled } from '../execute/retry-policy.ts';
import type { WebhookCircuits } from './circuit.ts';

const GIVE_UP_AFTER_MS = 24 * 3600 * 1000;
const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 3600 * 1000;
/** A delivery over its workspace's share looks again after about this long (jittered). */
const SHARE_RETRY_MS = 500;

/** Delay before retry n (1-based): 5 s doubling to an hour, with jitter; ~20 tries in a day. */
export function webhookRetryDelayMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempt - 1));
  return Math.floor(ceiling * (0.75 + random() * 0.25));
}

/** What a failed attempt records: the refusal message, an error code, or the message. */
function attemptError(err: unknown): string {
  const { code, message } = err as { code?: string; message?: string };
  // A refused target and a name that does not resolve look alike, so the record names no internal host.
  if (code === 'EGRESS_REFUSED') return EGRESS_REFUSED_MESSAGE;
  return code ?? message ?? 'request failed';
}

export interface WebhookDeliveryDeps {
  db: Db;
  vault: Vault;
  config: Config;
  logger: Logger;
  egress: EgressGuard;
  /** Each workspace's fair share of the delivery slots of every worker, capped by WEBHOOK_WORKSPACE_CONCURRENCY. */
  share: RunningShare;
  circuits: WebhookCircuits;
}

/**
 * POSTs one delivery, signed by the Standard Webhooks specification with its webhook's secrets.
 * A 2xx ends it; anything else is retried
 * with backoff until a day after the event, each attempt recorded on the delivery row.
 *
 * Before the attempt: the workspace must have a free slot of its share, and the target's circuit
 * must not be open; otherwise the job goes back to the delayed set without spending an attempt.
 * The request passes the egress guard (URL checked before the request, every resolved address at
 * connect time); redirects are not followed: a 3xx is a failed attempt.
 */
export function createWebhookDeliveryProcessor(deps: WebhookDeliveryDeps) {
  const { db, vault, config, logger, egress, share, circuits } = deps;
  return async function deliverWebhook(job: Job<WebhookJobData>, token?: string): Promise<void> {
    const delivery = await db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
      .select([
        'd.id',
        'd.payload',
        'd.status',
        'd.attempts',
        'd.created_at',
        'w.id as webhook_id',
        'w.workspace_id',
        'w.url',
        'w.secret_key_id',
        'w.secret_iv',
        'w.secret_tag',
        'w.secret_ciphertext',
      ])
      .where('d.id', '=', job.data.deliveryId)
      .executeTakeFirst();
    if (delivery?.status !== 'pending') return; // webhook deleted, or already done

    const deferUntil = async (until: number, reason: 'workspace_share' | 'circuit_open'): Promise<never> => {
      if (!token) throw new Error('job token missing');
      webhookDeliveriesDeferred.inc({ reason });
      await job.moveToDelayed(Math.ceil(until), token);
      throw new DelayedError();
    };
    const lease = await share.acquire(delivery.workspace_id, config.WEBHOOK_WORKSPACE_CONCURRENCY);
    if (!lease.granted) return deferUntil(Date.now() + SHARE_RETRY_MS * (1 + Math.random()), 'workspace_share');
    try {
      const verdict = await circuits.before(delivery.workspace_id, delivery.url);
      if (!verdict.go) {
        if (Date.now() - new Date(delivery.created_at).getTime() > GIVE_UP_AFTER_MS) {
          return await record(delivery, { statusCode: null, error: 'target kept failing (circuit open)' });
        }
        // Spread the wake-ups, so a reopened circuit is not met by every waiting delivery at once.
        return await deferUntil(verdict.retryAt + Math.random() * SHARE_RETRY_MS * 4, 'circuit_open');
      }
      const outcome = await attempt(delivery);
      if (outcome.statusCode !== null) await circuits.answered(delivery.workspace_id, delivery.url);
      else if (await circuits.failed(delivery.workspace_id, delivery.url)) {
        webhookCircuitsOpened.inc();
        logger.warn(
          { webhookId: delivery.webhook_id, error: outcome.error, probe: verdict.probe },
          'webhook target keeps failing; circuit opened',
        );
      }
      await record(delivery, outcome);
    } finally {
      lease.release();
    }
  };

  type Delivery = {
    id: string;
    payload: unknown;
    attempts: number;
    created_at: Date;
    webhook_id: string;
    url: string;
    secret_key_id: string;
    secret_iv: Buffer;
    secret_tag: Buffer;
    secret_ciphertext: Buffer;
  };
  type Outcome = { statusCode: number | null; error: string | null };

  async function attempt(delivery: Delivery): Promise<Outcome> {
    const secrets = secretsOf(
      vault.open(
        {
          keyId: delivery.secret_key_id,
          iv: delivery.secret_iv,
          tag: delivery.secret_tag,
          ciphertext: delivery.secret_ciphertext,
        },
        delivery.webhook_id,
      ),
    );
    const body = JSON.stringify(delivery.payload);
    // Standard Webhooks: the id is the event's (the same on every retry), the timestamp this attempt's.
    const id = (delivery.payload as { id: string }).id;
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const res = await got.post(delivery.url, {
        body,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'connector-engine-webhooks/0.1',
          'webhook-id': id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signatureHeader(secrets, id, timestamp, body),
        },
        timeout: { request: config.WEBHOOK_TIMEOUT_MS },
        retry: { limit: 0 },
        throwHttpErrors: false,
        followRedirect: false,
        // The URL before the request (IP literals never reach a lookup), every resolved address at connect time.
        ...egress.gotOptions(),
      });
      return {
        statusCode: res.statusCode,
        error: res.statusCode >= 200 && res.statusCode < 300 ? null : `HTTP ${res.statusCode}`,
      };
    } catch (err) {
      return { statusCode: null, error: attemptError(err) };
    }
  }

  async function record(delivery: Delivery, { statusCode, error }: Outcome): Promise<void> {
    const attempts = delivery.attempts + 1;
    if (error === null) {
      await db
        .updateTable('webhook_deliveries')
        .set({
          status: 'succeeded',
          attempts,
          last_status_code: statusCode,
          last_error: null,
          next_attempt_at: null,
          delivered_at: sql`now()`,
        })
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
  }
}
