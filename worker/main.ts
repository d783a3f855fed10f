import { createLogger } from '../shared/logger.ts';
import { loadRuntime, onShutdownSignal } from '../shared/runtime.ts';
import { startWorker } from './worker-runner.ts';

/** `npm run worker`: one worker process. Run more of them to scale; they share the queue. */
const { config, vault } = loadRuntime();
const logger = createLogger('worker', config.LOG_LEVEL);
const worker = await startWorker(config, vault, logger);
onShutdownSignal(logger, () => worker.stop());
