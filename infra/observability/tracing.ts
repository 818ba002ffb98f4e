import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/**
 * OpenTelemetry tracing (issue 18, ADR 0040): a request to the API, the workflow it starts, that
 * workflow's activities and the agent task they dispatch share one trace. Spans go to the OTLP/HTTP
 * collector at OTEL_EXPORTER_OTLP_ENDPOINT; when it is unset nothing is set up and nothing is sent
 * (the OpenTelemetry API stays a no-op).
 */
export interface Tracing {
  resource: Resource;
  spanProcessor: SpanProcessor;
  /** Flushes what is buffered and stops exporting. */
  shutdown(): Promise<void>;
}

export function startTracing(
  service: 'drydock-api' | 'drydock-worker',
  env: { OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined },
): Tracing | undefined {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return undefined;
  const resource = new Resource({ 'service.name': service });
  const exporter = new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` });
  const spanProcessor = new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // AsyncLocalStorage context and W3C trace-context propagation, process-wide.
  provider.register();
  const unregister =
    service === 'drydock-api'
      ? registerInstrumentations({
          tracerProvider: provider,
          instrumentations: [
            new HttpInstrumentation({
              // Incoming requests only: outgoing HTTP is the OTLP exporter's own.
              disableOutgoingRequestInstrumentation: true,
              // Scrapes and health checks are not worth a trace each.
              ignoreIncomingRequestHook: (req) => /^\/(healthz|metrics)(\?|$)/.test(req.url ?? ''),
            }),
          ],
        })
      : () => undefined;
  // The instrumentation patches `http` when it is next required: do it now, before any server.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('node:http');
  return {
    resource,
    spanProcessor,
    async shutdown() {
      unregister();
      await provider.shutdown();
    },
  };
}

/** Trace and span ids of the active span, for log lines (pino `mixin`); empty when none. */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
