import { DelayedError, type Processor, Queue, Worker } from 'bullmq';
import type { Config } from '../shared/config.ts';
import { ConnectionBreaker } from '../shared/connections/connection-breaker.ts';
import { connectionPresenter } from '../shared/connections/connection-resource.ts';
import { CredentialRefresher } from '../shared/connections/credential-refresher.ts';
import type { Vault } from '../shared/crypto/vault.ts';
import { createConnectorLookup } from '../shared/custom-connectors/connector-lookup.ts';
import { createDb } from '../shared/db/database.ts';
import { egressGuardFromConfig } from '../shared/egress/egress-guard.ts';
import { purgeExpiredEventPayloads, queueUnfannedEvents } from '../shared/inbound/inbound-events.ts';
import { purgeExpired, retentionCutoff } from '../shared/invocations/retention.ts';
import { RunningShare } from '../shared/limiter/running-share.ts';
import { SlidingWindowLimiter } from '../shared/limiter/sliding-window-limiter.ts';
import type { Logger } from '../shared/logger.ts';
import { observeWebhookCircuits } from '../shared/metrics.ts';
import { publicBaseUrl } from '../shared/public-url.ts';
import { EXECUTE_QUEUE, type ExecuteJobData } from '../shared/queue/execute-job.ts';
import { ExecuteQueues, executeShard } from '../shared/queue/execute-queues.ts';
import { INBOUND_EVENT_QUEUE, type InboundEventJobData } from '../shared/queue/inbound-event-job.ts';
import { HEALTH_CHECK_QUEUE, type HealthCheckJobData, MAINTENANCE_QUEUE } from '../shared/queue/maintenance-jobs.ts';
import { createRedis, queuePrefix } from '../shared/queue/redis.ts';
import { stalledJobRecovery } from '../shared/queue/stalled-job-recovery.ts';
import { WEBHOOK_QUEUE, type WebhookJobData } from '../shared/queue/webhook-delivery-job.ts';
import { openDatabaseChecked } from '../shared/runtime.ts';
import { ConnectionEvents } from '../shared/webhooks-out/connection-events.ts';
import { createExecuteProcessor, REPEATABLE_CLAIMS_APPLICATION } from './execute/execute-processor.ts';
import { RetryScheduled } from './execute/retry-policy.ts';
import { withSharedConcurrency } from './execute/shared-concurrency.ts';
import { createHealthCheckProcessor } from './health-check-processor.ts';
import { createInboundFanOutProcessor } from './inbound/fan-out-processor.ts';
import { maintainAuditLog, scheduleDueHealthChecks } from './maintenance.ts';
import { startMetricsServer } from './metrics-server.ts';
import { sweepUnfinishedInvocations } from './unfinished-sweeper.ts';
import { WebhookCircuits } from './webhooks-out/circuit.ts';
import { createWebhookDeliveryProcessor } from './webhooks-out/delivery-processor.ts';

export interface RunningWorker {
  /** Where /metrics is served, or null when the port was taken. */
  metricsPort: number | null;
  /** Stops taking jobs, waits for the active ones, then releases connections. */
  stop(): Promise<void>;
}

/**
 * One worker process: the execute consumer (the hot path), plus small consumers for webhook
 * deliveries, health checks and the maintenance tick. Used by worker/main.ts and in-process tests.
 */
