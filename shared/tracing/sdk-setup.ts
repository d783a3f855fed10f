import type { Logger } from '../logger.ts';
import type { Tracing } from './tracing.ts';

/** What the OTLP/HTTP exporter of this package speaks; `http/protobuf` and `grpc` need other exporters. */
const SUPPORTED_PROTOCOL = 'http/json';

/**
 * The OpenTelemetry SDK, set up from the standard variables. Loaded only when tracing is on
 * (tracing.ts imports this module dynamically, and this module imports the SDK packages dynamically,
 * so a bundle of the api or worker loads none of them while tracing is off).
 *
 * The SDK reads its own variables: `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`, `_HEADERS`, `_TIMEOUT`,
 * `_COMPRESSION` (exporter), `OTEL_TRACES_SAMPLER[_ARG]` (sampler, default parent-based always-on),
 * `OTEL_BSP_*` (batching), `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` (resource).
 */
export async function startSdk(defaultServiceName: string, env: NodeJS.ProcessEnv): Promise<Tracing> {
  // The API too: this module is bundled into the api and worker, so a static import would load it there.
  const [
    { context, DiagLogLevel, diag, propagation, trace },
    sdk,
    { OTLPTraceExporter },
    { AsyncLocalStorageContextManager },
    { W3CTraceContextPropagator },
    resources,
  ] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
  ]);
  // Later resources win: the default name, then OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': defaultServiceName }))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new sdk.BasicTracerProvider({
    resource,
    spanProcessors: [new sdk.BatchSpanProcessor(new OTLPTraceExporter())],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);

  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL)?.trim();
  return {
    attach(logger: Logger) {
      // Export failures and bad OTEL_* values are the SDK's to report; they reach the process's log.
      diag.setLogger(
        {
          error: (message) => logger.warn({ source: 'opentelemetry' }, message),
          warn: (message) => logger.warn({ source: 'opentelemetry' }, message),
          info: () => {},
          debug: () => {},
          verbose: () => {},
        },
        { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
      );
      if (protocol && protocol !== SUPPORTED_PROTOCOL)
        logger.warn(
          { protocol },
          `tracing: OTEL_EXPORTER_OTLP_PROTOCOL ${protocol} is not supported; exporting OTLP as ${SUPPORTED_PROTOCOL}`,
        );
      // The endpoint's origin only: a URL may carry credentials, and the headers (OTEL_EXPORTER_OTLP_HEADERS) usually do.
      logger.info(
        {
          serviceName: resource.attributes['service.name'],
          endpoint: endpointOrigin(env),
          sampler: env.OTEL_TRACES_SAMPLER || 'parentbased_always_on',
        },
        'tracing on: exporting OTLP traces',
      );
    },
    async shutdown() {
      await provider.shutdown().catch(() => {});
    },
  };
}

function endpointOrigin(env: NodeJS.ProcessEnv): string {
  const raw = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || 'http://localhost:4318';
  try {
    return new URL(raw).origin;
  } catch {
    return '(invalid URL)';
  }
}
