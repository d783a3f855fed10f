import { createLogger } from '../shared/logger.ts';
import { loadRuntime, onShutdownSignal } from '../shared/runtime.ts';
import { startApi } from './server.ts';

/** `npm run api`: the HTTP tier. Stateless; run as many as you like behind a load balancer. */
const { config, vault } = loadRuntime();
const logger = createLogger('api', config.LOG_LEVEL);
const api = await startApi(config, vault, logger);
onShutdownSignal(logger, () => api.stop());
