import { createLogger } from '../shared/logger.ts';
import { loadRuntime, onShutdownSignal } from '../shared/runtime.ts';
import { startTracing } from '../shared/tracing/tracing.ts';
import { startApi } from './server.ts';

/** `npm run api`: the HTTP tier. Stateless; run as many as you like behind a load balancer. */
const { config, vault } = loadRuntime();
// Before the logger: its lines carry trace ids only when tracing is on (OTEL_* variables; off by default).
const tracing = await startTracing('api');
const logger = createLogger('api', config.LOG_LEVEL);
tracing.attach(logger);
const api = await startApi(config, vault, logger);
onShutdownSignal(logger, () => api.stop().finally(() => tracing.shutdown()));
