import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { ensureBootstrapWorkspace } from '../shared/auth/workspaces.ts';
import type { Config } from '../shared/config.ts';
import { connectionPresenter } from '../shared/connections/connection-resource.ts';
import type { Vault } from '../shared/crypto/vault.ts';
import { createDb } from '../shared/db/database.ts';
import type { Logger } from '../shared/logger.ts';
import { observeQueueDepth } from '../shared/metrics.ts';
import { publicBaseUrl } from '../shared/public-url.ts';
import { ExecuteQueues } from '../shared/queue/execute-queues.ts';
import { INBOUND_EVENT_QUEUE, type InboundEventJobData } from '../shared/queue/inbound-event-job.ts';
import { createRedis, queuePrefix } from '../shared/queue/redis.ts';
import { WEBHOOK_QUEUE, type WebhookJobData } from '../shared/queue/webhook-delivery-job.ts';
import { openDatabaseChecked } from '../shared/runtime.ts';
import { ConnectionEvents } from '../shared/webhooks-out/connection-events.ts';
import { createApp } from './app.ts';
import { ReplyListener } from './execution/reply-listener.ts';
import { createHttpServer } from './http/http-server.ts';
import { startLookupCaches } from './lookup-caches.ts';

export interface RunningApi {
  port: number;
  stop(): Promise<void>;
}

/** Wires the api's dependencies and listens; used by api/main.ts and by in-process tests. */
export async function startApi(config: Config, vault: Vault, logger: Logger): Promise<RunningApi> {
  const db = await openDatabaseChecked(config, vault, logger, 20);
  // The audit-log lists may read a replica (DATABASE_READ_URL); everything else reads the primary.
  const readDb = config.DATABASE_READ_URL
    ? createDb(config.DATABASE_READ_URL, { max: 10, preparedStatements: config.DB_PREPARED_STATEMENTS })
    : db;
  if (config.BOOTSTRAP_WORKSPACE_KEY) {
    const { workspaceId, created } = await ensureBootstrapWorkspace(db, config.BOOTSTRAP_WORKSPACE_KEY);
    logger.info({ workspaceId, created }, 'bootstrap workspace ready');
  }

  const redis = createRedis(config, 'api');
  const queues = new ExecuteQueues(() => createRedis(config, 'api'), config.EXECUTE_QUEUE_SHARDS);
  for (const queue of queues.shards)
    queue.on('error', (err) => logger.warn({ err: err.message }, 'queue connection error'));
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const queueNamed = <T>(name: string) => {
    const connection = createRedis(config, 'api');
    return new Queue<T>(name, { connection, ...queuePrefix(connection, name) });
  };
  const webhookQueue = queueNamed<WebhookJobData>(WEBHOOK_QUEUE);
  webhookQueue.on('error', (err) => logger.warn({ err: err.message }, 'webhook queue connection error'));
  const events = new ConnectionEvents(db, webhookQueue, logger, connectionPresenter(publicBaseUrl(config)));
  const inboundQueue = queueNamed<InboundEventJobData>(INBOUND_EVENT_QUEUE);
  inboundQueue.on('error', (err) => logger.warn({ err: err.message }, 'inbound event queue connection error'));
  observeQueueDepth([...queues.shards, webhookQueue, inboundQueue]);
  const replies = new ReplyListener(createRedis(config, 'subscriber'), db);
  await replies.start();
  const lookups = await startLookupCaches(config, logger);

  const app = createApp({
    config,
    db,
    readDb,
    vault,
    redis,
    queues,
    replies,
    events,
    inboundQueue,
    lookups: lookups.caches,
    logger,
  });
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
      await lookups.stop();
      await replies.stop();
      await queues.close();
      await webhookQueue.close();
      await inboundQueue.close();
      redis.disconnect();
      if (readDb !== db) await readDb.destroy();
      await db.destroy();
    },
  };
}
