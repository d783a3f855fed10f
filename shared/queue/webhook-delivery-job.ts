/** Webhook deliveries are jobs of their own queue, so a slow receiver never holds up executions. */
export const WEBHOOK_QUEUE = 'webhook-deliveries';

export interface WebhookJobData {
  deliveryId: string;
}

export const webhookJobOptions = {
  // The delivery row decides when to give up (a day); BullMQ only needs enough attempts for that.
  attempts: 100,
  backoff: { type: 'engine' },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 24 * 3600 },
} as const;
