import type { Server } from 'node:http';
import { Queue } from 'bullmq';
import { ensureBootstrapWorkspace } from '../shared/auth/workspaces.ts';
import { createLogger } from '../shared/logger.ts';
import { EXECUTE_QUEUE, type ExecuteJobData } from '../shared/queue/execute-job.ts';
import { createRedis } from '../shared/queue/redis.ts';
import { loadRuntime, onShutdownSignal, openDatabaseChecked } from '../shared/runtime.ts';
import { createApp } from './app.ts';
import { ReplyListener } from './execution/reply-listener.ts';

/** `npm run api`: the HTTP tier. Stateless; run as many as you like behind a load balancer. */
const { config, vault } = loadRuntime();
const logger = createLogger('api', config.LOG_LEVEL);
const db = await openDatabaseChecked(config, vault, logger, 20);

if (config.BOOTSTRAP_WORKSPACE_KEY) {
  const { workspaceId, created } = await ensureBootstrapWorkspace(db, config.BOOTSTRAP_WORKSPACE_KEY);
  logger.info({ workspaceId, created }, 'bootstrap workspace ready');
}

const redis = createRedis(config.REDIS_URL, 'api');
const queue = new Queue<ExecuteJobData>(EXECUTE_QUEUE, { connection: createRedis(config.REDIS_URL, 'api') });
queue.on('error', (err) => logger.warn({ err: err.message }, 'queue connection error'));
redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
const replies = new ReplyListener(createRedis(config.REDIS_URL, 'subscriber'), db);
await replies.start();

const app = createApp({ config, db, vault, redis, queue, replies, logger });
const server: Server = app.listen(config.PORT, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  logger.info({ port }, `api listening on http://127.0.0.1:${port}`);
});
server.keepAliveTimeout = 65_000;

onShutdownSignal(logger, async () => {
  // Stop accepting connections, let in-flight requests finish, then release resources.
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await replies.stop();
  await queue.close();
  redis.disconnect();
  await db.destroy();
});
