import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { ensureBootstrapWorkspace } from '../shared/auth/workspaces.ts';
import type { Config } from '../shared/config.ts';
import { connectionPresenter } from '../shared/connections/connection-resource.ts';
import type { Vault } from '../shared/crypto/vault.ts';
import type { Logger } from '../shared/logger.ts';
import { observeQueueDepth } from '../shared/metrics.ts';
import { publicBaseUrl } from '../shared/public-url.ts';
import { EXECUTE_QUEUE, type ExecuteJobData } from '../shared/queue/execute-job.ts';
import { INBOUND_EVENT_QUEUE, type InboundEventJobData } from '../shared/queue/inbound-event-job.ts';
import { createRedis } from '../shared/queue/redis.ts';
import { WEBHOOK_QUEUE, type WebhookJobData } from '../shared/queue/webhook-delivery-job.ts';
import { openDatabaseChecked } from '../shared/runtime.ts';
import { ConnectionEvents } from '../shared/webhooks-out/connection-events.ts';
import { createApp } from './app.ts';
import { ReplyListener } from './execution/reply-listener.ts';
import { createHttpServer } from './http/http-server.ts';

export interface RunningApi {
  port: number;
  stop(): Promise<void>;
}

/** Wires the api's dependencies and listens; used by api/main.ts and by in-process tests. */
export async function startApi(config: Config, vault: Vault, logger: Logger): Promise<RunningApi> {
  const db = await openDatabaseChecked(config, vault, logger, 20);
  if (config.BOOTSTRAP_WORKSPACE_KEY) {
    const { workspaceId, created } = await ensureBootstrapWorkspace(db, config.BOOTSTRAP_WORKSPACE_KEY);
    logger.info({ workspaceId, created }, 'bootstrap workspace ready');
  }

  const redis = createRedis(config.REDIS_URL, 'api');
  const queue = new Queue<ExecuteJobData>(EXECUTE_QUEUE, { connection: createRedis(config.REDIS_URL, 'api') });
  queue.on('error', (err) => logger.warn({ err: err.message }, 'queue connection error'));
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const webhookQueue = new Queue<WebhookJobData>(WEBHOOK_QUEUE, { connection: createRedis(config.REDIS_URL, 'api') });
  webhookQueue.on('error', (err) => logger.warn({ err: err.message }, 'webhook queue connection error'));
  const events = new ConnectionEvents(db, webhookQueue, logger, connectionPresenter(publicBaseUrl(config)));
  const inboundQueue = new Queue<InboundEventJobData>(INBOUND_EVENT_QUEUE, {
    connection: createRedis(config.REDIS_URL, 'api'),
  });
  inboundQueue.on('error', (err) => logger.warn({ err: err.message }, 'inbound event queue connection error'));
  observeQueueDepth([queue, webhookQueue, inboundQueue]);
  const replies = new ReplyListener(createRedis(config.REDIS_URL, 'subscriber'), db);
  await replies.start();

  const app = createApp({ config, db, vault, redis, queue, replies, events, inboundQueue, logger });
  const server = createHttpServer(app, config).listen(config.PORT);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const port = (server.address() as AddressInfo).port;
  logger.info({ port }, `api listening on http://127.0.0.1:${port}`);

  return {
    port,
    async stop() {
      // Stop accepting connections, let in-flight requests finish, then release resources.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await replies.stop();
      await queue.close();
      await webhookQueue.close();
      await inboundQueue.close();
      redis.disconnect();
      await db.destroy();
    },
  };
}
