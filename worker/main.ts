import { createLogger } from '../shared/logger.ts';
import { loadRuntime, onShutdownSignal } from '../shared/runtime.ts';
import { startTracing } from '../shared/tracing/tracing.ts';
import { startWorker } from './worker-runner.ts';

/** `npm run worker`: one worker process. Run more of them to scale; they share the queue. */
const { config, vault } = loadRuntime();
// Before the logger: its lines carry trace ids only when tracing is on (OTEL_* variables; off by default).
const tracing = await startTracing('worker');
const logger = createLogger('worker', config.LOG_LEVEL);
tracing.attach(logger);
const worker = await startWorker(config, vault, logger);
onShutdownSignal(logger, () => worker.stop().finally(() => tracing.shutdown()));
