import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { distFile } from '../../scripts/build.mjs';
import {
  activeTraceId,
  errorTypeOf,
  inSpan,
  startSpan,
  startTracing,
  traceLogFields,
  tracingOn,
  tracingWanted,
} from '../../shared/tracing/tracing.ts';

/** Tracing is off by default and free when off (docs/decisions/0014-tracing.md); tests/e2e/tracing.test.ts runs it on. */
describe('tracing: when it is on', () => {
  it.each([
    [{}, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, true],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }, false],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'console,otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, false],
    [{ OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, false],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'TRUE' }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'false' }, true],
  ])('%j → %s', (env, on) => {
    expect(tracingWanted(env)).toBe(on);
  });

  it('without OTEL_* variables, starts nothing: no spans, no trace ids, functions run as they are', async () => {
    const tracing = await startTracing('api', {});
    expect(tracingOn()).toBe(false);
    expect(startSpan('server', 'POST /v1/executions')).toBeUndefined();
    expect(await inSpan('client', 'POST', {}, async (span) => span.traceparent() ?? 'untraced')).toBe('untraced');
    expect(activeTraceId()).toBeNull();
    expect(traceLogFields()).toEqual({});
    await tracing.shutdown();
  });

  it('names errors by code, status or class, never by message', () => {
    expect(errorTypeOf(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1'), { code: 'ECONNREFUSED' }))).toBe(
      'ECONNREFUSED',
    );
    expect(errorTypeOf(Object.assign(new Error('key re_live_secret rejected'), { status: 403 }))).toBe('403');
    expect(errorTypeOf(new TypeError('secret in here'))).toBe('TypeError');
    expect(errorTypeOf('a string')).toBe('Error');
  });

  it('the built api and worker load the OpenTelemetry SDK only dynamically, when tracing is on', () => {
    for (const entry of ['api/main.ts', 'worker/main.ts']) {
      const bundle = fs.readFileSync(distFile(entry), 'utf8');
      // The API package too (7 MB of memory): a process that does not trace loads none of it.
      for (const pkg of [
        'api',
        'sdk-trace-base',
        'exporter-trace-otlp-http',
        'context-async-hooks',
        'resources',
        'core',
      ]) {
        expect(bundle, `${entry} imports @opentelemetry/${pkg} statically`).not.toMatch(
          new RegExp(`^import[^;]*from\\s*["']@opentelemetry/${pkg}["']`, 'm'),
        );
        expect(bundle).toContain(`import("@opentelemetry/${pkg}")`);
      }
      expect(bundle).not.toMatch(/^import[^;]*from\s*["']@opentelemetry\/semantic-conventions["']/m);
    }
  });
});