export async function startWorker(config: Config, vault: Vault, logger: Logger): Promise<RunningWorker> {
  const db = await openDatabaseChecked(config, vault, logger, Math.min(config.WORKER_CONCURRENCY + 4, 24));
  const jobWrites = createDb(config.DATABASE_URL, {
    max: 2,
    preparedStatements: config.DB_PREPARED_STATEMENTS,
    indexLookupsOnly: true,
  });
  // The claims of calls that are safe to run twice: not flushed before the call (docs/decisions/0020).
  const repeatableClaimWrites = createDb(config.DATABASE_URL, {
    max: 1,
    preparedStatements: config.DB_PREPARED_STATEMENTS,
    indexLookupsOnly: true,
    asyncCommit: true,
    applicationName: REPEATABLE_CLAIMS_APPLICATION,
  });
  const publisher = createRedis(config, 'worker');
  publisher.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const limiter = new SlidingWindowLimiter(publisher);
  const share = new RunningShare(publisher, {
    name: EXECUTE_QUEUE,
    concurrency: config.WORKER_CONCURRENCY,
    reserve: config.EXECUTION_RESERVE_SLOTS,
  });
  // Webhook deliveries: the same fair shares, per workspace, over the delivery slots.
  const deliveryShare = new RunningShare(publisher, { name: WEBHOOK_QUEUE, concurrency: config.WEBHOOK_CONCURRENCY });
  await Promise.all([share.start(), deliveryShare.start()]);
  const queueNamed = <T>(name: string) =>
    new Queue<T>(name, { connection: publisher, ...queuePrefix(publisher, name) });
  const webhookQueue = queueNamed<WebhookJobData>(WEBHOOK_QUEUE);
  const healthQueue = queueNamed<HealthCheckJobData>(HEALTH_CHECK_QUEUE);
  const maintenanceQueue = queueNamed(MAINTENANCE_QUEUE);
  const executeQueues = new ExecuteQueues(() => publisher, config.EXECUTE_QUEUE_SHARDS);
  const inboundQueue = queueNamed<InboundEventJobData>(INBOUND_EVENT_QUEUE);
  const events = new ConnectionEvents(db, webhookQueue, logger, connectionPresenter(publicBaseUrl(config)));
  const breaker = new ConnectionBreaker(db, events, logger);
  const refresher = new CredentialRefresher(db, vault, publisher, config, logger, breaker);
  const connectors = createConnectorLookup(db, vault, config);

  // Webhook deliveries: one egress guard, a share of the slots per workspace, a circuit per target.
  const egress = egressGuardFromConfig(config);
  const slotHoldMs = config.WEBHOOK_TIMEOUT_MS + 5_000;
  const circuits = new WebhookCircuits(publisher, {
    failures: config.WEBHOOK_CIRCUIT_FAILURES,
    cooloffMs: config.WEBHOOK_CIRCUIT_COOLOFF_MS,
    probeHoldMs: slotHoldMs,
  });
  observeWebhookCircuits(() => circuits.openCount());

  const settings = {
    backoffStrategy: (_attempts: number, _type?: string, err?: Error) =>
      err instanceof RetryScheduled ? err.delayMs : 1_000,
  };
  const consumer = <T>(queue: string, processor: Processor<T>, concurrency: number, tag?: string) => {
    const connection = createRedis(config, 'worker');
    const worker = new Worker<T>(queue, processor, {
      connection,
      ...queuePrefix(connection, queue, tag),
      concurrency,
      ...stalledJobRecovery,
      settings,
    });
    worker.on('failed', (job, err) => {
      if (!(err instanceof RetryScheduled) && !(err instanceof DelayedError))
        logger.error({ queue, jobId: job?.id, err: err.message }, 'job failed');
    });
    worker.on('error', (err) => logger.error({ queue, err: err.message }, 'worker error'));
    return worker;
  };

  // Every worker consumes every execute shard; with several, they share the process's concurrency.
  const executeProcessor = createExecuteProcessor({
    db,
    jobWrites,
    repeatableClaimWrites,
    config,
    publisher,
    limiter,
    share,
    refresher,
    breaker,
    logger,
    connectors,
  });
  const shardProcessor =
    executeQueues.shards.length === 1
      ? executeProcessor
      : withSharedConcurrency(config.WORKER_CONCURRENCY, executeProcessor);
  const workers = [
    ...executeQueues.shards.map((_, i) => {
      const shard = executeShard(i, executeQueues.shards.length);
      return consumer<ExecuteJobData>(shard.name, shardProcessor, config.WORKER_CONCURRENCY, shard.tag);
    }),
    consumer<WebhookJobData>(
      WEBHOOK_QUEUE,
      createWebhookDeliveryProcessor({ db, vault, config, logger, egress, share: deliveryShare, circuits }),
      config.WEBHOOK_CONCURRENCY,
    ),
    // Inbound events → deliveries: a few database statements each, so a few at once per worker.
    consumer<InboundEventJobData>(
      INBOUND_EVENT_QUEUE,
      createInboundFanOutProcessor({ db, deliveries: webhookQueue }),
      4,
    ),
    consumer<HealthCheckJobData>(
      HEALTH_CHECK_QUEUE,
      createHealthCheckProcessor({ db, config, refresher, breaker, logger, connectors }),
      2,
    ),
    consumer(
      MAINTENANCE_QUEUE,
      async () => {
        await scheduleDueHealthChecks({ db, config, limiter, healthQueue, logger, connectors });
        await sweepUnfinishedInvocations(db, executeQueues, logger, config.UNFINISHED_SWEEP_AFTER_MS);
        const cutoff = retentionCutoff(config.INVOCATION_RETENTION_DAYS);
        const purged = await purgeExpired(db, cutoff, 1000);
        if (purged.outputsCleared || purged.artifactsDeleted)
          logger.info(purged, 'retention: old outputs and artifacts removed');
        const eventPayloads = await purgeExpiredEventPayloads(db, cutoff, 1000);
        if (eventPayloads) logger.info({ eventPayloads }, 'retention: old inbound event payloads removed');
        const requeued = await queueUnfannedEvents(db, inboundQueue);
        if (requeued) logger.warn({ requeued }, 'inbound events not fanned out after a minute: queued again');
        // Last: its DDL may give up on a lock (lock_timeout) and is simply tried again next tick.
        await maintainAuditLog({ db, config, logger }).catch((err: Error) =>
          logger.warn({ err: err.message }, 'audit log partition maintenance postponed to the next tick'),
        );
      },
      1,
    ),
  ];
  // One tick per period for the whole tier, however many workers run (BullMQ job schedulers are unique by id).
  await maintenanceQueue.upsertJobScheduler(
    'maintenance-tick',
    { every: config.MAINTENANCE_TICK_MS },
    { name: 'tick', opts: { removeOnComplete: 100, removeOnFail: 100 } },
  );
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const metricsServer = await startMetricsServer(config.WORKER_METRICS_PORT, logger);
  logger.info({ concurrency: config.WORKER_CONCURRENCY, metricsPort: metricsServer.port }, 'worker ready');

  return {
    metricsPort: metricsServer.port,
    async stop() {
      // Drain: stop taking jobs and let active ones finish, bounded by the upstream timeout. Jobs
      // still running after that are left to the stalled-job check of the other workers.
      const drained = Promise.all(workers.map((w) => w.close()));
      const limit = new Promise<'timeout'>((r) =>
        setTimeout(() => r('timeout'), config.UPSTREAM_TIMEOUT_MS + 5_000).unref(),
      );
      if ((await Promise.race([drained, limit])) === 'timeout') {
        logger.warn('drain timed out; closing with jobs still active');
        await Promise.all(workers.map((w) => w.close(true)));
      }
      await Promise.all([share.stop(), deliveryShare.stop()]);
      await metricsServer.stop();
      await Promise.all([
        webhookQueue.close(),
        inboundQueue.close(),
        healthQueue.close(),
        maintenanceQueue.close(),
        executeQueues.close(),
      ]);
      await publisher.quit().catch(() => {});
      await Promise.all([db.destroy(), jobWrites.destroy(), repeatableClaimWrites.destroy()]);
    },
  };
}
